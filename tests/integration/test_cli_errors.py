"""Bad command-line input: a clear message, exit 2, and no Python traceback — for every task."""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import SWIFTDEPLOY, run_cli
from tests.integration.stack import make_project


@pytest.fixture
def manifest(tmp_path):
    return make_project(tmp_path, prefix="sdcli", base_port=23480)


@pytest.mark.parametrize("task, args, message", [
    ("health", ["--timeout", "abc"], "--timeout: expected a number"),
    ("health", ["--mode", "bogus"], "--mode: expected canary or stable"),
    ("promote", ["--mode", "sideways"], "--mode: expected canary or stable"),
    ("opa-check", ["--context", "later"], "--context: expected pre_deploy or pre_promote"),
    ("policy-test", ["--engine", "bogus"], "--engine: expected embedded or sidecar"),
    ("deploy", ["--serial", "many"], "serial"),
    ("deploy", ["--max-fail-percentage", "150"], "max-fail-percentage"),
    ("deploy", ["--hosts", "a@b@c:x"], "--hosts"),
    ("deploy", ["--inventory", "/nonexistent/inventory.ini"], "inventory.ini"),
    ("deploy", ["--limit", "web"], "--limit needs --inventory"),
    ("chaos", ["--mode", "error"], "--rate is required"),
    ("lock", ["--force"], "--force only applies to --release"),
])
def test_bad_arguments_exit_2_with_a_message(manifest, task, args, message):
    result = run_cli(manifest, task, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_short_flag_m_is_the_manifest_on_every_task(manifest):
    import subprocess

    missing = str(manifest.parent / "missing.yaml")
    for task in ("render", "validate", "deploy", "status", "audit", "bootstrap"):
        result = subprocess.run([*SWIFTDEPLOY, task, "-m", missing],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "missing.yaml" in result.stdout + result.stderr, (task, result.stderr)


def test_json_reports_errors_no_step_recorded(manifest):
    manifest.write_text("- just\n- a list\n")
    result = run_cli(manifest, "render", "--json")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and "top level: expected a mapping" in doc["error"]


def test_audit_history_that_is_a_directory_is_a_clear_error(manifest):
    (manifest.parent / "history.jsonl").mkdir()
    result = run_cli(manifest, "audit", "--verify")
    assert result.returncode == 2 and "cannot use as the audit history" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_no_docker_engine_is_named_as_such(manifest):
    import os
    import subprocess

    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = subprocess.run([*SWIFTDEPLOY, "deploy", "--manifest", str(manifest)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "FAIL  docker engine: no Docker engine answers on local" in result.stdout
    assert "inv bootstrap" in result.stdout


# -- short flags: chosen, the same on every task, -h is help ----------------------------------

@pytest.mark.parametrize("task", ["deploy", "render", "teardown", "lock", "status", "policy-test", "bootstrap"])
def test_h_shows_the_task_help(manifest, task):
    result = run_cli(manifest, task, "-h")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[--core-opts] {task} [--options]" in result.stdout
    assert "-d, --debug" in result.stdout


@pytest.mark.parametrize("task, args", [
    ("deploy", ["-c", "--check"]),        # was --accept-new-host-keys: a real deploy recording host keys
    ("deploy", ["-e"]),                   # was --check on deploy; Invoke's --echo must not run a real deploy
    ("teardown", ["-e", "--check"]),      # was --clean on teardown
    ("deploy", ["-s", "1", "--check"]),   # was --serial
    ("render", ["--bogus"]),
    ("render", ["--list"]),               # Invoke's own flags go before the task name
    ("no-such-task", []),
])
def test_unknown_or_retired_flags_and_tasks_exit_2(manifest, task, args):
    result = run_cli(manifest, task, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("ERROR: ") and "Traceback" not in result.stderr
    assert "PLAY RECAP" not in result.stdout  # refused before anything ran


def test_capital_c_is_check_mode_as_in_ansible(manifest):
    result = run_cli(manifest, "render", "-C", "-D")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would change: docker-compose.yml" in result.stdout and "+++ " in result.stdout
    assert not (manifest.parent / "docker-compose.yml").exists()


@pytest.mark.parametrize("args, message", [
    (["-H", "a@b@c:x", "-C"], "--hosts"),
    (["-i", "/nonexistent/inventory.ini", "-C"], "inventory.ini"),
    (["-l", "web", "-C"], "--limit needs --inventory"),
    (["-f", "0", "-C"], "--forks: expected a whole number of hosts >= 1, got '0'"),
    (["--forks", "many", "-C"], "--forks: expected a whole number"),
    (["-T", "soon", "-C"], "--connect-timeout: expected a number"),
])
def test_short_host_flags(manifest, args, message):
    result = run_cli(manifest, "deploy", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stdout + result.stderr


# -- render writes files: it holds the deploy lock ------------------------------------------

def test_render_waits_for_no_one_and_is_refused_while_another_run_holds_the_lock(manifest):
    from swiftlib.remote.lock import LOCK_FILE, LockInfo

    lock = manifest.parent / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(LockInfo.new("deploy", "held by the test").to_json() + "\n")  # this (live) process holds it
    result = run_cli(manifest, "render")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fatal: [local]: FAILED!" in result.stdout and "held by the test" in result.stdout
    assert not (manifest.parent / "docker-compose.yml").exists()
    lock.unlink()
    done = run_cli(manifest, "render")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (manifest.parent / "docker-compose.yml").exists() and not lock.exists()


# -- an unexpected exception: one line and a saved traceback, or the traceback with --debug ---

BUGGY = """
import sys
import swiftlib.lifecycle.fleet as fleet
def broken(*args, **kwargs):
    raise RuntimeError("injected bug")
fleet.run_fleet = broken
from invoke.main import program
program.run(["inv", "-r", sys.argv[1], *sys.argv[2:]])
"""


def run_buggy(manifest, *args):
    import subprocess
    import sys

    from tests.conftest import REPO

    return subprocess.run([sys.executable, "-c", BUGGY, str(REPO), *args], capture_output=True, text=True,
                          timeout=120, cwd=manifest.parent, env={k: v for k, v in os.environ.items() if k != "INVOKE_DEBUG"})


def test_an_unexpected_exception_is_one_line_naming_the_traceback_file(manifest):
    result = run_buggy(manifest, "render", "-m", str(manifest))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PLAY RECAP" not in result.stdout  # the bug struck before any host ran
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("ERROR: unexpected RuntimeError: injected bug (traceback written to ")
    path = line.split("traceback written to ", 1)[1].split(";", 1)[0]
    try:
        text = open(path).read()
        assert "Traceback (most recent call last)" in text and "in broken\nRuntimeError: injected bug" in text
    finally:
        os.unlink(path)


@pytest.mark.parametrize("where", ["after", "before", "short"])
def test_debug_prints_the_traceback(manifest, where):
    args = {"after": ["render", "-m", str(manifest), "--debug"],
            "before": ["--debug", "render", "-m", str(manifest)],
            "short": ["render", "-d", "-m", str(manifest)]}[where]
    result = run_buggy(manifest, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PLAY RECAP" not in result.stdout
    assert "Traceback (most recent call last)" in result.stderr and "injected bug" in result.stderr
    assert "traceback written to" not in result.stderr


# -- one collection, three programs: swiftdeploy, inv (tasks.py) and fab (fabfile.py) -------------

def test_inv_and_fab_load_the_same_tasks_as_swiftdeploy(manifest):
    import subprocess

    from tests.conftest import INV, SWIFTDEPLOY

    listed = {}
    for name, argv in (("swiftdeploy", SWIFTDEPLOY), ("inv", INV), ("fab", (*INV[:2], "fabric", *INV[3:]))):
        done = subprocess.run([*argv, "--list"], capture_output=True, text=True, timeout=60, cwd=manifest.parent)
        assert done.returncode == 0, (name, done.stderr)
        listed[name] = {line.split()[0] for line in done.stdout.splitlines()[2:] if line.strip()}
    assert listed["swiftdeploy"] == listed["inv"] == listed["fab"] and "deploy" in listed["inv"]
    rendered = subprocess.run([*INV, "render", "--check", "--manifest", str(manifest)], capture_output=True,
                              text=True, timeout=60, cwd=manifest.parent)
    assert rendered.returncode == 0 and "would change: docker-compose.yml" in rendered.stdout, rendered.stderr


def test_a_core_flag_after_the_task_name_is_named_and_refused(manifest):
    result = run_cli(manifest, "deploy", "-e")
    assert result.returncode == 2
    assert "--echo is not a flag of deploy" in result.stderr and "goes before the task name" in result.stderr
    assert not (manifest.parent / "docker-compose.yml").exists()
