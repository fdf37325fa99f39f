"""One runner behind every entry point: the same hook fires under `inv`, `fab -H` and `ansible-playbook`.

Each entry point only parses its arguments and calls `swiftlib.run.driver`; this is the
seam that proves it. A `pre-rollback` / `post-rollback` hook pair writes one line per run;
`rollback` with no canary is a real command that changes nothing (it never needs a stack).
"""
from __future__ import annotations

import pytest

from tests.integration.fleet_env import ClientHome, RemoteSshd
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import make_project
from tests.integration.test_ansible_playbook import COMPAT, ansible_env, recap, show
from tests.conftest import ansible_tool, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.sshd, pytest.mark.ansible]

ADDRESS, PREFIX, PORT = "127.0.0.47", "sdrunner", 24880
HOOK = '#!/bin/sh\necho "$0 $SWIFTDEPLOY_COMMAND $SWIFTDEPLOY_HOSTS ${SWIFTDEPLOY_EXIT_CODE:-}" >> "{log}"\n'


@pytest.fixture
def project(tmp_path):
    manifest = make_project(tmp_path / "project", prefix=PREFIX, base_port=PORT,
                            deploy={"project_name": PREFIX, "remote_dir": "runner-project"})
    hooks = manifest.parent / "hooks"
    hooks.mkdir()
    for name in ("pre-rollback", "post-rollback"):
        (hooks / name).write_text(HOOK.replace("{log}", str(tmp_path / "hooks.log")))
        (hooks / name).chmod(0o755)
    return manifest


def fired(tmp_path) -> list[str]:
    log = tmp_path / "hooks.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [" ".join(part.rsplit("/", 1)[-1] for part in line.split(" ", 1)).strip() for line in lines]


def test_the_same_hook_fires_under_inv_fab_and_ansible_playbook(project, tmp_path, tmp_path_factory,
                                                               client_key):  # noqa: F811
    done = run_cli(project, "rollback")
    assert done.returncode == 0, done.stdout + done.stderr
    assert fired(tmp_path) == ["pre-rollback rollback local", "post-rollback rollback local 0"]

    server = RemoteSshd(tmp_path / "sshd", ADDRESS, client_key, home=tmp_path / "login").start()
    try:
        home = ClientHome(tmp_path / "home", client_key, (server,))
        done = home.fab(project, server, "rollback")
        assert done.returncode == 0, done.stdout + done.stderr
        remote = f"{ADDRESS}:{server.port}"
        assert fired(tmp_path) == [f"pre-rollback rollback {remote}", f"post-rollback rollback {remote} 0"]
    finally:
        server.stop()

    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[controllers]\ncontroller ansible_connection=local\n")
    import subprocess

    proc = subprocess.run([ansible_tool("ansible-playbook"), "-i", str(inventory), str(COMPAT / "rollback.yml"),
                           "-e", f"swiftdeploy_manifest={project}"], capture_output=True, text=True, timeout=300,
                          env=ansible_env(tmp_path / "ansible-home"), cwd=project.parent)
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["failed"] == 0
    assert fired(tmp_path) == ["pre-rollback rollback controller", "post-rollback rollback controller 0"]


def test_a_failing_pre_hook_stops_the_play_under_ansible_playbook(project, tmp_path):
    (project.parent / "hooks" / "pre-rollback").write_text("#!/bin/sh\necho 'change freeze' >&2\nexit 9\n")
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[controllers]\ncontroller ansible_connection=local\n")
    import subprocess

    proc = subprocess.run([ansible_tool("ansible-playbook"), "-v", "-i", str(inventory), str(COMPAT / "rollback.yml"),
                           "-e", f"swiftdeploy_manifest={project}"], capture_output=True, text=True, timeout=300,
                          env=ansible_env(tmp_path / "ansible-home"), cwd=project.parent)
    assert proc.returncode == 2, show(proc)  # ansible-playbook: a host failed
    assert recap(proc)["controller"]["failed"] == 1
    assert '"rc": 7' in proc.stdout and "pre-rollback" in proc.stdout, show(proc)
