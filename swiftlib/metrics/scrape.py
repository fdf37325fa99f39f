"""Turn the app's /metrics text into a `Scrape`, and two scrapes into `WindowStats`.

Pure functions only: the caller fetches the text (HTTP lives elsewhere) and says when.

The app exports (Prometheus text format, as prometheus_client prints it):

    http_requests_total{method,path,status_code}          counter
    http_request_duration_seconds{method,path}            histogram (_bucket{le}, _count, _sum)
    app_mode            gauge  0 stable, 1 canary
    chaos_active        gauge  0 none, 1 slow, 2 error
    app_uptime_seconds  gauge

Window math follows Prometheus' increase() and histogram_quantile(); see
`swiftlib.metrics.quantile` for the latter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from ..errors import SwiftDeployError
from .quantile import histogram_quantile

__all__ = [
    "DEFAULT_EXCLUDED_PATHS", "MetricsUnavailable", "Scrape", "WindowStats",
    "histogram_quantile", "parse_scrape", "window_stats",
]

REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
GAUGES = {"app_mode": "mode", "chaos_active": "chaos", "app_uptime_seconds": "uptime_seconds"}
MODE_NAMES = {0: "stable", 1: "canary"}
CHAOS_NAMES = {0: "none", 1: "slow", 2: "error"}
# Our own probes and the operator's switch: they say nothing about user traffic.
DEFAULT_EXCLUDED_PATHS = ("/healthz", "/metrics", "/chaos")

RequestKey = tuple[str, str, str]  # (method, path, status_code)
RouteKey = tuple[str, str]  # (method, path)


class MetricsUnavailable(SwiftDeployError):
    """The app's /metrics did not give usable numbers.

    Exit code 5 (verification failed): the app is already running and it is the app's
    own telemetry that is broken or missing, so the canary cannot be verified. It is
    not the policy engine's fault (4) nor the user's input (2).
    """

    exit_code = 5


@dataclass(frozen=True)
class Scrape:
    """One reading of /metrics. Counts are cumulative since the app process started."""

    taken_at: float
    mode: int
    chaos: int
    uptime_seconds: float
    requests: Mapping[RequestKey, float] = field(default_factory=dict)
    buckets: Mapping[RouteKey, Mapping[float, float]] = field(default_factory=dict)
    duration_count: Mapping[RouteKey, float] = field(default_factory=dict)
    duration_sum: Mapping[RouteKey, float] = field(default_factory=dict)

    @property
    def mode_name(self) -> str:
        return MODE_NAMES.get(self.mode, f"unknown({self.mode})")

    @property
    def chaos_name(self) -> str:
        return CHAOS_NAMES.get(self.chaos, f"unknown({self.chaos})")


@dataclass(frozen=True)
class WindowStats:
    """Traffic between two scrapes, with the probe paths left out."""

    requests: int
    errors: int
    error_rate: float
    p99_latency_ms: float
    req_per_s: float
    window_seconds: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_latency_ms": self.p99_latency_ms,
            "req_per_s": self.req_per_s,
            "window_seconds": self.window_seconds,
        }


def parse_scrape(text: str, *, taken_at: float, source: str = "/metrics") -> Scrape:
    """Read the app's metrics out of a scrape; raise MetricsUnavailable naming `source`."""
    try:
        # Imported here: prometheus_client pulls in its HTTP exposition stack (about 0.1 s), which a
        # command that never scrapes (a deploy with no canary) should not pay for at start-up.
        from prometheus_client.parser import text_string_to_metric_families

        # The parser is lazy: errors surface while iterating, so drain it here.
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        first = text.strip().splitlines()[0][:80] if text.strip() else ""
        raise MetricsUnavailable(
            f"{source}: not Prometheus text format ({exc}); it starts with {first!r}. "
            "Check that the URL points at the app's /metrics and not at an error page."
        ) from exc

    requests: dict[RequestKey, float] = {}
    buckets: dict[RouteKey, dict[float, float]] = {}
    counts: dict[RouteKey, float] = {}
    sums: dict[RouteKey, float] = {}
    gauges: dict[str, float] = {}
    for sample in samples:
        name, labels, value = sample.name, sample.labels, float(sample.value)
        try:
            if name == REQUESTS:
                requests[(labels["method"], labels["path"], labels["status_code"])] = value
            elif name == f"{DURATION}_bucket":
                route = (labels["method"], labels["path"])
                buckets.setdefault(route, {})[float(labels["le"])] = value
            elif name == f"{DURATION}_count":
                counts[(labels["method"], labels["path"])] = value
            elif name == f"{DURATION}_sum":
                sums[(labels["method"], labels["path"])] = value
            elif name in GAUGES:
                # Several samples only in multiprocess mode (one per worker pid).
                gauges[name] = max(value, gauges.get(name, value))
        except (KeyError, ValueError) as exc:
            raise MetricsUnavailable(
                f"{source}: sample {name}{labels} lacks a usable label ({exc}); "
                "is this SwiftDeploy's app?"
            ) from exc

    missing = [g for g in GAUGES if g not in gauges]
    if missing:
        raise MetricsUnavailable(
            f"{source}: no {', '.join(missing)} in the scrape; it is either not SwiftDeploy's app "
            "or the response was cut short. Check the app's logs and its /metrics."
        )
    return Scrape(
        taken_at=taken_at,
        mode=_whole(gauges["app_mode"], "app_mode", source),
        chaos=_whole(gauges["chaos_active"], "chaos_active", source),
        uptime_seconds=gauges["app_uptime_seconds"],
        requests=MappingProxyType(requests),
        buckets=MappingProxyType({k: MappingProxyType(v) for k, v in buckets.items()}),
        duration_count=MappingProxyType(counts),
        duration_sum=MappingProxyType(sums),
    )


