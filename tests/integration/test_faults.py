"""Trust under faults, on the real engine: what SwiftDeploy does when something is not as it expects.

Each test is a case a hostile tester found mishandled: a name the manifest gives that another
owner holds, a track that died before traffic moved to it, an audit trail or manifest that cannot
be written, a generated file removed before `up`, and Ctrl-C in the final promotion of a rollout.
After each: the exit code is the documented one, nothing that was not ours is gone, and the
command the tool advises puts manifest, containers, traffic and audit back in agreement.
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests
import yaml

from swiftlib.tracks import parse_split
from tests.conftest import exited, printed as ok, run_cli
from tests.integration.stack import Load, docker, leftovers, make_project, pressed_ctrl_c, remove_stack

pytestmark = pytest.mark.docker

PREFIX = "sdfault"
PORT = 28080            # the deployed stack; admin 28081
IDLE_PORT = 28280       # projects that must never start anything
IMAGE = "swiftdeploy-app:1.0.0"


def public(path: str = "/") -> str:
    return f"http://127.0.0.1:{PORT}{path}"


def version_of(track: str) -> str:
    return requests.get(f"http://127.0.0.1:{PORT + 1}/tracks/{track}/healthz", timeout=5).json()["version"]


def split(manifest) -> dict[str, int]:
    return parse_split((manifest.parent / "nginx.d" / "traffic.conf").read_text())


def services(manifest) -> dict:
    return yaml.safe_load(manifest.read_text())["services"]


def events(manifest) -> list[dict]:
    return [json.loads(line) for line in (manifest.parent / "history.jsonl").read_text().splitlines()]


def chattr(flag: str, path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True)


# -- names another owner holds -------------------------------------------------------------------

@pytest.fixture
def foreign_objects():
    """A network and a volume holding data that another team created by hand (no compose labels)."""
    docker("network", "create", "sdfault-theirs-net")
    docker("volume", "create", "sdfault-theirs-data")
    docker("run", "--rm", "--user", "0", "-v", "sdfault-theirs-data:/data", "--entrypoint", "sh", IMAGE, "-c",
           "echo precious > /data/keep")
    yield
    docker("network", "rm", "sdfault-theirs-net", check=False)
    docker("volume", "rm", "sdfault-theirs-data", check=False)


def test_names_held_by_another_owner_are_refused_and_never_removed(tmp_path, foreign_objects):
    manifest = make_project(tmp_path, prefix="sdfault2", base_port=IDLE_PORT,
                            network={"name": "sdfault-theirs-net"}, logs={"volume_name": "sdfault-theirs-data"})
    try:
        said = exited(run_cli(manifest, "validate"), 2).stdout
        assert "network.name: network sdfault-theirs-net already exists" in said
        assert "logs.volume_name: volume sdfault-theirs-data already exists" in said
        exited(run_cli(manifest, "deploy"), 2)
        assert leftovers("sdfault2") == ""  # nothing was started
        # Teardown used to `docker volume rm` by name: the data was gone.
        ok(run_cli(manifest, "teardown", "--clean"))
        assert docker("run", "--rm", "-v", "sdfault-theirs-data:/data", "--entrypoint", "cat", IMAGE,
                      "/data/keep") == "precious"
        assert docker("network", "inspect", "-f", "{{.Name}}", "sdfault-theirs-net") == "sdfault-theirs-net"
    finally:
        remove_stack("sdfault2")


def test_a_container_name_another_project_uses_is_refused_before_anything_starts(tmp_path):
    manifest = make_project(tmp_path, prefix="sdfault3", base_port=IDLE_PORT)
    docker("create", "--name", "sdfault3-nginx", "--label", "com.docker.compose.project=someone-else", IMAGE)
    try:
        said = exited(run_cli(manifest, "deploy"), 2).stdout
        assert "nginx.container_name: container sdfault3-nginx already exists" in said
        assert "'someone-else'" in said
        assert leftovers("sdfault3") == ""  # compose up would have created the app, then failed on nginx
    finally:
        docker("rm", "-f", "sdfault3-nginx", check=False)
        remove_stack("sdfault3")


def test_a_bind_mounted_file_removed_before_up_starts_nothing(tmp_path):
    manifest = make_project(tmp_path, prefix="sdfault4", base_port=IDLE_PORT)
    try:
        ok(run_cli(manifest, "render"))
        (manifest.parent / "nginx.conf").unlink()
        said = exited(run_cli(manifest, "up"), 2).stdout
        assert "nginx.conf missing or of the wrong kind" in said and "nothing was started" in said
        assert leftovers("sdfault4") == ""
        assert not (manifest.parent / "nginx.conf").exists()  # Docker did not make a directory of it
    finally:
        remove_stack("sdfault4")


# -- one deployed stack ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """The stack, with its manifest a symbolic link (as in a repository of shared configuration)."""
    docker("tag", IMAGE, "swiftdeploy-app:2.0.0")
    path = make_project(tmp_path_factory.mktemp("faults"), prefix=PREFIX, base_port=PORT,
                        canary={"image": "swiftdeploy-app:2.0.0", "version": "2.0.0", "weight": 50, "steps": [50]})
    real = path.with_name("manifest.real.yaml")
    path.rename(real)
    path.symlink_to(real.name)
    ok(run_cli(path, "deploy"))
    yield path
    run_cli(path, "teardown", "--clean")
    remove_stack(PREFIX)


def test_a_web_page_cannot_reach_the_admin_listener(manifest):
    """Any page the operator opened could POST chaos into live canary traffic (text/plain, no preflight)."""
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    admin = f"http://127.0.0.1:{PORT + 1}"
    chaos = f"{admin}/tracks/canary/chaos"
    forged = requests.post(chaos, data='{"mode":"error","rate":1.0}', timeout=5,
                           headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert forged.status_code == 403 and "Origin" in forged.json()["error"]
    rebound = requests.get(f"{admin}/tracks/canary/metrics", headers={"Host": "evil.example"}, timeout=5)
    assert rebound.status_code == 421  # a DNS-rebinding page names its own host
    as_text = requests.post(chaos, data='{"mode":"error","rate":1.0}', headers={"Content-Type": "text/plain"},
                            timeout=5)
    assert as_text.status_code == 415  # the app itself takes JSON only
    too_long = requests.post(chaos, json={"mode": "slow", "duration": 1e9}, timeout=5)
    assert too_long.status_code == 400 and "from 0 to 10" in too_long.json()["error"]
    metrics = requests.get(f"{admin}/tracks/canary/metrics", timeout=5).text
    assert "chaos_active 0.0" in metrics  # none of them switched chaos on
    ok(run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.5"))  # the tool still can
    assert "chaos_active 2.0" in requests.get(f"{admin}/tracks/canary/metrics", timeout=5).text
    ok(run_cli(manifest, "rollback"))


def test_the_admin_listener_answers_the_host_and_not_the_containers_beside_nginx(manifest):
    """It was reachable from inside every app container (nginx:<admin port> on the app network)."""
    probe = ("import urllib.request, urllib.error\n"
             f"req = urllib.request.Request('http://nginx:{PORT + 1}/tracks/stable/healthz', headers={{'Host': 'localhost'}})\n"
             "try:\n    print(urllib.request.urlopen(req, timeout=5).status)\n"
             "except urllib.error.HTTPError as e:\n    print(e.code)\n")
    assert docker("exec", f"{PREFIX}-app", "python3", "-c", probe) == "403"
    assert requests.get(f"http://127.0.0.1:{PORT + 1}/tracks/stable/healthz", timeout=5).status_code == 200
    assert "allow " in (manifest.parent / "nginx.d" / "admin-access.conf").read_text()


def test_traffic_never_moves_to_a_dead_track(manifest):
    """promote --mode canary with stable killed: it said ok and sent half of the requests to nothing."""
    docker("kill", f"{PREFIX}-app")
    result = exited(run_cli(manifest, "promote", "--mode", "canary"), 5)
    assert "traffic was not moved (the stable track" in result.stdout
    assert split(manifest) == {"stable": 100}
    ok(run_cli(manifest, "rollback", "--reason", "stable died"))  # the way back converges
    assert split(manifest) == {"stable": 100} and services(manifest)["mode"] == "stable"
    assert version_of("stable") == "1.0.0" and f"{PREFIX}-app-canary" not in leftovers(PREFIX).split()


def test_health_names_a_dead_track_the_split_still_sends_requests_to(manifest):
    """Health used to retry the public /healthz until the surviving canary answered, and say ok."""
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    docker("kill", f"{PREFIX}-app")
    said = exited(run_cli(manifest, "health", "--timeout", "5"), 5).stdout
    assert f"the stable track ({PREFIX}-app)" in said
    ok(run_cli(manifest, "rollback"))
    ok(run_cli(manifest, "health"))


def test_health_stops_waiting_for_a_container_docker_will_not_restart(manifest):
    """A killed container stays down (Docker restarts only what exits by itself): health used to poll it
    for the whole health timeout (90 s here) before saying so."""
    docker("kill", f"{PREFIX}-app")
    started = time.monotonic()
    said = exited(run_cli(manifest, "health"), 5).stdout
    assert time.monotonic() - started < 15, said
    assert f"{PREFIX}-app has exited with code 137 (killed) and Docker will not restart it" in said, said
    ok(run_cli(manifest, "deploy"))  # the advised way back starts it again
    docker("kill", f"{PREFIX}-nginx")  # every answer passes through nginx
    said = exited(run_cli(manifest, "health"), 5).stdout
    assert f"{PREFIX}-nginx has exited with code 137 (killed)" in said, said
    ok(run_cli(manifest, "deploy"))
    ok(run_cli(manifest, "health"))


def test_a_removed_nginx_is_created_again_by_the_next_step_that_needs_it(manifest):
    """Its container removed (`docker rm -f`), not only stopped: every later command failed on the track's
    health, which is read through nginx, and running it again failed the same way."""
    docker("rm", "-f", f"{PREFIX}-nginx")
    said = ok(run_cli(manifest, "promote", "--mode", "canary"))
    assert f"{PREFIX}-nginx was absent; started again" in said, said
    ok(run_cli(manifest, "rollback"))
    ok(run_cli(manifest, "health"))


def test_status_shows_a_stuck_canary_as_missing_and_does_not_judge_stable_in_its_place(manifest):
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    docker("kill", f"{PREFIX}-app-canary")
    frame = json.loads(exited(run_cli(manifest, "status", "--once", "--json"), 0).stdout)
    assert frame["mode"] == "canary" and "canary" in frame["missing_tracks"]
    canary = next(p for p in frame["policies"] if p["domain"] == "canary")
    assert canary["allow"] is False and "does not answer" in canary["reasons"][0]
    ok(run_cli(manifest, "rollback"))


def test_a_split_written_but_never_reloaded_is_served_before_a_track_is_removed(manifest):
    """Found by the fault matrix in CI: a run killed between writing traffic.conf and reloading nginx.
    The next run read 'stable 100%' in the file, called the traffic step ok and removed the canary
    nginx still sent half of the requests to (502s until the health check gave up)."""
    from swiftlib.lifecycle.context import Project, Target
    from swiftlib.render import render_traffic
    from swiftlib.tracks import TRAFFIC_FILE, only

    ok(run_cli(manifest, "promote", "--mode", "canary"))
    project = Project.load(manifest)
    target = Target.local(project)
    # The first half of an apply, exactly: the file written, the reload never came.
    target.workspace.write(TRAFFIC_FILE, render_traffic(project.manifest, project.templates_dir, only("stable")))
    with Load(public(), rate=50) as load:
        load.wait_for(25)
        said = ok(run_cli(manifest, "rollback", "--reason", "killed before the reload"))
        load.wait_for(len(load.results) + 25)
    assert load.dropped == [], load.dropped
    assert "nginx had not been reloaded with it" in said, said
    stable = services(manifest)["version"]
    assert {requests.get(public("/healthz"), timeout=5).json()["version"] for _ in range(10)} == {stable}
    ok(run_cli(manifest, "health"))


def test_nothing_changes_when_the_audit_trail_cannot_be_written(manifest):
    history = manifest.parent / "history.jsonl"
    before = manifest.read_bytes()
    chattr("+i", history)
    try:
        result = exited(run_cli(manifest, "promote", "--mode", "canary"), 2)
    finally:
        chattr("-i", history)
    said = result.stdout + result.stderr
    assert "cannot append to the audit history" in said and "nothing was changed" in said
    assert manifest.read_bytes() == before and leftovers(PREFIX).split().count(f"{PREFIX}-app-canary") == 0


def test_an_immutable_manifest_is_a_clear_error_and_a_symlinked_one_is_edited_through(manifest):
    real = manifest.with_name("manifest.real.yaml")
    chattr("+i", real)
    try:
        result = exited(run_cli(manifest, "promote", "--mode", "canary"), 2)
    finally:
        chattr("-i", real)
    assert "cannot be rewritten" in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert f"{PREFIX}-app-canary" not in leftovers(PREFIX).split()
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    assert manifest.is_symlink() and services(manifest)["mode"] == "canary"  # the link's target was edited
    ok(run_cli(manifest, "rollback"))


@pytest.mark.parametrize("finish", ["rollback", "promote"])
def test_ctrl_c_in_rollouts_final_promotion_leaves_a_true_note_and_both_ways_converge(manifest, tmp_path, finish):
    """Pressed after the manifest named 2.0.0 as stable: the note used to say the canary kept its step,
    and the advised rollback said 'stable 2.0.0 serves all traffic' while 1.0.0 answered."""
    with Load(public()) as load:
        code, said = pressed_ctrl_c(manifest, tmp_path, "services.mode: canary → stable", "rollout")
        assert code == 130, said
        assert "the canary gate allowed promoting 2.0.0" in said and "go back to 1.0.0" in said, said
        if finish == "rollback":
            ok(run_cli(manifest, "rollback", "--reason", "interrupted"))
        else:
            ok(run_cli(manifest, "promote", "--mode", "stable"))
    assert load.dropped == [], load.dropped
    want = "1.0.0" if finish == "rollback" else "2.0.0"
    assert services(manifest)["version"] == want and services(manifest)["mode"] == "stable"
    assert services(manifest)["image"] == f"swiftdeploy-app:{want}"
    assert {requests.get(public("/healthz"), timeout=5).json()["version"] for _ in range(20)} == {want}
    assert split(manifest) == {"stable": 100} and f"{PREFIX}-app-canary" not in leftovers(PREFIX).split()
    last = [e for e in events(manifest) if e["event_type"] in ("rollback", "mode_change")][-1]
    assert (last["data"].get("stable_version") or last["data"].get("version")) == want
    frame = json.loads(ok(run_cli(manifest, "status", "--once", "--json")))
    assert frame["version"] == want and frame["missing_tracks"] == {}
    ok(run_cli(manifest, "audit", "--verify"))
    assert "free: no deploy lock held" in ok(run_cli(manifest, "lock", "--status"))


def test_a_canary_that_died_mid_promotion_is_rolled_back_to_the_stable_that_still_runs(manifest, tmp_path):
    """Found by the fault matrix: the canary died after the manifest named its version as stable but
    before stable was replaced; rollback took the promotion for complete and failed (exit 5) waiting
    for stable to run 2.0.0, while 1.0.0 was right there to go back to."""
    if services(manifest)["version"] != "1.0.0":  # an earlier test may have promoted 2.0.0: start from 1.0.0
        doc = yaml.safe_load(manifest.read_text())
        doc["services"].update(image="swiftdeploy-app:1.0.0", version="1.0.0", mode="stable")
        manifest.write_text(yaml.safe_dump(doc, sort_keys=False))  # through the link, as a user's editor would
        ok(run_cli(manifest, "deploy"))
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    # The promotion's first steps, exactly as finish_promotion takes them (a press or a kill lands
    # there only by chance): record what stable was, all traffic to the canary, the manifest edit.
    from swiftlib.lifecycle import manifest_step, traffic
    from swiftlib.lifecycle.context import PROMOTION, Options, Project, Target
    from swiftlib.results import Reporter
    from swiftlib.tracks import only

    project = Project.load(manifest)
    target = Target.local(project)
    target.write_state(**{PROMOTION: {"from_image": "swiftdeploy-app:1.0.0", "from_version": "1.0.0",
                                      "image": "swiftdeploy-app:2.0.0", "version": "2.0.0"}})
    quiet = Reporter(lambda line: None)
    traffic.switch(project, target, quiet, only("canary"), Options(), why="the canary serves while stable is replaced")
    manifest_step.use(project, target, {"mode": "stable", "image": "swiftdeploy-app:2.0.0", "version": "2.0.0"}, quiet)
    assert services(manifest)["version"] == "2.0.0" and version_of("stable") == "1.0.0"
    docker("kill", f"{PREFIX}-app-canary")  # ... and there the canary dies
    ok(run_cli(manifest, "rollback", "--reason", "canary died mid-promotion"))
    assert services(manifest)["version"] == "1.0.0" and services(manifest)["mode"] == "stable"
    assert split(manifest) == {"stable": 100}
    assert {requests.get(public("/healthz"), timeout=5).json()["version"] for _ in range(10)} == {"1.0.0"}
    assert not json.loads((manifest.parent / ".swiftdeploy" / "state.json").read_text()).get("promotion")
    ok(run_cli(manifest, "health"))


def test_a_traffic_move_waits_for_the_requests_the_old_split_sent(manifest):
    """Requests the canary holds (chaos slow, 8 s) when rollback moves all traffic to stable: the move
    waits until nginx's old workers have finished them (all answered 200), and only then is the canary
    removed; the wait is said ("drained in ...")."""
    import re
    import threading

    ok(run_cli(manifest, "promote", "--mode", "canary"))
    # 8 s: the rollback's own start-up and steps before the move must not use up the hold on a busy machine
    ok(run_cli(manifest, "chaos", "--mode", "slow", "--duration", "8"))
    answers: list[int] = []

    def ask() -> None:
        try:
            answers.append(requests.get(public("/"), timeout=30, headers={"Connection": "close"}).status_code)
        except requests.RequestException as exc:
            answers.append(repr(exc))

    askers = [threading.Thread(target=ask) for _ in range(8)]  # half of them land on the canary and wait there
    for asker in askers:
        asker.start()
    time.sleep(0.5)
    out = ok(run_cli(manifest, "rollback", "--reason", "drain test"))
    for asker in askers:
        asker.join(30)
    assert answers == [200] * 8, answers
    drained = re.search(r"stable 100% .*drained in ([0-9.]+)s", out)
    assert drained and float(drained.group(1)) >= 1.5, out  # the slow requests held the old workers
    assert f"{PREFIX}-app-canary" not in leftovers(PREFIX).split()
