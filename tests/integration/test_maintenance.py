"""Maintenance mode on a real stack under steady load: the public port answers 503 (JSON, Retry-After)
while /healthz and the admin port still answer; on and off are graceful (no request goes unanswered),
audited, idempotent, shown by status, kept by a redeploy, and --check changes nothing."""
from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import printed as ok, run_cli
from tests.integration.stack import Load, make_project, remove_stack

pytestmark = pytest.mark.docker

PREFIX, PORT = "sdmaint", 25480
PUBLIC, ADMIN = f"http://127.0.0.1:{PORT}", f"http://127.0.0.1:{PORT + 1}"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("maintenance"), prefix=PREFIX, base_port=PORT)
    try:
        ok(run_cli(path, "deploy"))
        yield path
    finally:
        run_cli(path, "teardown", "--clean")
        remove_stack(PREFIX)


def events(manifest, kind: str) -> list[dict]:
    lines = (manifest.parent / "history.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event_type"] == kind]


def test_check_mode_changes_nothing(manifest):
    said = ok(run_cli(manifest, "maintenance", "--on", "--check"))
    assert "would turn maintenance on: the public port answers 503" in said
    assert not (manifest.parent / "nginx.d" / "maintenance.conf").exists()
    assert requests.get(PUBLIC + "/", timeout=5).status_code == 200


def test_on_answers_503_with_json_and_retry_after_while_health_and_admin_work(manifest):
    with Load(PUBLIC + "/", rate=40) as load:
        said = ok(run_cli(manifest, "maintenance", "--on", "--message", "upgrading the database"))
        done = len(load.results) + 1  # the request in flight as the command returned may predate the switch
        answer = requests.get(PUBLIC + "/anything", timeout=5)
        load.wait_for(done + 10)
    assert "changed:" in said and "503" in said
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {"error": "maintenance", "code": 503, "service": "swiftdeploy",
                             "message": "upgrading the database", "contact": "oncall@example.com"}
    assert requests.get(PUBLIC + "/healthz", timeout=5).json()["status"] == "ok"
    assert requests.get(ADMIN + "/tracks/stable/metrics", timeout=5).status_code == 200
    statuses = [status for status, _ in load.results]
    assert 0 not in statuses, "a request got no answer while maintenance was switched on"
    assert set(statuses) <= {200, 503} and statuses[0] == 200 and statuses[-1] == 503, statuses
    assert all(s == 503 for s in statuses[done:]), statuses  # from its end, every request sees it
    assert events(manifest, "maintenance")[-1]["data"] == {"on": True, "message": "upgrading the database"}


def test_on_again_is_ok_and_status_shows_it(manifest):
    again = ok(run_cli(manifest, "maintenance", "--on", "--message", "upgrading the database"))
    assert "ok: [local] => already on" in again
    shown = ok(run_cli(manifest, "status", "--once"))
    assert "maintenance" in shown and "the public port answers 503 (upgrading the database)" in shown
    frame = json.loads(ok(run_cli(manifest, "status", "--json")))
    assert frame["maintenance"]["message"] == "upgrading the database"


def test_a_redeploy_keeps_maintenance_on(manifest):
    ok(run_cli(manifest, "deploy"))
    assert requests.get(PUBLIC + "/", timeout=5).status_code == 503


def test_off_restores_traffic_without_an_unanswered_request(manifest):
    with Load(PUBLIC + "/", rate=40) as load:
        said = ok(run_cli(manifest, "maintenance", "--off"))
        done = len(load.results) + 1
        load.wait_for(done + 10)
    assert "the public port serves traffic again" in said
    statuses = [status for status, _ in load.results]
    assert 0 not in statuses and statuses[0] == 503, statuses
    assert all(s == 200 for s in statuses[done:]), statuses
    assert requests.get(PUBLIC + "/", timeout=5).status_code == 200
    assert "already off" in ok(run_cli(manifest, "maintenance", "--off"))
    frame = json.loads(ok(run_cli(manifest, "status", "--json")))
    assert frame["maintenance"] is None
    assert [e["data"]["on"] for e in events(manifest, "maintenance")] == [True, False]


@pytest.mark.parametrize("args, message", [
    ([], "give --on or --off"),
    (["--on", "--off"], "give --on or --off"),
    (["--off", "--message", "x"], "--message only applies to --on"),
    (["--on", "--message", "costs $5"], "'$' is not allowed"),
    (["--on", "--message", "x" * 301], "at most 300 characters"),
])
def test_bad_arguments_exit_2_and_change_nothing(manifest, args, message):
    result = run_cli(manifest, "maintenance", *args)
    assert result.returncode == 2 and message in result.stderr, (result.stdout, result.stderr)
    assert not (manifest.parent / "nginx.d" / "maintenance.conf").exists()


def test_a_run_stopped_between_the_write_and_the_reload_is_finished_by_the_next_on(manifest):
    """The include written but nginx never reloaded (Ctrl-C or a kill there): the state, written after the
    reload, still says off, so the next --on applies it again instead of answering 'already on'."""
    from swiftlib.lifecycle.maintenance import include_text

    (manifest.parent / "nginx.d" / "maintenance.conf").write_text(include_text("oncall@example.com", "again"))
    assert requests.get(PUBLIC + "/", timeout=5).status_code == 200  # nginx has not loaded it
    said = ok(run_cli(manifest, "maintenance", "--on", "--message", "again"))
    assert "changed: [local]" in said and "already on" not in said
    assert requests.get(PUBLIC + "/", timeout=5).status_code == 503
    ok(run_cli(manifest, "maintenance", "--off"))
