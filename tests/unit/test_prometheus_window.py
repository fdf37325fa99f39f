"""The Prometheus source reports a server that is down or not ready before it spends a window,
and asks about a window only once its last samples have landed.

A stdlib HTTP server on loopback stands in for Prometheus' `/-/ready` endpoint (its documented
contract: 200 when ready to serve, 503 while starting) and its instant-query API; nothing
outside Python is needed.
"""
from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from swiftlib.errors import MetricsSourceError
from swiftlib.observe import prometheus_window
from swiftlib.manifest.load import load_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "good"


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]):
    """``handler`` on a free loopback port for the block; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


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

    with serving(Handler) as port:
        yield port


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


# The exact PromQL the gate must send for the minimal manifest's 60 s window, and the answer to
# each (canary and stable differ, so a track mixed up shows). The fake used to answer every
# window question alike, whatever its text, so a wrong query could not fail these tests; now a
# query that is not listed here gets Prometheus' error answer (HTTP 400, bad_data).
LAST_SCRAPE = 'min(timestamp(up{track=~"canary|stable"}))'
WINDOW_ANSWERS = {
    'sum(increase(http_requests_total{track="canary",path!~"/healthz|/metrics|/chaos"}[60s]))': 40.0,
    'sum(increase(http_requests_total{track="canary",path!~"/healthz|/metrics|/chaos",status_code=~"5.."}[60s]))'
    ' or vector(0)': 2.0,
    'histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket'
    '{track="canary",path!~"/healthz|/metrics|/chaos"}[60s])))': 0.004,
    'sum(increase(http_requests_total{track="stable",path!~"/healthz|/metrics|/chaos"}[60s]))': 50.0,
    'sum(increase(http_requests_total{track="stable",path!~"/healthz|/metrics|/chaos",status_code=~"5.."}[60s]))'
    ' or vector(0)': 1.0,
    'histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket'
    '{track="stable",path!~"/healthz|/metrics|/chaos"}[60s])))': 0.003,
}


@contextmanager
def query_endpoint(last_scrapes: list[float]):
    """Prometheus' instant-query API (200, resultType vector) answering only the queries it knows:
    the last-scrape question from ``last_scrapes`` in turn (the last one repeats), each window
    question from WINDOW_ANSWERS; any other query is refused as Prometheus refuses a bad one."""
    asked: list[tuple[str, float]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path == "/-/ready":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"Prometheus Server is Ready.\n")
                return
            params = parse_qs(url.query)
            query, at = params["query"][0], float(params["time"][0])
            asked.append((query, at))
            if query == LAST_SCRAPE:
                value = last_scrapes[min(len([q for q, _ in asked if q == query]), len(last_scrapes)) - 1]
            elif query in WINDOW_ANSWERS:
                value = WINDOW_ANSWERS[query]
            else:
                self._send(400, {"status": "error", "errorType": "bad_data",
                                 "error": f"this test's Prometheus does not know the query {query}"})
                return
            self._send(200, {"status": "success", "data": {"resultType": "vector",
                                                           "result": [{"metric": {}, "value": [at, str(value)]}]}})

        def _send(self, status: int, body: dict) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    with serving(Handler) as port:
        yield port, asked


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now, self.slept = now, []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_window_is_asked_about_once_every_track_was_scraped_after_its_end():
    fake = FakeTime(1000.0)
    window = target_on(0).manifest.canary_limits.evaluation_window_seconds
    end = 1000.0 + window
    with query_endpoint([end - 0.8, end - 0.8, end + 0.2]) as (port, asked):
        canary, stable = prometheus_window.measure(target_on(port), sleep=fake.sleep, clock=fake.clock)
    late = [at for q, at in asked if q == LAST_SCRAPE]
    assert len(late) == 3  # asked until a scrape at or after the end had landed
    windows = [(q, at) for q, at in asked if q != LAST_SCRAPE]
    assert sorted(q for q, _ in windows) == sorted(WINDOW_ANSWERS)  # each question once, both tracks
    assert all(at == end for _, at in windows)  # the window itself, not the moment it was asked
    assert fake.slept == [window, prometheus_window.POLL, prometheus_window.POLL]
    assert (canary.requests, canary.errors, canary.p99_latency_ms) == (40, 2, 4.0)
    assert stable and (stable.requests, stable.errors, stable.p99_latency_ms) == (50, 1, 3.0)


def test_scrapes_that_stay_late_are_waited_for_a_bounded_time_then_the_window_is_asked():
    fake = FakeTime(1000.0)
    manifest = target_on(0).manifest
    window, interval = manifest.canary_limits.evaluation_window_seconds, manifest.metrics.prometheus.scrape_interval_seconds
    with query_endpoint([1000.0]) as (port, asked):  # Prometheus stopped scraping at the window's start
        canary, _ = prometheus_window.measure(target_on(port), sleep=fake.sleep, clock=fake.clock)
    assert sum(fake.slept) - window == pytest.approx(prometheus_window.LATE_SCRAPES * interval, abs=prometheus_window.POLL)
    assert (canary.requests, canary.errors) == (40, 2)  # asked anyway: increase() extrapolates the edge
