"""The deploy lock, for real: on a remote host over sshd and on the local host, same code."""
from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from swiftlib.errors import LockHeld
from swiftlib.host import Host
from swiftlib.remote import lock
from swiftlib.remote.workspace import RemoteWorkspace
from swiftlib.workspace import LocalWorkspace
from tests.integration.sshd import client_key, known_hosts, remote_host, sshd_factory  # noqa: F401

pytestmark = pytest.mark.sshd


@pytest.fixture(params=["local", "remote"])
def target(request, tmp_path: Path):
    """(host, workspace) for the local host, or for a remote one over sshd (the project
    directory ``project`` under the login's own home, ``tmp_path/home1``)."""
    if request.param == "local":
        return Host.local(), LocalWorkspace(tmp_path / "project")
    host = request.getfixturevalue("remote_host")
    workspace = RemoteWorkspace(host, "project")
    assert workspace.root == str(tmp_path / "home1" / "project")
    return host, workspace


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def plant(workspace, **fields) -> None:
    record = dict(holder="bob@elsewhere", controller="elsewhere", pid=1, time=lock._now().isoformat(),
                  command="deploy", message="", token="planted-token")
    record.update(fields)
    workspace.write(lock.LOCK_FILE, json.dumps(record))


def test_second_run_refused_with_holder_info(target) -> None:
    host, ws = target
    assert lock.status(host, ws) is None
    with lock.acquire(host, ws, "deploy", "release 1.2") as held:
        info = lock.status(host, ws)
        assert info == held.info and info.command == "deploy" and info.message == "release 1.2"
        assert info.holder.endswith("@" + socket.gethostname())
        with pytest.raises(LockHeld) as err:
            lock.acquire(host, ws, "promote")
        text = str(err.value)
        assert err.value.exit_code == 1 and err.value.host == host.name
        assert info.holder in text and "`deploy`" in text and "'release 1.2'" in text
        assert "inv lock --status" in text and "inv lock --release" in text
        assert err.value.stale is None and err.value.info == info
    assert lock.status(host, ws) is None  # leaving the block released it


def test_stale_lock_detected_and_released(target) -> None:
    host, ws = target
    plant(ws, controller=socket.gethostname(), holder=f"root@{socket.gethostname()}", pid=dead_pid())
    with pytest.raises(LockHeld, match=r"looks stale \(process \d+ on .* is no longer running\)") as err:
        lock.acquire(host, ws, "deploy")
    assert "inv lock --release" in str(err.value)
    released = lock.release(host, ws)
    assert released is not None and released.token == "planted-token"
    assert lock.status(host, ws) is None
    lock.acquire(host, ws, "deploy").release()


def test_live_foreign_lock_needs_force(target) -> None:
    host, ws = target
    plant(ws)
    with pytest.raises(LockHeld, match="inv lock --release --force"):
        lock.release(host, ws)
    assert lock.status(host, ws).holder == "bob@elsewhere"
    assert lock.release(host, ws, force=True).holder == "bob@elsewhere"
    assert lock.release(host, ws) is None  # already free


def test_release_never_removes_a_newer_lock(target) -> None:
    host, ws = target
    first = lock.acquire(host, ws, "deploy")
    assert lock.release(host, ws, force=True).token == first.info.token  # someone forced it away
    second = lock.acquire(host, ws, "deploy")
    first.release()  # the first run ends late: must not drop the second run's lock
    assert lock.status(host, ws).token == second.info.token
    second.release()
    assert lock.status(host, ws) is None


def test_old_lock_is_stale_by_ttl(target) -> None:
    host, ws = target
    plant(ws, time="2000-01-01T00:00:00+00:00")
    with pytest.raises(LockHeld, match="looks stale .*longer than the 60m lock TTL"):
        lock.acquire(host, ws, "deploy")
    assert lock.release(host, ws) is not None


def test_exactly_one_of_many_concurrent_runs_wins(target) -> None:
    host, ws = target
    won: list[lock.Lock] = []
    refused: list[LockHeld] = []

    def contend() -> None:
        try:
            won.append(lock.acquire(host, ws, "deploy"))
        except LockHeld as exc:
            refused.append(exc)

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 5
    assert lock.status(host, ws).token == won[0].info.token
    won[0].release()
    assert lock.status(host, ws) is None
