"""Progressive delivery on the real engine, under steady traffic: no transition drops a request.

One stack walks through every transition while 25 requests/s (a new connection each) hit
the public port; each transition's load asserts that no request failed (count, not time):
promote canary, promote stable (to a new version), rollback, rollout to stable, rollout
rolled back by chaos, and a deploy of a new version (blue/green).
"""
from __future__ import annotations

import json
import time

import pytest
import requests
import yaml

from swiftlib.tracks import describe, parse_split
from tests.conftest import printed as ok, run_cli
from tests.integration.stack import (Load, container_id_and_start, docker, evaluation_window, make_project,
                                     pressed_ctrl_c)

pytestmark = pytest.mark.docker

PREFIX = "sdprog"
PORT = 25080
IMAGE = "swiftdeploy-app:1.0.0"


def public(path: str = "/") -> str:
    return f"http://127.0.0.1:{PORT}{path}"


def admin(path: str) -> str:
    return f"http://127.0.0.1:{PORT + 1}{path}"


def tag(version: str) -> str:
    image = f"swiftdeploy-app:{version}"
    docker("tag", IMAGE, image)
    return image


def edit(manifest, **sections) -> None:
    doc = yaml.safe_load(manifest.read_text())
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def version_of(track: str) -> str:
    return requests.get(admin(f"/tracks/{track}/healthz"), timeout=5).json()["version"]


def running(name: str) -> bool:
    return docker("ps", "-q", "--filter", f"name=^{name}$") != ""


