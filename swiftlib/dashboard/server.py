"""The dashboard's HTTP side: the standard library's ThreadingHTTPServer on 127.0.0.1 only.

Routes (GET and HEAD; anything else is refused):

    /                              the page
    /static/<asset>                its script and style, and the vendored uPlot (a fixed list)
    /api/state                     the latest frame, decisions, audit events, rollout (model.state_document)
    /api/series?since=EPOCH        chart samples from the metrics history (model.series_of);
                                   without ``since``, the last hour

The server binds the loopback address and nothing else, and answers only requests whose
``Host`` is that address or ``localhost`` (a web page elsewhere cannot reach it through a
DNS name that resolves to 127.0.0.1). It serves only what the sampler published and what
the metrics history holds: nothing here touches the target or writes anything.
"""
from __future__ import annotations

import json
import math
import os
import time
from datetime import tzinfo
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from ..metrics import history as metrics_history
from ..errors import UsageError
from .model import series_of, state_document

LOOPBACK = "127.0.0.1"
STATIC = Path(__file__).resolve().parent / "static"
SERIES_WINDOW_SECONDS = 3600
ASSETS = {  # URL path -> (file under static/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
    "/static/vendor/uPlot.iife.min.js": ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "/static/vendor/uPlot.min.css": ("vendor/uPlot.min.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _finite(doc: Any) -> Any:
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_finite(v) for v in doc]
    return doc


class SeriesSource:
    """The metrics history of one host, parsed again only when the file changed."""

    def __init__(self, project_root: Path, host: str) -> None:
        self.root, self.host = Path(project_root), host
        self._key: tuple[int, int, int] | None = None
        self._samples: list[dict[str, Any]] = []

    def samples(self) -> list[dict[str, Any]]:
        path = metrics_history.history_path(self.root, self.host)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key:  # a race with a writer only means one more read next time
            self._samples, self._key = metrics_history.read(self.root, self.host), key
        return self._samples


class DashboardApp:
    """What the handlers serve: the sampler's snapshot and the host's chart samples, as JSON."""

    def __init__(self, snapshot: Callable[[], Any], project_root: Path, host: str, *, interval: float,
                 tz: tzinfo | None = None, clock: Callable[[], float] = time.time) -> None:
        self._snapshot, self._series = snapshot, SeriesSource(project_root, host)
        self.interval, self.tz, self.clock = interval, tz, clock
        self.gap_seconds = max(3 * interval, interval + 5)
        self.assets = {route: ((STATIC / name).read_bytes(), ctype) for route, (name, ctype) in ASSETS.items()}

    def state(self) -> dict[str, Any]:
        return state_document(self._snapshot(), tz=self.tz)

    def series(self, since: float | None) -> dict[str, Any]:
        if since is None:
            since = self.clock() - SERIES_WINDOW_SECONDS
        return series_of(self._series.samples(), since=since, gap_seconds=self.gap_seconds)


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True       # a stuck client never keeps the process alive
    allow_reuse_address = True  # a restarted dashboard gets its port back at once

    def __init__(self, port: int, app: DashboardApp) -> None:
        self.app = app
        super().__init__((LOOPBACK, port), Handler)
        self.allowed_hosts = {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}
        if self.port == 80:
            self.allowed_hosts |= {LOOPBACK, "localhost"}

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"


def make_server(app: DashboardApp, *, port: int, host: str = LOOPBACK) -> DashboardServer:
    """A server on 127.0.0.1:``port`` (0: any free port); any other address is refused."""
    if host != LOOPBACK:
        raise UsageError(f"the dashboard listens on {LOOPBACK} only, got {host!r}; "
                         "to watch it from elsewhere, forward the port over SSH (ssh -L)")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"--port: expected an integer 0-65535, got {port!r}")
    try:
        return DashboardServer(port, app)
    except OSError as exc:
        raise UsageError(f"cannot listen on {LOOPBACK}:{port} ({exc.strerror or exc}); "
                         "choose another port with --port") from exc


class Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "SwiftDeployDashboard"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the library never prints
        return

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _refuse_method(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, *self._json({"error": "read-only: GET or HEAD"}),
                   head=False, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse_method  # type: ignore[assignment]

    def _respond(self, *, head: bool) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed_hosts:
            self._send(HTTPStatus.MISDIRECTED_REQUEST, *self._json(
                {"error": f"this dashboard answers only as {self.server.url}"}), head=head)
            return
        url = urlsplit(self.path)
        app = self.server.app
        try:
            if url.path in app.assets:
                body, ctype = app.assets[url.path]
                self._send(HTTPStatus.OK, body, ctype, head=head, extra={"Cache-Control": "no-cache"})
            elif url.path == "/api/state":
                self._send(HTTPStatus.OK, *self._json(app.state()), head=head)
            elif url.path == "/api/series":
                since = self._since(parse_qs(url.query).get("since", [""])[-1])
                if since is False:
                    self._send(HTTPStatus.BAD_REQUEST, *self._json(
                        {"error": "since: expected epoch seconds (a number)"}), head=head)
                else:
                    self._send(HTTPStatus.OK, *self._json(app.series(since)), head=head)
            else:
                self._send(HTTPStatus.NOT_FOUND, *self._json({"error": f"no such page: {url.path}"}), head=head)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # noqa: BLE001 - one bad request never ends the server
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, *self._json(
                {"error": f"{type(exc).__name__}: {exc}"}), head=head)

    @staticmethod
    def _since(text: str) -> float | None | bool:
        if text == "":
            return None
        try:
            value = float(text)
        except ValueError:
            return False
        return value if value == value and abs(value) != float("inf") else False

    @staticmethod
    def _json(doc: Any) -> tuple[bytes, str]:
        try:
            text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a NaN or infinity somewhere: JSON has none, the page reads null
            text = json.dumps(_finite(doc), separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8"), "application/json"

    def _send(self, status: int, body: bytes, ctype: str, *, head: bool, extra: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if ctype == "application/json":
                self.send_header("Cache-Control", "no-store")
            for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return
