"""Prometheus metrics of one app instance, in a registry of its own.

A private CollectorRegistry (not prometheus_client's global one) lets tests build
several apps in one process without "Duplicated timeseries" errors.
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
# Label for URLs no route matches: a fixed value keeps series count bounded
# whatever paths scanners throw at us.
UNMATCHED_PATH = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


def method_label(method: str) -> str:
    """HTTP methods are client-chosen tokens; fold unknown ones into one label."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


class AppMetrics:
    """The five series the canary analysis and dashboards read."""

    def __init__(self, mode_code: int, uptime: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled, by method, route and status code.",
            ["method", "path", "status_code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time spent handling a request, including injected chaos delay.",
            ["method", "path"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.mode = Gauge(
            "app_mode", "Deployment mode: 0 stable, 1 canary.", registry=self.registry
        )
        self.chaos = Gauge(
            "chaos_active", "Active chaos: 0 none, 1 slow, 2 error.", registry=self.registry
        )
        self.uptime = Gauge(
            "app_uptime_seconds", "Seconds since the app started.", registry=self.registry
        )
        self.mode.set(mode_code)
        self.chaos.set(0)
        # Evaluated at scrape time, so the value is never stale.
        self.uptime.set_function(uptime)

    def observe(self, method: str, path: str, status_code: int, seconds: float) -> None:
        method = method_label(method)
        self.requests.labels(method=method, path=path, status_code=str(status_code)).inc()
        self.duration.labels(method=method, path=path).observe(seconds)

    def set_chaos(self, code: int) -> None:
        self.chaos.set(code)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
