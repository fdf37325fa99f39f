"""The project directory on a remote host, over real sshd: atomic writes, reads, sync_dir, and
the containment rules (a subdirectory of the login's home; nothing resolves outside it; only
what SwiftDeploy uploaded is ever deleted).

The sshd here gives the login its own ``$HOME`` (``SetEnv HOME=...``), a fresh directory per
test, so "the login's home" can be filled with files that must survive and checked afterwards.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swiftlib.errors import UsageError
from swiftlib.remote.workspace import UPLOADED_FILE, RemoteWorkspace
from tests.integration.sshd import SshdServer, client_key, host_spec, known_hosts  # noqa: F401

pytestmark = pytest.mark.sshd


class HomeSshd(SshdServer):
    """An sshd whose sessions get ``$HOME`` = ``home`` (sshd's SetEnv overrides the default)."""

    def __init__(self, directory: Path, address: str, client: Any, *, home: Path) -> None:
        super().__init__(directory, address, client)
        self.home = home

    def _write_config(self) -> Path:
        config = super()._write_config()
        config.write_text(config.read_text() + f"SetEnv HOME={self.home}\n")
        return config


@dataclass
class Login:
    host: Any
    home: Path  # the login's $HOME on "the host" (this machine)
    outside: Path  # a directory outside that home, with a file that must survive every test


@pytest.fixture
def login(tmp_path: Path, client_key, known_hosts):  # noqa: F811 - pytest fixtures
    from swiftlib.remote.connect import connect

    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# the login's own file\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.conf").write_text("precious\n")
    server = HomeSshd(tmp_path / "sshd", "127.0.0.2", client_key, home=home).start()
    host = connect(host_spec(server, "remote1"), connect_timeout=5, accept_new_host_keys=True,
                   known_hosts=str(known_hosts))
    try:
        yield Login(host, home, outside)
    finally:
        host.connection.close()
        server.stop()


def _untouched(login: Login) -> None:
    assert (login.home / ".bashrc").read_text() == "# the login's own file\n"
    assert sorted(os.listdir(login.outside)) == ["keep.conf"]
    assert (login.outside / "keep.conf").read_text() == "precious\n"


def _policies(tmp_path: Path) -> Path:
    local = tmp_path / "local" / "policies"
    (local / "lib").mkdir(parents=True)
    (local / "infrastructure.rego").write_text("package swiftdeploy.infrastructure\n")
    (local / "canary.rego").write_text("package swiftdeploy.canary\n")
    (local / "lib/util.rego").write_text("package lib\n")
    return local


def test_write_read_remove(login: Login) -> None:
    ws = RemoteWorkspace(login.host, "project")
    project = login.home / "project"
    assert ws.root == str(project)
    assert ws.read("docker-compose.yml") is None
    text = "services:\n  app:\n    image: \"café:1\"\n" + "x" * 200_000 + "\nno newline at the end"
    start = time.monotonic()
    ws.write("docker-compose.yml", text)
    ws.write(".swiftdeploy/state.json", "{}\n")  # parents are created
    # Bytes go over the channel, not Invoke's 1-byte stdin (which takes minutes for 200 KB);
    # well under a second idle, the bound leaves room for a loaded machine.
    assert time.monotonic() - start < 10
    assert ws.read("docker-compose.yml") == text
    assert (project / "docker-compose.yml").read_text() == text  # it really is on "the host"
    ws.write("docker-compose.yml", "v2\n")
    assert ws.read("docker-compose.yml") == "v2\n"
    assert sorted(os.listdir(project)) == [".swiftdeploy", "docker-compose.yml"]  # no temp left
    assert ws.remove("docker-compose.yml") is True
    assert ws.remove("docker-compose.yml") is False
    assert ws.read("docker-compose.yml") is None
    for name in ("../elsewhere", "/etc/passwd", ".", ""):
        with pytest.raises(UsageError, match="outside the project directory"):
            ws.path(name)


def test_a_string_given_as_stdin_reaches_the_remote_command_in_blocks(login: Login) -> None:
    """Invoke fed ``in_stream`` one byte per 10 ms (a 2 KB compose file took 23 s over `-f -`)."""
    text = "".join(f"line {i}\n" for i in range(4000)) + "é\n"  # 37 KB; the multibyte line ends it
    result = login.host.run(["sh", "-c", "cat; echo end"], stdin=text, timeout=10)
    assert result.stdout == text + "end\n"


def test_relative_root_resolves_against_login_home(login: Login) -> None:
    for root in ("sd", "~/sd", "./sd/", "~/./sd"):
        ws = RemoteWorkspace(login.host, root)
        assert ws.root == str(login.home / "sd")
    ws.write("a.txt", "a")
    assert (login.home / "sd" / "a.txt").read_text() == "a"
    assert RemoteWorkspace(login.host, "~/apps/sd").root == str(login.home / "apps" / "sd")


@pytest.mark.parametrize("root", [".", "./", "", "~", "~/", "~/.", "apps/..", "..", "../x", "/etc", "/", "~//etc"])
def test_the_project_directory_must_be_a_subdirectory_of_the_home(login: Login, root: str) -> None:
    # remote_dir "." made the home the project directory: teardown --clean and the policy sync
    # then deleted the login's files; "/etc" targeted /etc.
    with pytest.raises(UsageError, match="subdirectory of the login's home"):
        RemoteWorkspace(login.host, root)
    _untouched(login)


def test_a_project_directory_linked_out_of_the_home_is_refused(login: Login) -> None:
    """Refused at the first use (the directory is resolved on the host then, once), before anything is
    read or written there."""
    (login.home / "sd").symlink_to(login.outside)
    (login.home / "homelink").symlink_to(login.home)
    with pytest.raises(UsageError, match=f"resolves to {login.outside}/?.*not inside the login's home"):
        RemoteWorkspace(login.host, "sd").write("nginx.conf", "x\n")
    with pytest.raises(UsageError, match="not inside the login's home"):
        RemoteWorkspace(login.host, "homelink").read("nginx.conf")  # a link back to the home itself
    with pytest.raises(UsageError, match="not inside the login's home"):
        RemoteWorkspace(login.host, "sd/deeper/project").path("state.json")  # a missing path below a link out
    _untouched(login)


def test_links_inside_the_project_leading_out_are_refused(login: Login) -> None:
    ws = RemoteWorkspace(login.host, "project")
    ws.write("nginx.conf", "ok\n")
    project = login.home / "project"
    (project / ".swiftdeploy").symlink_to(login.outside)  # a directory link out
    (project / "docker-compose.yml").symlink_to(login.outside / "keep.conf")  # a file link out
    for name in (".swiftdeploy/state.json", ".swiftdeploy/keep.conf", "docker-compose.yml"):
        with pytest.raises(UsageError, match="resolves outside .* on the host"):
            ws.write(name, "owned\n")
        with pytest.raises(UsageError, match="resolves outside"):
            ws.read(name)
        with pytest.raises(UsageError, match="resolves outside"):
            ws.remove(name)
        with pytest.raises(UsageError, match="resolves outside"):
            ws.path(name)
    assert ws.read("nginx.conf") == "ok\n"  # a plain file inside is fine
    _untouched(login)


def test_sync_dir_uploads_only_changes(login: Login, tmp_path: Path) -> None:
    local = _policies(tmp_path)
    (local / ".hidden").write_text("editor swap file\n")
    ws = RemoteWorkspace(login.host, "remote")
    remote = login.home / "remote"

    assert ws.sync_dir(local, "policies") == ["canary.rego", "infrastructure.rego", "lib/util.rego"]
    assert ws.sync_dir(local, "policies") == []  # idempotent: second run changes nothing
    assert not (remote / "policies/.hidden").exists()

    (local / "canary.rego").write_text("package swiftdeploy.canary\n# tuned\n")
    (local / "lib/util.rego").unlink()
    assert ws.sync_dir(local, "policies") == ["canary.rego", "lib/util.rego"]
    assert ws.read("policies/canary.rego") == "package swiftdeploy.canary\n# tuned\n"
    assert not (remote / "policies/lib/util.rego").exists()  # gone locally: gone remotely
    assert ws.sync_dir(local, "policies") == []


def test_sync_dir_removes_only_files_it_uploaded(login: Login, tmp_path: Path) -> None:
    local = _policies(tmp_path)
    ws = RemoteWorkspace(login.host, "remote")
    remote = login.home / "remote" / "policies"
    assert ws.sync_dir(local, "policies") == ["canary.rego", "infrastructure.rego", "lib/util.rego"]
    (remote / "notes.txt").write_text("the operator's notes\n")
    (remote / "site.rego").write_text("package site\n")  # put there by hand, not by SwiftDeploy
    (local / "canary.rego").unlink()
    assert ws.sync_dir(local, "policies") == ["canary.rego"]
    assert sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()) == [
        "infrastructure.rego", "lib/util.rego", "notes.txt", "site.rego"]


