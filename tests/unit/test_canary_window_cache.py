"""The canary gate's remembered scrapes: used as a window's start only while the same container runs."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from swiftlib.observe import canary_window
from swiftlib.workspace import LocalWorkspace

METRICS = Path(__file__).resolve().parent.parent / "fixtures" / "metrics"
WINDOW = 4.0


def target_with_cache(root: Path, track: str, taken_at: float) -> SimpleNamespace:
    target = SimpleNamespace(workspace=LocalWorkspace(root))
    text = (METRICS / "canary_t0.prom").read_text()
    target.workspace.write(canary_window.scrapes_file(track), json.dumps([{"taken_at": taken_at, "text": text}]))
    return target


def test_a_scrape_one_window_old_starts_the_window(tmp_path):
    target = target_with_cache(tmp_path, "canary", taken_at=1000.0)
    assert canary_window.cached_baseline(target, 1000.0 + WINDOW + 1, WINDOW) is not None
    assert canary_window.cached_baseline(target, 1000.0 + WINDOW - 1, WINDOW) is None  # too recent
    assert canary_window.cached_baseline(target, 1000.0 + 2 * WINDOW, WINDOW) is None  # too old


def test_a_new_container_forgets_the_old_ones_scrapes(tmp_path):
    """What track_steps does when it creates, recreates or removes a track's container."""
    canary = target_with_cache(tmp_path, "canary", taken_at=1000.0)
    target_with_cache(tmp_path, "stable", taken_at=1000.0)
    canary_window.forget(canary, "canary")
    assert canary_window.cached_baseline(canary, 1000.0 + WINDOW + 1, WINDOW) is None  # a fresh window, then
    assert canary_window.cached_baseline(canary, 1000.0 + WINDOW + 1, WINDOW, track="stable") is not None
    canary_window.forget(canary, "canary")  # nothing left to forget: fine
    canary_window.forget(canary, "next")  # a track that remembers nothing: fine


def test_of_several_scrapes_old_enough_the_newest_starts_the_window(tmp_path):
    """The window is the newest scrape at least one window old up to now: the shortest stretch
    that still covers a whole window. Every test cached a single scrape, so a mutant taking the
    oldest candidate (min for max) survived the unit tier."""
    target = SimpleNamespace(workspace=LocalWorkspace(tmp_path))
    text = (METRICS / "canary_t0.prom").read_text()
    cache = [{"taken_at": at, "text": text} for at in (1000.5, 1001.0, 1000.0)]  # neither first nor last
    target.workspace.write(canary_window.scrapes_file("canary"), json.dumps(cache))
    now = 1001.0 + WINDOW + 0.5  # all three are between one and 1.5 windows old
    assert canary_window.cached_baseline(target, now, WINDOW).taken_at == 1001.0


def test_the_window_observed_is_the_window_configured_however_long_the_first_look_takes(tmp_path, monkeypatch):
    """The wait counts from the first look's moment: a first look that takes 0.3 s (a slow scrape, a round
    trip over SSH) is not added to the window, and the stats cover the configured seconds."""
    import threading

    now = [1000.0]
    lock = threading.Lock()
    looks = iter(["canary_t0.prom", "canary_t0.prom", "canary_t1.prom", "canary_t1.prom"])

    def fetch(target, track):
        with lock:
            text = (METRICS / next(looks)).read_text()
            now[0] += 0.15  # each scrape takes its time
        return {"": text}

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    slept: list[float] = []
    monkeypatch.setattr(canary_window, "fetch_metrics_texts", fetch)
    manifest = SimpleNamespace(metrics=SimpleNamespace(uses_prometheus=False),
                               canary_limits=SimpleNamespace(evaluation_window_seconds=WINDOW))
    target = SimpleNamespace(workspace=LocalWorkspace(tmp_path), manifest=manifest)
    canary, stable = canary_window.measure(target, sleep=sleep, clock=lambda: now[0], remember=False)
    assert slept == [pytest.approx(WINDOW - 0.3)]
    assert canary.window_seconds == pytest.approx(WINDOW) and stable.window_seconds == pytest.approx(WINDOW)