def _whole(value: float, name: str, source: str) -> int:
    if value != value or value != int(value):  # NaN or fractional
        raise MetricsUnavailable(f"{source}: {name} must be a whole number, got {value}")
    return int(value)


def _increase(before: float, after: float) -> float:
    """Prometheus' increase() for one counter: a drop means it restarted from zero."""
    return after - before if after >= before else after


def window_stats(
    before: Scrape | None,
    after: Scrape,
    *,
    exclude_paths: Iterable[str] = DEFAULT_EXCLUDED_PATHS,
) -> WindowStats:
    """Requests, errors (status >= 500), p99 and rate between `before` and `after`.

    With `before=None` the window is the app's whole life (`after`'s uptime).
    If `after.uptime_seconds` is below `before`'s, the app restarted in between and
    every series counts from zero (Prometheus can only see this per series).
    """
    if before is None:
        window = after.uptime_seconds
    else:
        window = _window(before.taken_at, after.taken_at)
    return _stats(*_increments(before, after, frozenset(exclude_paths)), window)


def _window(before_at: float, after_at: float) -> float:
    window = after_at - before_at
    if window <= 0:
        raise ValueError(f"after.taken_at ({after_at}) must be later than before.taken_at ({before_at})")
    return window


def _increments(before: Scrape | None, after: Scrape, excluded: frozenset[str]) -> tuple[float, float, dict[float, float]]:
    """(requests, errors, bucket increases) of one app process between two scrapes; a process that restarted
    in between (lower uptime) counts from zero."""
    base = None if before is None or after.uptime_seconds < before.uptime_seconds else before
    requests = errors = 0.0
    for key, value in after.requests.items():
        method, path, status = key
        if path in excluded:
            continue
        inc = _increase(base.requests.get(key, 0.0), value) if base else value
        requests += inc
        if _is_server_error(status):
            errors += inc

    totals: dict[float, float] = {}
    for route, after_buckets in after.buckets.items():
        if route[1] in excluded:
            continue
        for bound, inc in _bucket_increase(base.buckets.get(route, {}) if base else {}, after_buckets).items():
            totals[bound] = totals.get(bound, 0.0) + inc

    return requests, errors, totals


def _stats(requests: float, errors: float, totals: Mapping[float, float], window: float) -> WindowStats:
    p99_seconds = histogram_quantile(0.99, sorted(totals.items())) if totals else 0.0
    n_requests, n_errors = round(requests), round(errors)
    return WindowStats(
        requests=n_requests,
        errors=n_errors,
        error_rate=n_errors / n_requests if n_requests else 0.0,
        p99_latency_ms=p99_seconds * 1000.0,
        req_per_s=n_requests / window if window > 0 else 0.0,
        window_seconds=window,
    )


@dataclass(frozen=True)
class TrackScrape:
    """One reading of a track: a scrape of each of its app processes (one container, or a swarm service's
    tasks), keyed by where it was read ("" for a track of one container)."""

    taken_at: float
    tasks: Mapping[str, Scrape]

    @property
    def _first(self) -> Scrape:
        return self.tasks[sorted(self.tasks)[0]]

    @property
    def mode(self) -> int:
        return self._first.mode

    @property
    def mode_name(self) -> str:
        return self._first.mode_name

    @property
    def chaos(self) -> int:
        return max(s.chaos for s in self.tasks.values())

    @property
    def chaos_name(self) -> str:
        return CHAOS_NAMES.get(self.chaos, f"unknown({self.chaos})")

    @property
    def uptime_seconds(self) -> float:
        return max(s.uptime_seconds for s in self.tasks.values())


def parse_track(texts: Mapping[str, str], *, taken_at: float, source: str = "/metrics") -> TrackScrape:
    """Each task's scrape text (``{where: text}``) read; MetricsUnavailable names the task that gave nothing usable."""
    if not texts:
        raise MetricsUnavailable(f"{source}: no task of the track answered")
    return TrackScrape(taken_at, MappingProxyType({
        where: parse_scrape(text, taken_at=taken_at, source=f"{source} ({where})" if where else source)
        for where, text in texts.items()}))


def track_window(before: TrackScrape | None, after: TrackScrape, *,
                 exclude_paths: Iterable[str] = DEFAULT_EXCLUDED_PATHS) -> WindowStats:
    """``window_stats`` over every task of a track: each task's increase on its own (a task that is new since
    ``before``, or restarted, counts from zero; one that is gone no longer counts), summed; p99 over the summed
    histogram, as Prometheus' ``histogram_quantile(sum by (le) (rate(...)))``."""
    excluded = frozenset(exclude_paths)
    window = after.uptime_seconds if before is None else _window(before.taken_at, after.taken_at)
    requests = errors = 0.0
    totals: dict[float, float] = {}
    for where, now in after.tasks.items():
        r, e, t = _increments(before.tasks.get(where) if before else None, now, excluded)
        requests, errors = requests + r, errors + e
        for bound, inc in t.items():
            totals[bound] = totals.get(bound, 0.0) + inc
    return _stats(requests, errors, totals, window)


def _bucket_increase(before: Mapping[float, float], after: Mapping[float, float]) -> dict[float, float]:
    # One histogram resets as a whole; treating its buckets one by one could leave
    # a bucket increase larger than the next one (non-cumulative nonsense).
    if any(after[b] < before.get(b, 0.0) for b in after):
        return dict(after)
    return {b: after[b] - before.get(b, 0.0) for b in after}


def _is_server_error(status: str) -> bool:
    try:
        return int(status) >= 500
    except ValueError:
        return False  # a label we do not understand is not evidence of a failure
