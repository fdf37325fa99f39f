"""`inv dashboard`: the live status in a web page, served on 127.0.0.1 by this machine.

    model.py    pure: the page's JSON (latest frame, decisions, audit events, rollout; chart columns)
    sampler.py  the one loop that takes status frames and keeps them in the metrics history
    server.py   the standard library's ThreadingHTTPServer, loopback only, read-only routes
    static/     the page, its script and style, and uPlot (vendored, see static/vendor/README.md)

``serve`` runs until Ctrl-C (KeyboardInterrupt, left to the caller) or ``stop_event``; either
way the HTTP server and its thread are shut down before it returns or raises. For a remote
target nothing changes: the frames reach the host's admin port through ``Target.loopback``.
"""
from __future__ import annotations

import threading
from datetime import tzinfo
from typing import Any, Callable

from ..errors import UsageError
from .sampler import Sampler
from .server import LOOPBACK, DashboardApp, DashboardServer, make_server

__all__ = ["serve", "LOOPBACK"]

DEFAULT_PORT = 8090


def serve(project: Any, target: Any, engine: Any, *, port: int = DEFAULT_PORT, interval: float = 2.0,
          on_ready: Callable[[str], None] | None = None, stop_event: threading.Event | None = None,
          host: str = LOOPBACK, tz: tzinfo | None = None) -> None:
    """Serve the dashboard for ``target`` until ``stop_event`` is set or Ctrl-C.

    Every ``interval`` seconds a status frame is taken and kept in the metrics history, in a
    worker thread: the only one that touches the target and ``engine``. The calling thread
    only waits, so Ctrl-C reaches it as KeyboardInterrupt (a command running on the host
    would otherwise catch it: Invoke forwards it to the command and carries on), and is
    re-raised after the HTTP server and the worker have stopped. ``on_ready`` gets the
    page's URL once the server listens (``port=0`` picks a free port). A port in use or an
    address other than 127.0.0.1 raises UsageError before anything starts.
    """
    if not interval or interval <= 0:
        raise UsageError(f"--interval: expected a positive number of seconds, got {interval!r}")
    sampler = Sampler(project, target, engine, interval=interval)
    app = DashboardApp(sampler.snapshot, project.root, target.name, interval=interval, tz=tz)
    server: DashboardServer = make_server(app, port=port, host=host)
    stop = stop_event if stop_event is not None else threading.Event()
    http_thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                   name=f"swiftdeploy-dashboard-http:{server.port}", daemon=True)
    worker = threading.Thread(target=sampler.run, args=(stop,), name="swiftdeploy-dashboard-frames", daemon=True)
    try:
        http_thread.start()
        worker.start()
        if on_ready is not None:
            on_ready(server.url)
        while not stop.wait(0.25):
            if not worker.is_alive():
                break
    finally:
        stop.set()
        if http_thread.is_alive():
            server.shutdown()  # returns once serve_forever has stopped
        server.server_close()
        http_thread.join(timeout=5)
        if worker.is_alive():  # it ends after the frame it is taking (each step has its own timeout)
            worker.join(timeout=max(15.0, 2 * interval))
    if sampler.crashed is not None:
        raise sampler.crashed
