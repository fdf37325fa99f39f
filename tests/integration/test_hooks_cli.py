"""Lifecycle hooks as a user meets them: a failing pre-hook stops the command before anything
changes (exit 7), a hook that is not executable is bad input (exit 2), hook runs are audited."""
from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_cli
from tests.integration.stack import docker, make_project


def hook(project_dir, name: str, body: str, *, executable: bool = True) -> None:
    path = project_dir / "hooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755 if executable else 0o644)


def events(manifest) -> list[dict]:
    path = manifest.parent / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.docker
def test_a_failing_pre_deploy_hook_stops_before_anything_changes(tmp_path):
    manifest = make_project(tmp_path, prefix="sdhook", base_port=23780)
    hook(tmp_path, "pre-deploy", 'echo "change freeze until Monday" >&2\nexit 9')
    result = run_cli(manifest, "deploy")
    assert result.returncode == 7, result.stdout + result.stderr
    assert "pre-deploy" in result.stdout and "change freeze until Monday" in result.stdout
    assert not (tmp_path / "docker-compose.yml").exists()
    assert docker("ps", "-a", "--filter", "label=com.docker.compose.project=sdhook", "--format", "{{.Names}}") == ""
    hooks = [e for e in events(manifest) if e["event_type"] == "hook"]
    assert hooks and hooks[-1]["data"]["exit_code"] == 9


def test_a_hook_that_is_not_executable_is_bad_input(tmp_path):
    manifest = make_project(tmp_path, prefix="sdhook2", base_port=23880)
    hook(tmp_path, "pre-promote", "exit 0", executable=False)
    result = run_cli(manifest, "promote", "--mode", "canary")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "hooks/pre-promote" in result.stdout + result.stderr and "chmod +x" in result.stdout + result.stderr
    assert "mode: stable" in manifest.read_text()


def test_hooks_get_the_context_and_post_hooks_the_outcome(tmp_path):
    manifest = make_project(tmp_path, prefix="sdhook3", base_port=23980)
    for name in ("pre-rollback", "post-rollback"):
        hook(tmp_path, name, f'env | grep ^SWIFTDEPLOY_ | sort > "{tmp_path}/{name}.env"')
    result = run_cli(manifest, "rollback")  # nothing to roll back: still a command with hooks
    assert result.returncode == 0, result.stdout + result.stderr
    pre = dict(line.split("=", 1) for line in (tmp_path / "pre-rollback.env").read_text().splitlines())
    post = dict(line.split("=", 1) for line in (tmp_path / "post-rollback.env").read_text().splitlines())
    assert pre["SWIFTDEPLOY_COMMAND"] == "rollback" and pre["SWIFTDEPLOY_HOSTS"] == "local"
    assert pre["SWIFTDEPLOY_VERSION"] == "1.0.0" and pre["SWIFTDEPLOY_MODE"] == "stable"
    assert post["SWIFTDEPLOY_STATUS"] == "ok" and post["SWIFTDEPLOY_EXIT_CODE"] == "0"
    assert "SWIFTDEPLOY_STATUS" not in pre
    assert [e["data"]["hook"] for e in events(manifest) if e["event_type"] == "hook"] == ["pre-rollback", "post-rollback"]
    assert os.access(tmp_path / "hooks" / "pre-rollback", os.X_OK)
