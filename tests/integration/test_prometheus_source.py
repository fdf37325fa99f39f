"""`metrics.source: prometheus` on the real engine, with a real Prometheus server in the stack.

One stack (its Prometheus image made by `inv bootstrap` from this test's manifest: pulled, or
built from Debian's prometheus package) walks through: both sources measure the same 20 s window of
a canary at 30% under steady traffic and must agree within TOLERANCE; `promote --mode stable`
is judged on PromQL answers (denied with chaos in the canary, allowed without); an empty
result (a fresh canary nobody has called) and a stopped Prometheus both fail closed with
exit 4, audited, and a rollout rolls back on the latter.
"""
from __future__ import annotations

import bisect
import json
import time
from urllib.parse import urlencode

import pytest
import requests
import yaml

from swiftlib.observe import canary_window
from swiftlib.observe import prometheus_window
from swiftlib.lifecycle.context import Project, Target
from swiftlib.metrics.scrape import track_window
from tests.conftest import printed as ok, run_cli
from tests.integration.stack import Load, docker, make_project, remove_stack, wait_for

pytestmark = pytest.mark.docker

PREFIX = "sdprom"
PORT = 26080  # its own ports: a stack another module failed to remove cannot collide
PROM_PORT = 26190
WINDOW = 10  # seconds: the canary gate's evaluation window in this stack
# The sources are compared over a longer window: requests within one scrape interval of either
# edge land on different sides for the two (increase() extrapolates there), and at 30% errors
# each such request moves the error rate by about 1/n; at 12 req/s on the canary that noise has
# a standard deviation near 1.7 points over 10 s and 0.9 over 20 s.
COMPARE_WINDOW = 20
RATE = 40.0  # requests/s on the public port; 30% of them reach the canary
# The app's histogram buckets (app/app_metrics.py), in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
# How far the two sources may differ over the same window (README: "Metrics source", under Policies).
TOLERANCE = {"requests_relative": 0.10, "error_rate_absolute": 0.05, "p99_buckets": 1}


def public(path: str = "/") -> str:
    return f"http://127.0.0.1:{PORT}{path}"


def events(manifest, kind: str) -> list[dict]:
    lines = (manifest.parent / "history.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event_type"] == kind]


def running(name: str) -> bool:
    return docker("ps", "-q", "--filter", f"name=^{name}$") != ""


def query(promql: str) -> str:
    return f"http://127.0.0.1:{PROM_PORT}/api/v1/query?{urlencode({'query': promql})}"


def sample(answer) -> float:
    """The value of a one-sample instant vector, or -1 while it is empty."""
    result = answer.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else -1.0


def bucket(seconds: float) -> int:
    return bisect.bisect_left(BUCKETS, seconds)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("prometheus"), prefix=PREFIX, base_port=PORT,
                        canary={"weight": 30, "steps": [30, 60]},
                        metrics={"source": "prometheus", "prometheus": {
                            "port": PROM_PORT, "container_name": f"{PREFIX}-prometheus", "scrape_interval_seconds": 1}})
    doc = yaml.safe_load(path.read_text())
    doc["policy_limits"]["canary"]["evaluation_window_seconds"] = WINDOW
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        ok(run_cli(path, "bootstrap"))  # the Prometheus image, as `make test` would make it
        ok(run_cli(path, "deploy"))
        yield path
    finally:
        run_cli(path, "teardown", "--clean")
        remove_stack(PREFIX)  # whatever a failed teardown left


def test_prometheus_runs_on_loopback_only_and_scrapes_every_track_by_label(manifest):
    assert docker("port", f"{PREFIX}-prometheus") == f"9090/tcp -> 127.0.0.1:{PROM_PORT}"
    # A target reads "unknown" until its first scrape; wait until every track has been tried.
    answer = wait_for(f"http://127.0.0.1:{PROM_PORT}/api/v1/targets",
                      lambda r: all(t["health"] != "unknown" for t in r.json()["data"]["activeTargets"])
                      and any(t["health"] == "up" for t in r.json()["data"]["activeTargets"]))
    tracks = {t["labels"]["track"]: t["health"] for t in answer.json()["data"]["activeTargets"]}
    assert tracks == {"stable": "up", "canary": "down", "next": "down"}  # no canary yet
    # status reads the numbers where the gate reads them: each track's evaluation window from Prometheus
    # (a track's request counters exist from its first request on: a few, then two scrapes)
    for _ in range(20):
        requests.get(public("/"), timeout=5)
    time.sleep(2.5)
    status = ok(run_cli(manifest, "status", "--once"))
    assert "on Prometheus' numbers, as the gate reads them" in status, status
    frame = json.loads(ok(run_cli(manifest, "status", "--json")))
    assert frame["numbers_from"] == "prometheus" and frame["tracks"]["stable"]["numbers_from"] == "prometheus"
    assert frame["tracks"]["stable"]["window_seconds"] == WINDOW  # the gate's window, not the track's life
    docker("stop", f"{PREFIX}-prometheus")
    try:  # Prometheus down: the scraped numbers, and why
        frame = json.loads(ok(run_cli(manifest, "status", "--json")))
        assert frame["numbers_from"] == "scrape" and "Prometheus did not answer" in frame["numbers_note"], frame
    finally:
        docker("start", f"{PREFIX}-prometheus")
        wait_for(f"http://127.0.0.1:{PROM_PORT}/-/ready", lambda r: r.status_code == 200)


