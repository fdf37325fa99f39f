"""SSH connections against real sshd: host keys verified, failures fast and named (exit 6)."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from swiftlib.errors import ConfigError, HostUnreachable
from swiftlib.remote.connect import HostSpec, connect
from tests.integration.sshd import (  # noqa: F401 - fixtures
    client_key, closed_port, host_spec, keygen, known_hosts, sshd_factory,
)

pytestmark = pytest.mark.sshd


def test_unknown_key_refused_then_accepted_and_recorded(sshd_factory, known_hosts: Path) -> None:
    server = sshd_factory(1)
    spec = host_spec(server)
    with pytest.raises(HostUnreachable) as err:
        connect(spec, connect_timeout=5, known_hosts=str(known_hosts))
    text = str(err.value)
    assert err.value.exit_code == 6 and err.value.host == spec.name
    assert "--accept-new-host-keys" in text and "not in" in text and "SHA256:" in text
    assert not known_hosts.exists()  # refusing records nothing

    host = connect(spec, connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))
    assert host.is_remote and host.name == spec.name
    assert host.run(["echo", "hello"]).stdout == "hello\n"
    host.connection.close()
    assert known_hosts.read_text() == server.known_hosts_line() + "\n"

    again = connect(spec, connect_timeout=5, known_hosts=str(known_hosts))  # now known: no flag needed
    assert again.run(["id", "-u"]).stdout.strip() == "0"
    again.connection.close()
    assert known_hosts.read_text().count("\n") == 1  # not recorded twice


def test_hashed_known_hosts_entry_is_honoured(sshd_factory, known_hosts: Path) -> None:
    server = sshd_factory(1)
    known_hosts.write_text(server.known_hosts_line() + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known_hosts)], check=True, capture_output=True)
    assert known_hosts.read_text().startswith("|1|")
    connect(host_spec(server), connect_timeout=5, known_hosts=str(known_hosts)).connection.close()


def test_changed_key_always_refused(sshd_factory, known_hosts: Path) -> None:
    server = sshd_factory(1)
    known_hosts.write_text(server.known_hosts_line() + "\n")
    server.stop()
    server.regenerate_host_key()
    server.start()
    before = known_hosts.read_text()
    for accept in (False, True):  # accept-new never overrides a changed key
        with pytest.raises(HostUnreachable) as err:
            connect(host_spec(server), connect_timeout=5, accept_new_host_keys=accept, known_hosts=str(known_hosts))
        text = str(err.value)
        assert "HOST KEY CHANGED" in text and "man-in-the-middle" in text
        assert f"ssh-keygen -f {known_hosts} -R '[{server.address}]:{server.port}'" in text
    assert known_hosts.read_text() == before


def test_closed_port_fails_fast(known_hosts: Path, client_key) -> None:
    spec = HostSpec("gone", "127.0.0.1", closed_port(), "root", str(client_key.private))
    start = time.monotonic()
    with pytest.raises(HostUnreachable, match="connection refused by root@127.0.0.1") as err:
        connect(spec, connect_timeout=30, known_hosts=str(known_hosts))
    assert time.monotonic() - start < 10  # at once, not after the connect timeout
    assert err.value.exit_code == 6 and str(err.value).startswith("[gone] ")


def test_silent_listener_fails_within_connect_timeout(known_hosts: Path, client_key) -> None:
    """A port that accepts TCP but never speaks SSH must not hang the run (banner timeout)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        spec = HostSpec("mute", "127.0.0.1", silent.getsockname()[1], "root", str(client_key.private))
        start = time.monotonic()
        with pytest.raises(HostUnreachable, match="no SSH greeting from root@127.0.0.1"):
            connect(spec, connect_timeout=1.0, known_hosts=str(known_hosts))
        assert time.monotonic() - start < 1.0 + 9  # ended by the timeout, not hanging


def test_wrong_key_is_an_auth_failure(sshd_factory, known_hosts: Path, tmp_path: Path) -> None:
    server = sshd_factory(1)
    stranger = keygen(tmp_path / "stranger")
    spec = HostSpec("h", server.address, server.port, "root", str(stranger.private))
    with pytest.raises(HostUnreachable, match="authentication failed for root@"):
        connect(spec, connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))


