"""The project directory on a remote host, over real sshd: atomic writes, reads, sync_dir."""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from swiftlib.errors import UsageError
from swiftlib.remote.workspace import RemoteWorkspace
from tests.integration.sshd import client_key, known_hosts, remote_host, sshd_factory  # noqa: F401

pytestmark = pytest.mark.sshd


def test_write_read_remove(remote_host, tmp_path: Path) -> None:
    ws = RemoteWorkspace(remote_host, str(tmp_path / "project"))
    assert ws.root == str(tmp_path / "project")
    assert ws.read("docker-compose.yml") is None
    text = "services:\n  app:\n    image: \"café:1\"\n" + "x" * 200_000 + "\nno newline at the end"
    start = time.monotonic()
    ws.write("docker-compose.yml", text)
    ws.write(".swiftdeploy/state.json", "{}\n")  # parents are created
    assert time.monotonic() - start < 2  # bytes go over the channel, not Invoke's 1-byte stdin
    assert ws.read("docker-compose.yml") == text
    assert (tmp_path / "project/docker-compose.yml").read_text() == text  # it really is on "the host"
    ws.write("docker-compose.yml", "v2\n")
    assert ws.read("docker-compose.yml") == "v2\n"
    assert sorted(os.listdir(tmp_path / "project")) == [".swiftdeploy", "docker-compose.yml"]  # no temp left
    assert ws.remove("docker-compose.yml") is True
    assert ws.remove("docker-compose.yml") is False
    assert ws.read("docker-compose.yml") is None
    with pytest.raises(UsageError, match="outside the project directory"):
        ws.path("../elsewhere")


def test_relative_root_resolves_against_login_home(remote_host) -> None:
    name = f"sdtest-{secrets.token_hex(4)}"
    home = os.path.expanduser("~")  # the test logs in as this machine's root: same home
    for root in (name, f"~/{name}"):
        ws = RemoteWorkspace(remote_host, root)
        assert ws.root == os.path.join(home, name)
    try:
        ws.write("a.txt", "a")
        assert Path(home, name, "a.txt").read_text() == "a"
    finally:
        remote_host.run(["rm", "-rf", "--", ws.root])


def test_sync_dir_uploads_only_changes(remote_host, tmp_path: Path) -> None:
    local = tmp_path / "policies"
    (local / "lib").mkdir(parents=True)
    (local / "infrastructure.rego").write_text("package swiftdeploy.infrastructure\n")
    (local / "canary.rego").write_text("package swiftdeploy.canary\n")
    (local / "lib/util.rego").write_text("package lib\n")
    (local / ".hidden").write_text("editor swap file\n")
    ws = RemoteWorkspace(remote_host, str(tmp_path / "remote"))

    assert ws.sync_dir(local, "policies") == ["canary.rego", "infrastructure.rego", "lib/util.rego"]
    assert ws.sync_dir(local, "policies") == []  # idempotent: second run changes nothing
    assert not (tmp_path / "remote/policies/.hidden").exists()

    (local / "canary.rego").write_text("package swiftdeploy.canary\n# tuned\n")
    (local / "lib/util.rego").unlink()
    assert ws.sync_dir(local, "policies") == ["canary.rego", "lib/util.rego"]
    assert ws.read("policies/canary.rego") == "package swiftdeploy.canary\n# tuned\n"
    assert not (tmp_path / "remote/policies/lib/util.rego").exists()  # gone locally: gone remotely
    assert ws.sync_dir(local, "policies") == []