def test_both_sources_agree_on_the_same_window_of_a_canary_under_load(manifest):
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    ok(run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.3"))  # a non-zero error rate to compare
    target = Target.local(Project.load(manifest))
    with Load(public(), rate=RATE):
        # Both tracks' failed and total requests are series in Prometheus before the window opens.
        for series in ('http_requests_total{track="canary",status_code=~"5.."}',
                       'http_requests_total{track="stable",path="/"}'):
            wait_for(query(f"count({series})"), lambda r: sample(r) >= 1)
        before = {t: canary_window.scrape(target, track=t, remember=False) for t in ("canary", "stable")}
        time.sleep(COMPARE_WINDOW)
        after = {t: canary_window.scrape(target, track=t, remember=False) for t in ("canary", "stable")}
        # Each track has been scraped since the window closed (a busy machine may scrape late).
        end = after["canary"].taken_at
        wait_for(query('min(timestamp(up{track=~"canary|stable"}))'), lambda r: sample(r) > end + 0.1)
    window = after["canary"].taken_at - before["canary"].taken_at
    from_prometheus = dict(zip(("canary", "stable"), prometheus_window.windows_at(target, window,
                                                                                   after["canary"].taken_at)))
    ok(run_cli(manifest, "chaos", "--mode", "recover"))
    for track in ("canary", "stable"):
        scraped, queried = track_window(before[track], after[track]), from_prometheus[track]
        print(f"{track}: scrape {scraped.to_dict()}\n{track}: prometheus {queried.to_dict()}")
        assert scraped.requests >= 100, scraped
        assert abs(queried.requests - scraped.requests) <= TOLERANCE["requests_relative"] * scraped.requests
        assert abs(queried.error_rate - scraped.error_rate) <= TOLERANCE["error_rate_absolute"]
        assert abs(bucket(queried.p99_latency_ms / 1000) - bucket(scraped.p99_latency_ms / 1000)) <= 1
    assert from_prometheus["canary"].error_rate > 0.15 and from_prometheus["stable"].error_rate == 0


def test_promote_stable_is_denied_on_promql_numbers_when_the_canary_fails(manifest):
    ok(run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.5"))
    before = manifest.read_bytes()
    with Load(public(), rate=RATE):
        out = ok(run_cli(manifest, "promote", "--mode", "stable"), 3)
    assert "canary policy denied" in out and "error rate" in out
    assert manifest.read_bytes() == before and running(f"{PREFIX}-app-canary")
    metrics = events(manifest, "policy_violation")[-1]["data"]["input"]["metrics"]
    assert metrics["window_seconds"] == WINDOW and metrics["error_rate"] > 0.1 and metrics["requests"] >= 20


def test_promote_stable_is_allowed_on_promql_numbers_when_the_canary_is_healthy(manifest):
    ok(run_cli(manifest, "chaos", "--mode", "recover"))
    with Load(public(), rate=RATE) as load:
        out = ok(run_cli(manifest, "promote", "--mode", "stable"))
    assert load.dropped == []
    check = events(manifest, "policy_check")[-1]["data"]
    assert check["domain"] == "canary" and check["input"]["metrics"]["error_rate"] == 0.0
    assert check["metrics_source"] == "prometheus"  # the audit says where the numbers came from
    assert check["input"]["baseline"]["requests"] > 0  # stable's window of the same period, from PromQL
    assert "canary: " in out and not running(f"{PREFIX}-app-canary")


def test_an_empty_result_fails_closed_with_exit_4_and_is_audited(manifest):
    ok(run_cli(manifest, "promote", "--mode", "canary"))  # a new canary nobody calls: no series at all
    out = ok(run_cli(manifest, "opa-check", "--context", "pre_promote"), 4)
    assert f"Prometheus at http://127.0.0.1:{PROM_PORT}" in out and "no requests or p99 samples for the canary" in out
    failure = events(manifest, "policy_engine_failure")[-1]["data"]
    assert (failure["source"], failure["reason"], failure["domain"]) == ("prometheus", "empty_result", "canary")
    assert running(f"{PREFIX}-app-canary")  # nothing was changed


def test_a_stopped_prometheus_fails_closed_and_a_rollout_rolls_back(manifest):
    docker("stop", f"{PREFIX}-prometheus")
    try:
        with Load(public(), rate=RATE) as load:
            out = ok(run_cli(manifest, "rollout"), 4)
        assert f"cannot reach Prometheus at http://127.0.0.1:{PROM_PORT}" in out
        assert load.dropped == []
        failure = events(manifest, "policy_engine_failure")[-1]["data"]
        assert (failure["source"], failure["reason"]) == ("prometheus", "unreachable")
        rollback = events(manifest, "rollback")[-1]["data"]
        assert "rollout step 1/2" in rollback["reason"] and "Prometheus" in rollback["reason"]
        assert not running(f"{PREFIX}-app-canary")
        assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    finally:
        docker("start", f"{PREFIX}-prometheus")
