"""SSH tunnels to a remote host's loopback ports (``ssh -L``), for OPA and the admin port.

    with forward(host, 8181) as local_port:
        requests.get(f"http://127.0.0.1:{local_port}/health")

Same mechanism as Fabric's ``Connection.forward_local`` (a ``direct-tcpip`` channel
per accepted connection on the connection's transport), but not that method, for
two defects found while testing it (Fabric 3.2):
- it binds its listener in a background thread after returning, so the first
  request can be refused; here the listener is bound before ``forward`` yields;
- one connection to a remote port that is not listening yet kills its manager
  thread, and every later connection hangs until the client's timeout. Readiness
  polling (OPA starting up) needs the opposite: that connection is reset at once
  and the next one is tried afresh.
The local port is chosen by the kernel (bind to port 0), so concurrent tunnels from
several threads never race for a port. Local hosts need no tunnel: the port itself
is yielded.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from .errors import HostUnreachable
from .host import Host

_CHANNEL_TIMEOUT = 10.0


@contextmanager
def forward(host: Host, remote_port: int, *, remote_host: str = "127.0.0.1") -> Iterator[int]:
    """Yield a local port on 127.0.0.1 that reaches ``remote_host:remote_port`` as seen by ``host``."""
    if not host.is_remote:
        yield remote_port
        return
    conn = host.connection
    try:
        conn.open()
    except Exception as exc:  # paramiko / socket errors: the host is gone
        raise HostUnreachable(f"cannot open a tunnel: {exc}", host=host.name) from exc
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.setblocking(False)
    # Closing wakes the acceptor and every pump at once: a byte on this pair makes it readable for all
    # (a poll interval instead cost each tunnel up to 0.2 s to close, two or three tunnels per health check).
    wake, waker = socket.socketpair()
    acceptor = threading.Thread(
        target=_accept_loop, args=(listener, conn.transport, (remote_host, remote_port), wake),
        name=f"tunnel-{host.name}-{remote_port}", daemon=True,
    )
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        waker.send(b"x")
        acceptor.join()
        listener.close()
        wake.close()
        waker.close()


def _accept_loop(listener: socket.socket, transport: Any, dest: tuple[str, int], wake: socket.socket) -> None:
    pumps: list[threading.Thread] = []
    while True:
        readable, _, _ = select.select([listener, wake], [], [])
        if wake in readable:
            break
        try:
            client, origin = listener.accept()
        except BlockingIOError:  # another wake-up took it
            continue
        except OSError:
            break
        client.setblocking(True)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            channel = transport.open_channel("direct-tcpip", dest, origin, timeout=_CHANNEL_TIMEOUT)
        except Exception:  # nothing listens there (yet), or the connection died: reset this one only
            _reset(client)
            continue
        pump = threading.Thread(target=_pump, args=(client, channel, wake), daemon=True)
        pump.start()
        pumps.append(pump)
        pumps = [p for p in pumps if p.is_alive()]
    for pump in pumps:
        pump.join()


def _reset(sock: socket.socket) -> None:
    """Close with RST, so the client fails at once (like a refused connection)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def _pump(client: socket.socket, channel: Any, wake: socket.socket) -> None:
    """Copy bytes both ways until either side closes or the tunnel is torn down (``wake`` readable)."""
    try:
        while True:
            readable, _, _ = select.select([client, channel, wake], [], [])
            if wake in readable:
                break
            if client in readable:
                data = client.recv(65536)
                if not data:
                    break
                channel.sendall(data)
            if channel in readable:
                data = channel.recv(65536)
                if not data:
                    break
                client.sendall(data)
    except (OSError, EOFError):
        pass  # either end vanished; closing both below is all there is to do
    finally:
        channel.close()
        client.close()