def test_sync_dir_on_a_host_without_a_record_removes_only_stale_policies(login: Login, tmp_path: Path) -> None:
    # A host synced by an older SwiftDeploy has no record: a policy gone locally must still
    # not stay in force there, but nothing else is deleted.
    local = _policies(tmp_path)
    remote = login.home / "remote" / "policies"
    remote.mkdir(parents=True)
    (remote / "old.rego").write_text("package old\n")
    (remote / "notes.txt").write_text("the operator's notes\n")
    ws = RemoteWorkspace(login.host, "remote")
    assert ws.read(UPLOADED_FILE) is None
    assert ws.sync_dir(local, "policies") == ["canary.rego", "infrastructure.rego", "lib/util.rego", "old.rego"]
    assert sorted(os.listdir(remote)) == ["canary.rego", "infrastructure.rego", "lib", "notes.txt"]


@pytest.mark.parametrize("subdir", [".", "", "./", "../project", "lib/../"])
def test_sync_dir_refuses_the_project_directory_itself(login: Login, tmp_path: Path, subdir: str) -> None:
    # policies_dir "." synced the policies straight into the project directory and deleted
    # every file there that was not a policy (with remote_dir ".", the login's home).
    local = _policies(tmp_path)
    ws = RemoteWorkspace(login.host, "project")
    ws.write("docker-compose.yml", "services: {}\n")
    with pytest.raises(UsageError, match="outside the project directory"):
        ws.sync_dir(local, subdir)
    assert sorted(os.listdir(login.home / "project")) == ["docker-compose.yml"]
    _untouched(login)


