"""The policy gates as a user meets them: `inv opa-check` and `inv deploy` exit codes, audit events,
and nothing started when a gate says no.

The sidecar cases talk to a local HTTP server that answers as OPA's REST API documents
(`GET /health` 200 {}, `POST /v1/data/<path>` 200 {"result": ...}) and evaluates the real
policies with the embedded engine; failures are injected per test.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import SWIFTDEPLOY, REPO, run_cli
from tests.integration.stack import docker, make_project

OPA_PORT = 23181


class FakeOpa(BaseHTTPRequestHandler):
    mode = "real"  # real | status500 | no_result | not_json

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, b"{}") if self.path == "/health" else self._answer(404, b"{}")

    def do_POST(self) -> None:  # noqa: N802
        from swiftlib.policy import EmbeddedEngine

        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        domain = self.path.split("/")[4]
        if self.mode == "status500":
            return self._answer(500, b'{"code":"internal_error","message":"boom"}')
        if self.mode == "no_result":
            return self._answer(200, b"{}")
        if self.mode == "not_json":
            return self._answer(200, b"<html>proxy error</html>")
        decision = EmbeddedEngine(REPO / "policies").decide(domain, payload["input"])
        self._answer(200, json.dumps({"result": decision.to_dict()}).encode())


@pytest.fixture
def fake_opa():
    server = ThreadingHTTPServer(("127.0.0.1", OPA_PORT), FakeOpa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeOpa
    server.shutdown()
    server.server_close()
    FakeOpa.mode = "real"


def sidecar_project(tmp_path, **limits):
    infra = {"min_disk_free_gb": 0.5, "max_cpu_load": 1000.0, **limits}
    return make_project(tmp_path, prefix="sdgate", base_port=23080,
                        opa={"engine": "sidecar", "port": OPA_PORT}, policy_limits={"infrastructure": infra})


def events(manifest) -> list[dict]:
    path = manifest.parent / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_opa_check_allows_through_the_sidecar(tmp_path, fake_opa):
    manifest = sidecar_project(tmp_path)
    result = run_cli(manifest, "opa-check", "--context", "pre_deploy", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["results"][0]["data"]["allow"] is True and doc["exit_code"] == 0
    assert events(manifest)[-1]["event_type"] == "policy_check"


def test_opa_check_denies_with_exit_3(tmp_path, fake_opa):
    manifest = sidecar_project(tmp_path, min_disk_free_gb=1e6)
    result = run_cli(manifest, "opa-check")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "is below the minimum" in result.stdout
    assert events(manifest)[-1]["event_type"] == "policy_violation"


@pytest.mark.parametrize("mode, expected", [
    ("status500", "500"),
    ("no_result", "no decision"),
    ("not_json", "JSON"),
])
def test_opa_check_fails_closed_on_bad_answers(tmp_path, fake_opa, mode, expected):
    fake_opa.mode = mode
    manifest = sidecar_project(tmp_path)
    result = run_cli(manifest, "opa-check")
    assert result.returncode == 4, result.stdout + result.stderr
    assert expected in result.stdout
    last = events(manifest)[-1]
    assert last["event_type"] == "policy_engine_failure" and last["data"]["engine"] == "sidecar"


def test_opa_check_fails_closed_when_nothing_listens(tmp_path):
    manifest = sidecar_project(tmp_path)
    result = run_cli(manifest, "opa-check")
    assert result.returncode == 4, result.stdout + result.stderr
    assert events(manifest)[-1]["event_type"] == "policy_engine_failure"


@pytest.mark.docker
def test_denied_deploy_starts_nothing(tmp_path):
    manifest = make_project(tmp_path, prefix="sddeny", base_port=23280,
                            policy_limits={"infrastructure": {"min_disk_free_gb": 1e6, "max_cpu_load": 1000.0}})
    result = run_cli(manifest, "deploy")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "infrastructure policy denied" in result.stdout
    assert docker("ps", "-a", "--filter", "label=com.docker.compose.project=sddeny", "--format", "{{.Names}}") == ""
    kinds = [e["event_type"] for e in events(manifest)]
    assert "policy_violation" in kinds and "up" not in kinds and "deploy" not in kinds


def test_invalid_manifest_renders_and_starts_nothing(tmp_path):
    manifest = make_project(tmp_path, prefix="sdbad", base_port=23380)
    manifest.write_text(manifest.read_text().replace("port: 23380", 'port: "80a"'))
    for task in ("render", "deploy", "validate"):
        result = run_cli(manifest, task)
        assert result.returncode == 2, (task, result.stdout, result.stderr)
        assert 'nginx.port: expected an integer 1-65535, got "80a"' in result.stdout + result.stderr
    assert not (tmp_path / "docker-compose.yml").exists() and not (tmp_path / "nginx.conf").exists()


def test_audit_verify_names_the_tampered_line(tmp_path, fake_opa):
    manifest = sidecar_project(tmp_path)
    for _ in range(3):
        assert run_cli(manifest, "opa-check").returncode == 0
    assert run_cli(manifest, "audit", "--verify").returncode == 0
    history = manifest.parent / "history.jsonl"
    lines = history.read_text().splitlines()
    lines[1] = lines[1].replace('"allow":true', '"allow":false')
    history.write_text("\n".join(lines) + "\n")
    result = run_cli(manifest, "audit", "--verify")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 2" in result.stdout


def test_embedded_engine_names_a_missing_system_library(tmp_path):
    """A minimal Debian lacks libatomic1, which regopy loads: the gate fails closed and says how to fix it.

    The library is hidden for real in a private mount namespace (root, as in CI).
    """
    import subprocess
    import sys

    found = subprocess.run(["sh", "-c", "ldconfig -p | grep -m1 'libatomic.so.1 ' | sed 's/.*=> //'"],
                           capture_output=True, text=True).stdout.strip()
    assert found, "libatomic1 must be installed here (inv bootstrap installs it)"
    manifest = make_project(tmp_path, prefix="sdlib", base_port=23480)
    argv = [*SWIFTDEPLOY, "opa-check", "--manifest", str(manifest)]
    hide = f"mount --bind /dev/null {found} && exec \"$@\""
    result = subprocess.run(["unshare", "-m", "sh", "-c", hide, "sh", *argv],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "libatomic" in result.stdout and "apt-get install libatomic1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    last = events(manifest)[-1]
    assert last["event_type"] == "policy_engine_failure" and last["data"]["reason"] == "unavailable"


def test_what_if_changes_nothing_and_is_marked_as_such(tmp_path):
    manifest = make_project(tmp_path, prefix="sdwhatif", base_port=24580)
    none_yet = run_cli(manifest, "opa-check", "--set", "stats.disk_free_gb=0.1")
    assert none_yet.returncode == 2 and "run `inv opa-check --context pre_deploy` once" in none_yet.stderr + none_yet.stdout
    assert "--set does not give stats.cpu_load, stats.cpu_count, stats.mem_available_mb" in none_yet.stdout
    # Values that make a whole input (with the manifest's limits) are a question answered as asked.
    given = run_cli(manifest, "opa-check", "--context", "pre_promote", "--set", "metrics.error_rate=0.5",
                    "--set", "metrics.requests=100", "--set", "metrics.p99_latency_ms=5",
                    "--set", "metrics.window_seconds=30")
    assert given.returncode == 3 and "what-if canary policy would deny" in given.stdout, given.stdout + given.stderr
    assert "error rate 50.00%" in given.stdout
    assert events(manifest)[-1]["data"]["input"]["limits"]["max_error_rate"] == 0.01
    assert run_cli(manifest, "opa-check").returncode == 0
    before = [e["event_type"] for e in events(manifest)]
    result = run_cli(manifest, "opa-check", "--set", "stats.disk_free_gb=0.1", "--set", "stats.cpu_load=2", "--explain")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "input sent to the engine:" in result.stdout and '"disk_free_gb": 0.1' in result.stdout
    assert "stats.disk_free_gb = 0.1   (limits.min_disk_free_gb = 0.5)" in result.stdout
    assert "failed conditions:" in result.stdout
    after = events(manifest)
    assert [e["event_type"] for e in after[:len(before)]] == before
    assert [e["event_type"] for e in after[len(before):]] == ["policy_what_if"]  # never a violation
    assert after[-1]["data"]["what_if"] == ["stats.disk_free_gb=0.1", "stats.cpu_load=2"]
    typo = run_cli(manifest, "opa-check", "--set", "host.cpu_load=9")  # would be ignored by the policy
    assert typo.returncode == 2 and "TASK [policy what-if: pre_deploy]" in typo.stdout, typo.stdout
    assert "no field host.cpu_load; did you mean stats.cpu_load?" in typo.stdout
    assert len(events(manifest)) == len(after)  # nothing evaluated, nothing recorded
    explained = run_cli(manifest, "opa-check", "--explain")  # a real check, explained
    assert explained.returncode == 0 and "decision: allow" in explained.stdout
