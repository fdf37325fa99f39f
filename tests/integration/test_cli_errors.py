"""Bad command-line input: a clear message, exit 2, and no Python traceback — for every task."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_inv
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
    result = run_inv(manifest, task, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_short_flag_m_is_the_manifest_on_every_task(manifest):
    import subprocess
    import sys

    from tests.conftest import REPO

    missing = str(manifest.parent / "missing.yaml")
    for task in ("render", "validate", "deploy", "status", "audit", "bootstrap"):
        result = subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), task, "-m", missing],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "missing.yaml" in result.stdout + result.stderr, (task, result.stderr)


def test_json_reports_errors_no_step_recorded(manifest):
    manifest.write_text("- just\n- a list\n")
    result = run_inv(manifest, "render", "--json")
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and "top level: expected a mapping" in doc["error"]


def test_audit_history_that_is_a_directory_is_a_clear_error(manifest):
    (manifest.parent / "history.jsonl").mkdir()
    result = run_inv(manifest, "audit", "--verify")
    assert result.returncode == 2 and "cannot use as the audit history" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_no_docker_engine_is_named_as_such(manifest):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), "deploy", "--manifest", str(manifest)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "FAIL  docker engine: no Docker engine answers on local" in result.stdout
    assert "inv bootstrap" in result.stdout
