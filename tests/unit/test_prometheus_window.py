"""The Prometheus source reports a server that is down or not ready before it spends a window.

A stdlib HTTP server on loopback stands in for Prometheus' `/-/ready` endpoint (its documented
contract: 200 when ready to serve, 503 while starting); nothing outside Python is needed.
"""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from swiftlib.errors import MetricsSourceError
from swiftlib.lifecycle import prometheus_window
from swiftlib.manifest_file import load_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "good"


@contextmanager
def ready_endpoint(status: int):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            code = status if self.path == "/-/ready" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"Prometheus Server is Ready.\n" if code == 200 else b"Service Unavailable")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_on(port: int):
    manifest = load_manifest(FIXTURES / "minimal.yaml")

    @contextmanager
    def loopback(asked: int):
        assert asked == manifest.metrics.prometheus.port
        yield f"http://127.0.0.1:{port}"

    return SimpleNamespace(manifest=manifest, loopback=loopback)


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"waited {seconds}s for a window although Prometheus cannot answer")


def test_a_stopped_prometheus_fails_closed_before_the_window_is_spent():
    port = free_port()
    with pytest.raises(MetricsSourceError, match=rf"cannot reach Prometheus at http://127.0.0.1:{port}.*/-/ready") as exc:
        prometheus_window.measure(target_on(port), sleep=never_sleep)
    assert exc.value.reason == "unreachable"


def test_a_prometheus_that_is_still_starting_fails_closed_before_the_window_is_spent():
    with ready_endpoint(503) as port:
        with pytest.raises(MetricsSourceError, match=r"is not ready \(/-/ready: HTTP 503\)") as exc:
            prometheus_window.measure(target_on(port), sleep=never_sleep)
    assert exc.value.reason == "not_ready"


def test_a_ready_prometheus_lets_the_window_start():
    waited = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        raise KeyboardInterrupt  # stop right where the window would be spent

    with ready_endpoint(200) as port:
        with pytest.raises(KeyboardInterrupt):
            prometheus_window.measure(target_on(port), sleep=sleep)
    assert waited and waited[0] >= target_on(port).manifest.canary_limits.evaluation_window_seconds
