"""Measure the canary's window through the stack's Prometheus (``metrics.source: prometheus``).

The gate waits one evaluation window (the traffic it judges happens at the current weight,
as a rollout step needs), then until Prometheus has scraped every track at or after the
window's end, so the window's last samples have landed (a fixed wait misses them when a
scrape runs late on a busy host), and asks about exactly that window (the query's ``time``
is its end). If the scrapes stay late for LATE_SCRAPES intervals it asks anyway: increase()
extrapolates the missing edge, as it does for every window.
Prometheus listens on the target's loopback: locally it is asked directly, on a remote host
through the same SSH tunnel as OPA and the admin port. Every failure fails closed
(`MetricsSourceError`, exit 4) naming the URL and what was missing; the PromQL and the reading
of answers are in `swiftlib.metrics.promql`.
"""
from __future__ import annotations

import time
from typing import Callable

from .. import http, interrupt
from ..metrics import promql
from ..errors import MetricsSourceError
from ..metrics.scrape import WindowStats
from ..lifecycle.context import Target

TIMEOUT = 5.0
READY_PATH = "/-/ready"
LATE_SCRAPES = 3  # scrape intervals to wait past the window's end for its last samples
POLL = 0.25  # seconds between asks while they are late


def _get(base_url: str, url: str) -> http.HttpAnswer:
    """GET from the stack's Prometheus; no answer at all is `MetricsSourceError` (unreachable)."""
    try:
        return http.get(url, timeout=TIMEOUT)
    except http.HttpUnavailable as exc:
        raise MetricsSourceError(
            f"cannot reach Prometheus at {base_url} ({exc}); is the prometheus service running? "
            "(docker compose ps, logs prometheus); failing closed", reason="unreachable",
        ) from exc


def ask(base_url: str, query: str, at: float) -> float | None:
    """One instant query's single value (None: empty result)."""
    answer = _get(base_url, promql.query_url(base_url, query, at))
    return promql.single_value(answer.status, answer.body, query=query, url=f"{base_url}{promql.QUERY_PATH}")


def track_window(base_url: str, track: str, window_seconds: float, end: float) -> WindowStats:
    """``track``'s requests, errors and p99 over the ``window_seconds`` ending at unix time ``end``."""
    queries = promql.window_queries(track, window_seconds)
    values = {name: ask(base_url, query, end) for name, query in queries.items()}
    return promql.window_stats(values, window_seconds, track=track, url=base_url)


def check_ready(base_url: str) -> None:
    """Prometheus answers ``/-/ready`` with 200, or `MetricsSourceError` (asked before a window is spent)."""
    answer = _get(base_url, f"{base_url}{READY_PATH}")
    if answer.status != 200:
        raise MetricsSourceError(f"Prometheus at {base_url} is not ready ({READY_PATH}: HTTP {answer.status}); "
                                 "failing closed", reason="not_ready")


def measure(target: Target, *, sleep: Callable[[float], None] = interrupt.sleep, clock: Callable[[], float] = time.time,
            on_wait: Callable[[float], None] | None = None) -> tuple[WindowStats, WindowStats | None]:
    """The canary's window and the stable track's window of the same period (None when stable had no traffic).

    Prometheus must be ready before the window starts: a stopped server is reported at once,
    not after a whole evaluation window of waiting.
    """
    with target.loopback(target.manifest.metrics.prometheus.port) as base_url:
        check_ready(base_url)
    window = target.manifest.canary_limits.evaluation_window_seconds
    interval = target.manifest.metrics.prometheus.scrape_interval_seconds
    end = clock() + window
    if on_wait:
        on_wait(window)
    sleep(window)
    with target.loopback(target.manifest.metrics.prometheus.port) as base_url:
        await_scrapes_after(base_url, end, LATE_SCRAPES * interval, sleep=sleep, clock=clock)
        return _both_windows(base_url, window, end)


def windows_at(target: Target, window: float, end: float) -> tuple[WindowStats, WindowStats | None]:
    """Both tracks' windows ending at ``end`` (already in the past)."""
    with target.loopback(target.manifest.metrics.prometheus.port) as base_url:
        return _both_windows(base_url, window, end)


def _both_windows(base_url: str, window: float, end: float) -> tuple[WindowStats, WindowStats | None]:
    canary = track_window(base_url, "canary", window, end)
    try:
        stable = track_window(base_url, "stable", window, end)
    except MetricsSourceError as exc:
        if exc.reason != "empty_result":
            raise
        stable = None  # like the scrape source at 100% canary: the baseline is optional
    return canary, stable


def await_scrapes_after(base_url: str, end: float, patience: float, *,
                        sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
    """Wait until every track was scraped at or after unix time ``end``, at most ``patience``
    seconds (then the window is asked anyway and its edge is extrapolated)."""
    deadline = clock() + patience
    while True:
        last = ask(base_url, promql.last_scrape_query(), clock())
        if (last is not None and last >= end) or clock() >= deadline:
            return
        sleep(POLL)


def canary_since(target: Target, started: float, *, clock: Callable[[], float] = time.time) -> WindowStats:
    """The canary's numbers from unix time ``started`` until now (a rollout's progress line)."""
    now = clock()
    with target.loopback(target.manifest.metrics.prometheus.port) as base_url:
        return track_window(base_url, "canary", now - started, now)
