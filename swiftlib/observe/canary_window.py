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
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .. import http, interrupt
from ..metrics.scrape import MetricsUnavailable, TrackScrape, WindowStats, parse_track, track_window
from ..tracks import SERVICES
from ..lifecycle.context import Target

TOLERANCE = 1.5  # a cached baseline may be up to 1.5 windows old


def scrapes_file(track: str) -> str:
    return f".swiftdeploy/scrapes-{track}.json"


SCRAPES_FILES = tuple(scrapes_file(t) for t in ("stable", "canary"))


def fetch_metrics_texts(target: Target, track: str = "canary") -> dict[str, str]:
    """Every task's /metrics text of the track, by task address (``{"": text}`` for a track of one container)."""
    addresses = target.runtime.task_addresses(SERVICES[track])
    if addresses is None:
        return {"": fetch_metrics_text(target, track)}
    texts = {}
    for address in addresses:  # each task on its own: counters are per process
        texts[address] = fetch_metrics_text(target, track, path=f"/tasks/{address}/metrics")
    if not texts:
        raise MetricsUnavailable(f"no task of the {track} track runs{_hint(target, track)}", host=target.name)
    return texts


def _hint(target: Target, track: str) -> str:
    if track == "canary" and target.manifest.services.mode == "canary":
        return ("; the canary is not answering: run `inv deploy` to start it again (a stopped or killed container "
                "is started again), or `inv rollback` to drop it")
    if track == "canary":
        return "; no canary runs (the manifest says stable): start one with `inv promote --mode canary`"
    return ""


def fetch_metrics_text(target: Target, track: str = "canary", *, path: str = "") -> str:
    # No answer or a 5xx from the admin listener: no track behind it (killed, or never started).
    hint = _hint(target, track)
    with target.loopback(target.manifest.nginx.admin_port) as base:
        url = f"{base}{path or f'/tracks/{track}/metrics'}"
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
    """The remembered scrapes, each ``{"taken_at", "texts": {task: text}}`` (a one-text entry of an older
    version is read as one task's)."""
    try:
        data = json.loads(target.workspace.read(scrapes_file(track)) or "[]")
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    entries = []
    for d in data:
        if isinstance(d, dict) and "taken_at" in d and isinstance(d.get("texts"), dict):
            entries.append(d)
        elif isinstance(d, dict) and "taken_at" in d and isinstance(d.get("text"), str):
            entries.append({"taken_at": d["taken_at"], "texts": {"": d["text"]}})
    return entries


def parse_entry(entry: dict) -> TrackScrape:
    return parse_track(entry["texts"], taken_at=entry["taken_at"])


def scrape(target: Target, *, track: str = "canary", clock: Callable[[], float] = time.time,
           remember: bool = True) -> TrackScrape:
    """Scrape one track now (every task of it), remember the raw texts for later windows (unless a --check
    run), return them parsed."""
    texts = fetch_metrics_texts(target, track)
    taken_at = clock()
    parsed = parse_track(texts, taken_at=taken_at)
    if not remember:
        return parsed
    horizon = taken_at - 4 * target.manifest.canary_limits.evaluation_window_seconds
    cache = [d for d in load_cache(target, track) if horizon <= d["taken_at"] < taken_at]
    cache.append({"taken_at": taken_at, "texts": texts})
    target.workspace.write(scrapes_file(track), json.dumps(cache))
    return parsed


def cached_baseline(target: Target, now: float, window: float, track: str = "canary") -> TrackScrape | None:
    """The newest remembered scrape at least one window (and at most TOLERANCE windows) old."""
    candidates = [d for d in load_cache(target, track) if window <= now - d["taken_at"] <= window * TOLERANCE]
    if not candidates:
        return None
    best = max(candidates, key=lambda d: d["taken_at"])
    try:
        return parse_entry(best)
    except MetricsUnavailable:
        return None


def _scrape_both(target: Target, clock: Callable[[], float], remember: bool) -> tuple[TrackScrape, TrackScrape | None]:
    """The canary now, and stable at the same moment when it runs (at 100% canary it may not): both
    scraped side by side, so the window's first and last looks cost one scrape's time, not two."""
    now = clock()
    with ThreadPoolExecutor(max_workers=2) as pool:
        canary = pool.submit(scrape, target, track="canary", clock=lambda: now, remember=remember)
        stable = pool.submit(scrape, target, track="stable", clock=lambda: now, remember=remember)
        canary_scrape = canary.result()  # the canary's failure first, as when they were scraped in turn
        try:
            stable_scrape: TrackScrape | None = stable.result()
        except MetricsUnavailable:
            stable_scrape = None
        return canary_scrape, stable_scrape


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
        # From the first look's moment, not its end: the window observed is the window configured.
        sleep(max(0.0, window - (clock() - start.taken_at)))
    end, end_stable = _scrape_both(target, clock, remember)
    baseline = track_window(start_stable, end_stable) if start_stable and end_stable else None
    return track_window(start, end), baseline
