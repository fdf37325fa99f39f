"""Measure a track over the last ``evaluation_window_seconds``, as Prometheus' rate() does.

Each track (stable, canary) is scraped on its own through nginx's admin listener
(`/tracks/<track>/metrics`), so the canary gate judges the canary's own requests and
the stable track's window of the same period is its baseline. Every scrape is kept for
a while in the target's state directory, one file per track. The gate compares the
newest scrape with one taken about a window earlier; when no such scrape exists it takes
one, waits the window and takes another. A track's scrapes are forgotten whenever its
container is created, recreated or removed. Either way the numbers describe recent traffic,
not the whole life of the container, and nothing is restarted to reset them.

With ``metrics.source: prometheus`` `measure` asks the stack's Prometheus instead
(`prometheus_window`); the window stats and the policy input keep the same shape.
"""
from __future__ import annotations

import json
import time
from typing import Callable

from .. import http, interrupt
from ..metrics.scrape import MetricsUnavailable, Scrape, WindowStats, parse_scrape, window_stats
from ..lifecycle.context import Target

TOLERANCE = 1.5  # a cached baseline may be up to 1.5 windows old


def scrapes_file(track: str) -> str:
    return f".swiftdeploy/scrapes-{track}.json"


SCRAPES_FILES = tuple(scrapes_file(t) for t in ("stable", "canary"))


def fetch_metrics_text(target: Target, track: str = "canary") -> str:
    # No answer or a 5xx from the admin listener: no track behind it (killed, or never started).
    hint = ""
    if track == "canary" and target.manifest.services.mode == "canary":
        hint = ("; the canary is not answering: run `inv deploy` to start it again (a stopped or killed container "
                "is started again), or `inv rollback` to drop it")
    elif track == "canary":
        hint = "; no canary runs (the manifest says stable): start one with `inv promote --mode canary`"
    with target.loopback(target.manifest.nginx.admin_port) as base:
        url = f"{base}/tracks/{track}/metrics"
        try:
            answer = http.get(url, timeout=5)
        except http.HttpUnavailable as exc:
            raise MetricsUnavailable(f"cannot scrape the {track} track's metrics: {exc}{hint}",
                                     host=target.name) from exc
    if answer.status != 200:
        raise MetricsUnavailable(f"the {track} track's metrics answered HTTP {answer.status}{hint}", host=target.name)
    return answer.body


def forget(target: Target, track: str) -> None:
    """Drop the track's remembered scrapes: its container was created, recreated or removed, and a
    window must never start on another container's counters (a new canary's first seconds judged
    against the old one's last scrape read as a window with almost no traffic)."""
    if scrapes_file(track) in SCRAPES_FILES:
        target.workspace.remove(scrapes_file(track))


def load_cache(target: Target, track: str = "canary") -> list[dict]:
    try:
        data = json.loads(target.workspace.read(scrapes_file(track)) or "[]")
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict) and "taken_at" in d and "text" in d] if isinstance(data, list) else []


def scrape(target: Target, *, track: str = "canary", clock: Callable[[], float] = time.time,
           remember: bool = True) -> Scrape:
    """Scrape one track now, remember the raw text for later windows (unless a --check run), return it parsed."""
    text = fetch_metrics_text(target, track)
    taken_at = clock()
    parsed = parse_scrape(text, taken_at=taken_at)
    if not remember:
        return parsed
    horizon = taken_at - 4 * target.manifest.canary_limits.evaluation_window_seconds
    cache = [d for d in load_cache(target, track) if horizon <= d["taken_at"] < taken_at]
    cache.append({"taken_at": taken_at, "text": text})
    target.workspace.write(scrapes_file(track), json.dumps(cache))
    return parsed


def cached_baseline(target: Target, now: float, window: float, track: str = "canary") -> Scrape | None:
    """The newest remembered scrape at least one window (and at most TOLERANCE windows) old."""
    candidates = [d for d in load_cache(target, track) if window <= now - d["taken_at"] <= window * TOLERANCE]
    if not candidates:
        return None
    best = max(candidates, key=lambda d: d["taken_at"])
    try:
        return parse_scrape(best["text"], taken_at=best["taken_at"])
    except MetricsUnavailable:
        return None


def _scrape_both(target: Target, clock: Callable[[], float], remember: bool) -> tuple[Scrape, Scrape | None]:
    """The canary now, and stable at the same moment when it runs (at 100% canary it may not)."""
    now = clock()
    canary = scrape(target, track="canary", clock=lambda: now, remember=remember)
    try:
        stable = scrape(target, track="stable", clock=lambda: now, remember=remember)
    except MetricsUnavailable:
        stable = None
    return canary, stable


def measure(target: Target, *, sleep: Callable[[float], None] = interrupt.sleep, clock: Callable[[], float] = time.time,
            on_wait: Callable[[float], None] | None = None, remember: bool = True,
            fresh: bool = False) -> tuple[WindowStats, WindowStats | None]:
    """The canary's window for the gate, and the stable track's window of the same period (or None).

    ``fresh`` ignores remembered scrapes: a rollout step must judge traffic at its own weight.
    Prometheus as the source always observes a window of its own (and remembers nothing here).
    """
    if target.manifest.metrics.uses_prometheus:
        from . import prometheus_window

        return prometheus_window.measure(target, sleep=sleep, clock=clock, on_wait=on_wait)
    window = target.manifest.canary_limits.evaluation_window_seconds
    now = clock()
    start = None if fresh else cached_baseline(target, now, window)
    start_stable = None if start is None else cached_baseline(target, now, window, track="stable")
    if start is None:
        start, start_stable = _scrape_both(target, clock, remember)
        if on_wait:
            on_wait(window)
        sleep(window)
    end, end_stable = _scrape_both(target, clock, remember)
    baseline = window_stats(start_stable, end_stable) if start_stable and end_stable else None
    return window_stats(start, end), baseline
