"""Secrets on a remote host over real SSH: the value travels in the SSH session, lands 0400 owned by
the app's user in the host's project directory, the app reads it, and teardown removes it."""
from __future__ import annotations

import os
import secrets as random

import pytest

from tests.conftest import exited as ok
from tests.integration.one_host import home, server  # noqa: F401 - fixtures
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import docker, make_project, remove_stack

pytestmark = [pytest.mark.sshd, pytest.mark.docker]

PREFIX, PORT, ADDRESS = "sdrsec", 26380, "127.0.0.48"
REMOTE_DIR = "secret-project"


def test_a_secret_reaches_the_remote_app_only_through_ssh_and_leaves_with_teardown(tmp_path, home, server):  # noqa: F811
    value = f"remote-{random.token_hex(8)}"
    manifest = make_project(tmp_path / "project", prefix=PREFIX, base_port=PORT, deploy={"remote_dir": REMOTE_DIR})
    manifest.write_text(manifest.read_text() + "secrets:\n  API_TOKEN: {env: SWD_REMOTE_TOKEN}\n")
    os.environ["SWD_REMOTE_TOKEN"] = value  # the controller's environment; home.inv passes it on
    try:
        deployed = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec))
        assert "API_TOKEN placed" in deployed.stdout and value not in deployed.stdout + deployed.stderr
        on_host = server.home / REMOTE_DIR / ".swiftdeploy" / "secrets" / "API_TOKEN"
        stat = os.stat(on_host)
        assert (stat.st_mode & 0o777, stat.st_uid) == (0o400, 10001)
        assert oct(os.stat(on_host.parent).st_mode & 0o777) == "0o700"
        assert docker("exec", f"{PREFIX}-app", "cat", "/run/secrets/API_TOKEN") == value
        assert not (manifest.parent / ".swiftdeploy" / "secrets").exists()  # never on the controller's disk
        ok(home.inv(manifest, "teardown", "--hosts", server.host_spec))
        assert not on_host.exists()
    finally:
        del os.environ["SWD_REMOTE_TOKEN"]
        home.inv(manifest, "teardown", "--clean", "--hosts", server.host_spec)
        remove_stack(PREFIX)
