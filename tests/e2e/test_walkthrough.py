"""The whole policy-gated lifecycle, as a user walks through it, on the real engine.

deploy → promote canary → chaos error 0.5 → traffic → status shows the canary failing →
promote stable blocked (exit 3, manifest unchanged) → recover → clean traffic for a
window → promote stable succeeds → audit --verify passes and the report lists the violation.

The OPA image cannot be pulled on these machines, so the sidecar path runs with the
test stand-in image (tests/opa_standin: OPA's documented Data API served from the same
policy files by the embedded engine). It is labelled and named as a stand-in, never as OPA.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests
import yaml

from tests.conftest import REPO, run_inv
from tests.integration.stack import Traffic, container_id_and_start, docker, make_project, wait_for
from tests.opa_standin.build import prepare_context

PREFIX = "sdwalk"
PORT = 19080
STANDIN = "swiftdeploy-test/opa-standin:local"
BASE_IMAGE = "swiftdeploy/python-base:bookworm"
WINDOW = 4


@pytest.fixture(scope="module")
def standin_image(tmp_path_factory):
    context = prepare_context(tmp_path_factory.mktemp("standin"))
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", STANDIN, str(context)],
                   check=True, capture_output=True, text=True, timeout=600)
    return STANDIN


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, standin_image):
    path = make_project(tmp_path_factory.mktemp("walk"), prefix=PREFIX, base_port=PORT,
                        opa={"image": standin_image, "engine": "sidecar"})
    canary = yaml.safe_load(path.read_text())
    assert canary["policy_limits"]["canary"]["evaluation_window_seconds"] == WINDOW
    yield path
    run_inv(path, "teardown", "--clean")


def public(path: str) -> str:
    return f"http://127.0.0.1:{PORT}{path}"


def ok(result: subprocess.CompletedProcess, code: int = 0) -> subprocess.CompletedProcess:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_walkthrough(manifest):
    history = manifest.parent / "history.jsonl"

    # 1. deploy with the sidecar engine; OPA answers on loopback only
    out = ok(run_inv(manifest, "deploy")).stdout
    assert "sidecar" in out and "infrastructure: allow (sidecar)" in out
    opa_ports = docker("port", f"{PREFIX}-opa").splitlines()
    assert opa_ports and all("127.0.0.1:" in line for line in opa_ports), opa_ports

    # 2. canary
    ok(run_inv(manifest, "promote", "--mode", "canary"))
    assert requests.get(public("/"), timeout=5).headers.get("X-Mode") == "canary"

    # 3-4. chaos: half the requests fail; send bounded traffic
    chaos = ok(run_inv(manifest, "chaos", "--mode", "error", "--rate", "0.5")).stdout
    assert "chaos activated" in chaos
    codes = [requests.get(public("/"), timeout=5).status_code for _ in range(80)]
    assert 10 < codes.count(500) < 70, codes

    # 5. the live status sees the canary failing
    frame = json.loads(ok(run_inv(manifest, "status", "--json")).stdout)
    assert frame["mode"] == "canary" and frame["chaos"] == "error"
    assert frame["error_rate"] > 0.1 and frame["requests"] >= 80
    canary = next(p for p in frame["policies"] if p["domain"] == "canary")
    assert canary["allow"] is False and any("error rate" in r for r in canary["reasons"])

    # 6. promotion is blocked: exit 3, manifest bytes and app container unchanged
    manifest_bytes = manifest.read_bytes()
    app_before = container_id_and_start(f"{PREFIX}-app")
    with Traffic(public("/")):
        blocked = run_inv(manifest, "promote", "--mode", "stable")
    ok(blocked, 3)
    assert "canary policy denied" in blocked.stdout
    assert manifest.read_bytes() == manifest_bytes
    assert container_id_and_start(f"{PREFIX}-app") == app_before

    # 7-8. recover, let clean traffic flow for more than a window, promote without a restart
    ok(run_inv(manifest, "chaos", "--mode", "recover"))
    with Traffic(public("/")):
        time.sleep(WINDOW * 1.5 + 1)
        # The gate judges the recent window: the canary that failed is still the same container.
        assert container_id_and_start(f"{PREFIX}-app") == app_before
        promoted = run_inv(manifest, "promote", "--mode", "stable")
    ok(promoted)
    assert "canary: allow (sidecar)" in promoted.stdout
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    wait_for(public("/healthz"), lambda r: r.json().get("mode") == "stable")

    # 9. the audit trail is intact and the report lists the violation
    ok(run_inv(manifest, "audit", "--verify"))
    ok(run_inv(manifest, "audit"))
    report = (manifest.parent / "audit_report.md").read_text()
    assert "canary" in report and "error rate" in report
    events = [json.loads(line)["event_type"] for line in history.read_text().splitlines()]
    for expected in ("deploy", "mode_change", "chaos", "status_scrape", "policy_violation", "policy_check"):
        assert expected in events, events
