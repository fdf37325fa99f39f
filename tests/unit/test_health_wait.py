"""Waiting for /healthz against a real server on loopback: until healthy, until the deadline, or until
what answers it is known to be gone for good."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from swiftlib.errors import HealthCheckFailed
from swiftlib.lifecycle.health import wait_healthy


class BadGateway(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"error":"bad gateway","code":502}'
        self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BadGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    server.shutdown()


class Clock:
    """Time that passes only when the wait sleeps."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1


def test_an_unhealthy_answer_is_polled_until_the_deadline(url):
    clock = Clock()
    with pytest.raises(HealthCheckFailed, match=r"not healthy after 30s; last saw: HTTP 502"):
        wait_healthy(url, deadline_seconds=30, clock=clock, sleep=clock.sleep, ended=lambda: None)
    assert clock.sleeps == 60  # every 0.5 s


def test_a_wait_ends_at_once_when_what_answers_has_ended_for_good(url):
    clock, asked = Clock(), []

    def ended() -> str | None:
        asked.append(clock.now)
        return "sd-app has exited with code 137 (killed) and Docker will not restart it" if len(asked) == 3 else None

    with pytest.raises(HealthCheckFailed) as caught:
        wait_healthy(url, deadline_seconds=30, clock=clock, sleep=clock.sleep, ended=ended)
    assert caught.value.message == (f"{url} not healthy: sd-app has exited with code 137 (killed) and Docker "
                                    "will not restart it; last saw: HTTP 502: {\"error\":\"bad gateway\",\"code\":502}")
    assert asked == [0.0, 0.5, 1.0] and clock.sleeps == 2  # asked after each unhealthy answer, then no more waiting
