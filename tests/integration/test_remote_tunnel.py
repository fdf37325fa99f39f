"""SSH tunnels to a loopback-only server on the remote host (how the CLI reaches OPA and admin)."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from swiftlib.host import Host
from swiftlib.tunnel import forward
from tests.integration.sshd import client_key, free_port, known_hosts, remote_host, sshd_factory  # noqa: F401

pytestmark = pytest.mark.sshd


def http_server(directory: Path, port: int) -> subprocess.Popen:
    """python -m http.server bound to 127.0.0.1 only (as OPA's published port is)."""
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                            cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("http.server did not start")


def test_tunnel_reaches_loopback_only_server(remote_host, tmp_path: Path) -> None:
    (tmp_path / "health").write_text("ok from the remote loopback\n")
    port = free_port("127.0.0.1")
    server = http_server(tmp_path, port)
    try:
        with pytest.raises(requests.ConnectionError):  # not reachable on the host's "public" address
            requests.get(f"http://{remote_host.connection.host}:{port}/health", timeout=2)
        with forward(remote_host, port) as local_port:
            assert local_port != port
            for _ in range(3):  # several requests through one tunnel
                reply = requests.get(f"http://127.0.0.1:{local_port}/health", timeout=5)
                assert reply.text == "ok from the remote loopback\n"
        with pytest.raises(requests.ConnectionError):  # the tunnel is gone after the block
            requests.get(f"http://127.0.0.1:{local_port}/health", timeout=2)
    finally:
        server.kill()
        server.wait()


def test_closing_a_tunnel_is_immediate_and_closes_what_it_carried(remote_host, tmp_path: Path) -> None:
    """A health check opens two or three tunnels in a row: each must close at once, even while a client
    holds an idle connection through it (a poll interval made each close wait up to 0.2 s)."""
    import statistics

    port = free_port("127.0.0.1")
    server = http_server(tmp_path, port)
    took = []
    try:
        for _ in range(5):
            with forward(remote_host, port) as local_port:
                held = socket.create_connection(("127.0.0.1", local_port), timeout=5)
                time.sleep(0.05)  # the pump is waiting on both ends
                started = time.perf_counter()
            took.append(time.perf_counter() - started)
            held.settimeout(5)
            assert held.recv(1) == b""  # the tunnel closed the connection it carried
            held.close()
    finally:
        server.kill()
        server.wait()
    # A 0.2 s poll closed in 0.16 s (median); a wake-up closes in milliseconds, under 0.1 s on a busy machine.
    assert statistics.median(took) < 0.1, took


def test_concurrent_tunnels_from_threads(remote_host, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    port = free_port("127.0.0.1")
    server = http_server(tmp_path, port)
    ports: list[int] = []
    errors: list[BaseException] = []

    def use_tunnel() -> None:
        try:
            with forward(remote_host, port) as local_port:
                ports.append(local_port)
                assert requests.get(f"http://127.0.0.1:{local_port}/x", timeout=5).text == "x"
                time.sleep(0.2)  # hold it open while the others open theirs
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=use_tunnel) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.kill()
        server.wait()
    assert not errors
    assert len(set(ports)) == 4  # each tunnel got its own local port


def test_tunnel_survives_a_server_that_is_not_up_yet(remote_host, tmp_path: Path) -> None:
    """Readiness polling: a refused attempt fails at once, and a later one gets through."""
    (tmp_path / "health").write_text("up")
    port = free_port("127.0.0.1")
    with forward(remote_host, port) as local_port:
        start = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{local_port}/health", timeout=30)
        assert time.monotonic() - start < 10  # refused at once, not after the client's timeout
        server = http_server(tmp_path, port)
        try:
            assert requests.get(f"http://127.0.0.1:{local_port}/health", timeout=5).text == "up"
        finally:
            server.kill()
            server.wait()


def test_local_host_needs_no_tunnel() -> None:
    with forward(Host.local(), 8181) as port:
        assert port == 8181
