"""Measure the canary over the last ``evaluation_window_seconds``, as Prometheus' rate() does.

Every scrape of the app's /metrics (by `inv status` or by a gate) is kept for a while
in the target's state directory. The gate compares the newest scrape with one taken
about a window earlier; when no such scrape exists it takes one, waits the window
and takes another. Either way the numbers describe recent traffic, not the whole
life of the container, and nothing is restarted to reset them.
"""
from __future__ import annotations

import json
import time
from typing import Callable

from .. import http
from ..metrics import MetricsUnavailable, Scrape, WindowStats, parse_scrape, window_stats
from .context import Target

SCRAPES_FILE = ".swiftdeploy/scrapes.json"
TOLERANCE = 1.5  # a cached baseline may be up to 1.5 windows old


def fetch_metrics_text(target: Target) -> str:
    with target.loopback(target.manifest.nginx.admin_port) as base:
        url = f"{base}/metrics"
        try:
            answer = http.get(url, timeout=5)
        except http.HttpUnavailable as exc:
            raise MetricsUnavailable(f"cannot scrape the app's metrics: {exc}", host=target.name) from exc
    if answer.status != 200:
        raise MetricsUnavailable(f"{url} answered HTTP {answer.status}", host=target.name)
    return answer.body


def load_cache(target: Target) -> list[dict]:
    try:
        data = json.loads(target.workspace.read(SCRAPES_FILE) or "[]")
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict) and "taken_at" in d and "text" in d] if isinstance(data, list) else []


def scrape(target: Target, *, clock: Callable[[], float] = time.time, remember: bool = True) -> Scrape:
    """Scrape now, remember the raw text for later windows (unless a --check run), return it parsed."""
    text = fetch_metrics_text(target)
    taken_at = clock()
    parsed = parse_scrape(text, taken_at=taken_at)
    if not remember:
        return parsed
    horizon = taken_at - 4 * target.manifest.canary_limits.evaluation_window_seconds
    cache = [d for d in load_cache(target) if horizon <= d["taken_at"] < taken_at]
    cache.append({"taken_at": taken_at, "text": text})
    target.workspace.write(SCRAPES_FILE, json.dumps(cache))
    return parsed


def cached_baseline(target: Target, now: float, window: float) -> Scrape | None:
    """The newest remembered scrape at least one window (and at most TOLERANCE windows) old."""
    candidates = [d for d in load_cache(target) if window <= now - d["taken_at"] <= window * TOLERANCE]
    if not candidates:
        return None
    best = max(candidates, key=lambda d: d["taken_at"])
    try:
        return parse_scrape(best["text"], taken_at=best["taken_at"])
    except MetricsUnavailable:
        return None


def measure(target: Target, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
            on_wait: Callable[[float], None] | None = None, remember: bool = True) -> WindowStats:
    """Window statistics for the canary gate."""
    window = target.manifest.canary_limits.evaluation_window_seconds
    baseline = cached_baseline(target, clock(), window)
    if baseline is None:
        baseline = scrape(target, clock=clock, remember=remember)
        if on_wait:
            on_wait(window)
        sleep(window)
    return window_stats(baseline, scrape(target, clock=clock, remember=remember))