def events(manifest) -> list[dict]:
    return [json.loads(line) for line in (manifest.parent / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("progressive"), prefix=PREFIX, base_port=PORT,
                        canary={"image": tag("2.0.0"), "version": "2.0.0", "weight": 30, "steps": [30, 60]})
    ok(run_cli(path, "deploy"))
    yield path
    run_cli(path, "teardown", "--clean")


def test_promote_canary_keeps_every_request(manifest):
    nginx = docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-nginx")
    with Load(public()) as load:
        ok(run_cli(manifest, "promote", "--mode", "canary"))
    assert load.dropped == [] and len(load.results) >= 20
    assert version_of("canary") == "2.0.0" and version_of("stable") == "1.0.0"
    assert docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-nginx") == nginx  # reloaded, not restarted
    modes = [requests.get(public(), timeout=5).json()["version"] for _ in range(200)]
    assert 35 <= modes.count("2.0.0") <= 95, modes.count("2.0.0")  # about 30%


def test_rollback_keeps_every_request_and_is_audited(manifest):
    with Load(public()) as load:
        out = ok(run_cli(manifest, "rollback", "--reason", "testing the way back"))
    assert load.dropped == [] and len(load.results) >= 10
    assert "canary removed" in out and not running(f"{PREFIX}-app-canary")
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    last = [e for e in events(manifest) if e["event_type"] == "rollback"][-1]
    assert last["data"]["reason"] == "testing the way back" and last["actor"]
    again = ok(run_cli(manifest, "rollback"))
    assert "no canary runs" in again
    # Chaos right after a rollback is told at once that no canary runs, never a 10 s wait on an address
    # nginx still had for the removed container, blamed on the deploy (a newcomer saw that 1 time in 2).
    for _ in range(3):
        started = time.monotonic()
        refused = run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.5")
        assert refused.returncode == 2 and "no canary is running" in refused.stdout + refused.stderr, refused
        assert time.monotonic() - started < 8, "chaos waited on the removed canary"


def test_promote_stable_to_the_canary_version_keeps_every_request(manifest):
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    with Load(public()) as load:
        out = ok(run_cli(manifest, "promote", "--mode", "stable"))
    assert load.dropped == [] and len(load.results) >= 50, out
    assert version_of("stable") == "2.0.0" and not running(f"{PREFIX}-app-canary")
    services = yaml.safe_load(manifest.read_text())["services"]
    assert (services["mode"], services["image"], services["version"]) == ("stable", "swiftdeploy-app:2.0.0", "2.0.0")


def test_promoting_a_canary_of_the_version_stable_runs_leaves_stable_alone(manifest):
    """A canary of the very version stable runs (the default canary) changes nothing on stable when
    promoted: stable keeps its share and its container; no traffic moves to the canary first."""
    ok(run_cli(manifest, "promote", "--mode", "canary"))  # canary.version is stable's 2.0.0 now
    before = container_id_and_start(f"{PREFIX}-app")
    with Load(public()) as load:
        out = ok(run_cli(manifest, "promote", "--mode", "stable"))
    assert load.dropped == [] and len(load.results) >= 10, out
    assert "canary 100%" not in out and "the canary serves while stable is replaced" not in out, out
    assert container_id_and_start(f"{PREFIX}-app") == before and not running(f"{PREFIX}-app-canary")


def test_rollout_to_stable_keeps_every_request(manifest):
    edit(manifest, canary={"image": tag("3.0.0"), "version": "3.0.0"})
    before = manifest.read_bytes()
    planned = ok(run_cli(manifest, "rollout", "--check"))  # the plan, at the first step's weight; nothing done
    assert "stable 70% / canary 30%" in planned and "at 30%, 60% for one 4 s window each" in planned, planned
    assert manifest.read_bytes() == before and not running(f"{PREFIX}-app-canary")
    with Load(public()) as load:
        out = ok(run_cli(manifest, "rollout"))
    assert load.dropped == [] and len(load.results) >= 150, out
    assert "step 2/2 at 60%" in out and "rollout step 2/2" in out
    assert version_of("stable") == "3.0.0" and not running(f"{PREFIX}-app-canary")


def test_rollout_rolls_back_by_itself_when_the_canary_fails(manifest):
    edit(manifest, canary={"image": tag("4.0.0"), "version": "4.0.0"})
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    ok(run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.5"))
    with Load(public()) as load:
        result = run_cli(manifest, "rollout")
    out = ok(result, 3)
    assert "canary policy denied" in out and "error rate" in out
    assert load.dropped == [] and len(load.results) >= 50
    assert not running(f"{PREFIX}-app-canary") and version_of("stable") == "3.0.0"
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    last = [e for e in events(manifest) if e["event_type"] == "rollback"][-1]
    assert "rollout step 1/2" in last["data"]["reason"] and "error rate" in last["data"]["reason"]


def test_ctrl_c_in_a_rollout_leaves_the_canary_at_its_step_and_says_so(manifest, tmp_path):
    # A long first window: the press lands inside step 1 however slow this machine is.
    with evaluation_window(manifest, 60), Load(public()) as load:
        code, said = pressed_ctrl_c(manifest, tmp_path, "step 1/2 at 30%", "rollout")
    assert code == 130, said
    assert "interrupted: on local the canary keeps 30% of the traffic beside stable" in said
    assert "finish with `inv rollback` or `inv promote --mode stable`" in said
    assert load.dropped == []
    # Consistent, and as described: the canary serves its share, the manifest says canary,
    # the rollout is marked over and the deploy lock is free for the command that finishes it.
    assert running(f"{PREFIX}-app-canary") and yaml.safe_load(manifest.read_text())["services"]["mode"] == "canary"
    state = json.loads((manifest.parent / ".swiftdeploy" / "state.json").read_text())
    assert state["weight"] == 30 and state["rollout"]["active"] is False
    assert "free: no deploy lock held" in ok(run_cli(manifest, "lock"))
    with Load(public()) as load:
        ok(run_cli(manifest, "rollback", "--reason", "rollout interrupted"))
    assert load.dropped == [] and not running(f"{PREFIX}-app-canary")


@pytest.fixture
def no_canary_left(manifest):
    """Whatever the test leaves, the next one starts without a canary (a no-op when it finished)."""
    yield
    run_cli(manifest, "rollback", "--reason", "test cleanup")


def test_ctrl_c_in_a_promotion_says_what_it_left_and_a_second_run_finishes_it(manifest, tmp_path, no_canary_left):
    ok(run_cli(manifest, "promote", "--mode", "canary"))  # canary 4.0.0 beside stable 3.0.0
    with Load(public()) as load:
        # Pressed while stable is being replaced: the canary serves everything meanwhile.
        code, said = pressed_ctrl_c(manifest, tmp_path, "the canary serves while stable is replaced",
                                    "promote", "--mode", "stable")
        assert code == 130, said
        # A new canary container: the gate watched a window of its own, not one starting on the
        # remembered scrapes of the canary the previous test removed.
        assert "measuring the canary for 4s" in said, said
        # The note describes what is there, whichever step the press interrupted: the split nginx
        # serves, the tracks that run, what the manifest says (the promotion may have written it).
        shares = parse_split((manifest.parent / "nginx.d" / "traffic.conf").read_text())
        split = describe(shares)
        tracks = [t for t, name in (("stable", "app"), ("canary", "app-canary"), ("next", "app-next"))
                  if running(f"{PREFIX}-{name}")]
        services = yaml.safe_load(manifest.read_text())["services"]
        note = next(line for line in said.splitlines() if line.startswith("interrupted: on local traffic goes to "))
        assert note.startswith(f"interrupted: on local traffic goes to {split}; running: {', '.join(tracks)}; "
                               f"the manifest says {services['mode']} {services['version']}; "), note
        assert shares and all(t in tracks for t in shares), (shares, tracks)  # every track served still runs
        # Past its gate (the canary already serves everything): finishing does not ask it again.
        assert "run `inv promote --mode stable` again to finish (it does not ask the gate again)" in note
        assert "free: no deploy lock held" in ok(run_cli(manifest, "lock"))
        finished = ok(run_cli(manifest, "promote", "--mode", "stable"))  # as the note says
    assert load.dropped == [], said + finished
    assert version_of("stable") == "4.0.0" and not running(f"{PREFIX}-app-canary")
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"


def test_deploy_of_a_new_version_is_blue_green_and_keeps_every_request(manifest):
    edit(manifest, services={"image": tag("5.0.0"), "version": "5.0.0"})
    nginx = docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-nginx")
    stable = docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-app")
    planned = ok(run_cli(manifest, "deploy", "--check"))  # says what the real run will do, does none of it
    assert (f"changed: [local] => would start {PREFIX}-app-next (swiftdeploy-app:5.0.0, 5.0.0), move all traffic "
            f"to it, recreate {PREFIX}-app with 5.0.0") in planned, planned
    assert docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-app") == stable and not running(f"{PREFIX}-app-next")
    assert version_of("stable") != "5.0.0"
    with Load(public()) as load:
        out = ok(run_cli(manifest, "deploy"))
    assert load.dropped == [] and len(load.results) >= 20, out
    assert f"{PREFIX}-app-next healthy" in out and f"{PREFIX}-app-next drained and removed" in out
    assert version_of("stable") == "5.0.0" and not running(f"{PREFIX}-app-next")
    assert docker("inspect", "-f", "{{.Id}}", f"{PREFIX}-nginx") == nginx


def test_ctrl_c_in_a_blue_green_deploy_is_finished_by_the_next_deploy_without_a_dropped_request(manifest, tmp_path):
    edit(manifest, services={"image": tag("6.0.0"), "version": "6.0.0"})
    with Load(public()) as load:
        # Pressed once the new version serves everything and stable is being replaced.
        code, said = pressed_ctrl_c(manifest, tmp_path, "new version takes over while stable is replaced", "deploy")
        assert code == 130 and "interrupted: on local traffic goes to next 100%" in said, said
        assert running(f"{PREFIX}-app-next")
        finished = ok(run_cli(manifest, "deploy"))  # as the note says: the handover is finished, not orphaned
    assert load.dropped == [], said + finished
    assert version_of("stable") == "6.0.0" and not running(f"{PREFIX}-app-next")


def test_a_missing_canary_image_is_refused_before_anything_starts(manifest):
    edit(manifest, canary={"image": "swiftdeploy-app:no-such-version", "version": "9.9.9"})
    before = manifest.read_bytes()
    result = run_cli(manifest, "promote", "--mode", "canary")
    out = ok(result, 2)
    assert "canary.image: swiftdeploy-app:no-such-version is not on host" in out
    assert manifest.read_bytes() == before and not running(f"{PREFIX}-app-canary")