def test_missing_key_file_is_a_config_error(known_hosts: Path) -> None:
    spec = HostSpec("h", "127.0.0.2", 22, "root", "/nonexistent/id_ed25519")
    with pytest.raises(ConfigError, match="SSH key file /nonexistent/id_ed25519 not found") as err:
        connect(spec, connect_timeout=1, known_hosts=str(known_hosts))
    assert err.value.exit_code == 2


def test_unresolvable_name(known_hosts: Path) -> None:
    spec = HostSpec("nx", "no-such-host.invalid", 22, "root")
    with pytest.raises(HostUnreachable, match="cannot resolve no-such-host.invalid"):
        connect(spec, connect_timeout=2, known_hosts=str(known_hosts))


def test_fabric_connection_is_hardened(sshd_factory, known_hosts: Path) -> None:
    """The Connection `fab -H` hands a task would accept any key; open_connection verifies it."""
    from fabric import Connection

    from swiftlib.remote.connect import open_connection

    server = sshd_factory(1)
    conn = Connection(server.address, user="root", port=server.port,
                      connect_kwargs={"key_filename": [str(server.client.private)]})
    with pytest.raises(HostUnreachable, match="--accept-new-host-keys"):
        open_connection(conn, connect_timeout=5, known_hosts=str(known_hosts))
    host = open_connection(conn, connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))
    assert host.name == f"root@{server.address}:{server.port}"
    assert host.run(["true"]).ok
    host.connection.close()


def test_a_connection_lost_during_a_command_ends_the_command_at_once(sshd_factory, known_hosts: Path) -> None:
    """The wait for a remote command's end stops when the channel closes without an exit status,
    as Invoke's own loop did: a lost connection is never waited out."""
    import threading

    server = sshd_factory(1)
    host = connect(host_spec(server), connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))
    cut = threading.Timer(0.5, host.connection.client.get_transport().close)
    cut.start()
    started = time.monotonic()
    try:
        result = host.run(["sleep", "30"], check=False)
        assert not result.ok
    except HostUnreachable:
        pass  # also an honest answer
    finally:
        cut.cancel()
        host.connection.close()
    assert time.monotonic() - started < 5


def _nagle_off(host) -> bool:
    sock = host.connection.client.get_transport().sock
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_the_connection_sends_small_messages_at_once(sshd_factory, known_hosts: Path) -> None:
    """Nagle's algorithm is off on the SSH socket (TCP_NODELAY, as OpenSSH sets it): with it on, each
    command's channel open waited about 40 ms for the server's delayed ACK. Also on the Connection
    `fab -H` hands a task, and after Fabric reopens a closed connection for the next command."""
    from fabric import Connection

    from swiftlib.remote.connect import open_connection

    server = sshd_factory(1)
    host = connect(host_spec(server), connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))
    try:
        assert _nagle_off(host)
        host.connection.close()
        assert host.run(["true"]).ok  # Fabric opens it again
        assert _nagle_off(host)
    finally:
        host.connection.close()
    conn = Connection(server.address, user="root", port=server.port,
                      connect_kwargs={"key_filename": [str(server.client.private)]})
    fab_host = open_connection(conn, connect_timeout=5, known_hosts=str(known_hosts))
    try:
        assert _nagle_off(fab_host)
        assert fab_host.run(["true"]).ok
    finally:
        fab_host.connection.close()


def test_commands_that_end_before_reading_their_stdin_leave_the_connection_up(sshd_factory, known_hosts: Path) -> None:
    """Commands on one connection at once, each ending before it reads its stdin: the EOF for a channel
    the server has already closed is never sent (OpenSSH drops the whole connection for it, and every
    command on it failed "without an exit status"). Through both paths: bytes, and Invoke's runner."""
    from concurrent.futures import ThreadPoolExecutor

    from swiftlib.remote.channel import run_bytes

    server = sshd_factory(1)
    host = connect(host_spec(server), connect_timeout=5, accept_new_host_keys=True, known_hosts=str(known_hosts))
    try:
        with ThreadPoolExecutor(6) as pool:
            for _ in range(60):
                assert [r.exited for r in pool.map(lambda _: run_bytes(host, "true"), range(6))] == [0] * 6
                assert all(r.ok for r in pool.map(lambda _: host.run(["true"], stdin="unread"), range(6)))
    finally:
        host.connection.close()