def test_sync_dir_through_a_link_out_of_the_project_is_refused(login: Login, tmp_path: Path) -> None:
    local = _policies(tmp_path)
    ws = RemoteWorkspace(login.host, "project")
    (login.home / "project").mkdir()
    (login.home / "project" / "policies").symlink_to(login.outside)
    with pytest.raises(UsageError, match="resolves outside"):
        ws.sync_dir(local, "policies")
    _untouched(login)


def test_sync_dir_refuses_a_local_policy_linked_out_of_the_policies(login: Login, tmp_path: Path) -> None:
    local = _policies(tmp_path)
    (tmp_path / "id_ed25519").write_text("PRIVATE KEY\n")
    (local / "key.rego").symlink_to(tmp_path / "id_ed25519")
    ws = RemoteWorkspace(login.host, "project")
    with pytest.raises(UsageError, match="outside .*policies"):
        ws.sync_dir(local, "policies")
    assert not (login.home / "project" / "policies").exists()  # nothing was uploaded


def test_remove_tree_removes_only_what_was_uploaded(login: Login, tmp_path: Path) -> None:
    local = _policies(tmp_path)
    ws = RemoteWorkspace(login.host, "project")
    ws.sync_dir(local, "policies")
    remote = login.home / "project" / "policies"
    (remote / "notes.txt").write_text("the operator's notes\n")
    (remote / "mine").mkdir()
    assert ws.remove_tree("policies") == ["canary.rego", "infrastructure.rego", "lib/util.rego"]
    assert sorted(os.listdir(remote)) == ["mine", "notes.txt"]  # lib/ was emptied and removed
    assert ws.read(UPLOADED_FILE) is None  # the record went with the files
    assert ws.remove_tree("policies") == []  # nothing left that SwiftDeploy put there

    (remote / "notes.txt").unlink()
    (remote / "mine").rmdir()
    ws.sync_dir(local, "policies")
    assert ws.remove_tree("./policies/") == ["canary.rego", "infrastructure.rego", "lib/util.rego"]
    assert not remote.exists()  # emptied, so removed too


def test_remove_tree_without_a_record_removes_only_policies(login: Login) -> None:
    remote = login.home / "project" / "policies"
    (remote / "lib").mkdir(parents=True)
    (remote / "canary.rego").write_text("package canary\n")
    (remote / "lib" / "util.rego").write_text("package lib\n")
    (remote / "notes.txt").write_text("the operator's notes\n")
    ws = RemoteWorkspace(login.host, "project")
    assert ws.remove_tree("policies") == ["canary.rego", "lib/util.rego"]
    assert sorted(os.listdir(remote)) == ["notes.txt"]


@pytest.mark.parametrize("subdir", [".", "", "./", "..", "/etc", "../.."])
def test_remove_tree_refuses_the_project_directory_and_anything_outside(login: Login, subdir: str) -> None:
    ws = RemoteWorkspace(login.host, "project")
    ws.write("docker-compose.yml", "services: {}\n")
    with pytest.raises(UsageError, match="outside the project directory"):
        ws.remove_tree(subdir)
    assert (login.home / "project" / "docker-compose.yml").exists()
    _untouched(login)


def test_remove_tree_refuses_links_out(login: Login, tmp_path: Path) -> None:
    ws = RemoteWorkspace(login.host, "project")
    project = login.home / "project"
    project.mkdir()
    (project / "policies").symlink_to(login.home)  # the headline case: policies reaching the home
    (project / "up").symlink_to(project)  # a link back to the project directory itself
    for name in ("policies", "up"):
        with pytest.raises(UsageError, match="resolves outside"):
            ws.remove_tree(name)
    # An uploaded subdirectory later replaced by a link out: its recorded file is not followed.
    ws.sync_dir(_policies(tmp_path), "other")
    shutil.rmtree(project / "other" / "lib")
    (login.outside / "util.rego").write_text("package outside\n")
    (project / "other" / "lib").symlink_to(login.outside)
    with pytest.raises(UsageError, match="resolves outside"):
        ws.remove_tree("other")
    assert (project / "other" / "canary.rego").exists()  # checked before anything is removed
    assert (login.outside / "util.rego").read_text() == "package outside\n"
    (login.outside / "util.rego").unlink()
    _untouched(login)
