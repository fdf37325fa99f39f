"""Charts for the audit report: error rate and p99 over time per host, with the audit's markers (pure).

Series come from the status samples (``metrics_history``: one sample per status frame,
per track), from the windows the canary gate judged (a canary ``policy_check`` or
``policy_violation`` carries its input: ``metrics`` is the canary's window, ``baseline``
the stable track's; the point sits at the decision's time, the window's end), so a
promotion or rollout nobody watched still plots, and, so that an old trail still plots,
from ``status_scrape`` events in history.jsonl: with per-track numbers (``data.tracks``)
or, in the oldest ones, a single set of top-level numbers for the track named by
``data.mode``; a frame's own ``timestamp`` is its time, else the event's. When sources
hold the same track at the same time, the sample wins. Each track (stable, canary) is its own
line; a silence much longer than the usual spacing (``GAP_FACTOR`` times the median, at
least ``MIN_GAP_SECONDS``) breaks the line instead of drawing a slope across it. More
than ``MAX_POINTS`` points are thinned to the highest value in each of ``MAX_POINTS``
equal slices of time, so a spike is never averaged away. A line also breaks at a rollback or
a mode change: the tracks change there (a canary started or removed, stable replaced), and
a slope across one would describe neither side.

Markers are audit events of the host, drawn as numbered dashed vertical lines that the
report's table explains:

- ``policy allow``: a ``policy_check`` that allowed;
- ``policy deny``: a denied decision as the report's violations table lists it (a
  ``policy_check`` with ``allow: false`` and its ``policy_violation`` count once), and a
  ``policy_engine_failure`` (the gate fails closed, so it stops the step like a deny);
- ``mode change`` (``mode_change``, ``promote``), ``rollback``, ``traffic``.

Only markers inside the host's sampled time are drawn; the others are counted.

``build_charts`` turns events and samples into ``HostCharts``; ``report_svg.render_svg``
draws one ``Chart``. Nothing here reads or writes a file: ``report_files.write_report`` does.
"""
from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from .report import summarize, violations

MAX_POINTS = 500
GAP_FACTOR = 5.0
MIN_GAP_SECONDS = 10.0
KNOWN_TRACKS = ("stable", "canary", "next")
MARKER_KINDS = ("policy allow", "policy deny", "mode change", "rollback", "traffic")
GATE_EVENTS = ("policy_check", "policy_violation")  # a decision with the input it judged
REPLACING = ("mode change", "rollback")  # markers where the tracks change: lines break there

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Metric:
    key: str                      # field of a track in a sample
    tag: str                      # in the SVG's file name
    title: str
    unit: str                     # in the markdown and the axis title
    floor: float                  # the y axis reaches at least this high
    aliases: tuple[str, ...] = ()  # older status_scrape field names

    def format(self, value: float) -> str:
        if self.key == "error_rate":
            return f"{value:.2%}"
        return f"{value:,.0f} ms" if abs(value) >= 10 else f"{value:.2g} ms"


ERROR_RATE = Metric("error_rate", "error_rate", "Error rate", "share of requests", 0.01)
P99 = Metric("p99_latency_ms", "p99", "p99 latency", "milliseconds", 1.0, ("p99_ms",))
METRICS = (ERROR_RATE, P99)


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float


@dataclass(frozen=True)
class Observation:
    """One track's numbers at one time, from a sample, a canary gate's window or a legacy status_scrape event."""
    at: datetime
    track: str
    values: Mapping[str, float]


@dataclass(frozen=True)
class Marker:
    at: datetime
    kind: str        # one of MARKER_KINDS
    event_type: str
    timestamp: str   # as recorded
    label: str       # one line: what happened


@dataclass(frozen=True)
class Chart:
    host: str
    metric: Metric
    series: Mapping[str, tuple[Point | None, ...]]  # track -> points in time order, None where a gap breaks the line
    markers: tuple[Marker, ...]                     # numbered 1.. in this order
    start: datetime
    end: datetime
    file_name: str                                  # the SVG beside the report
    samples: int                                    # points before thinning, all tracks

    @property
    def top(self) -> float:
        """The top of the y axis: a tenth above the highest value, at least ``metric.floor``."""
        values = [p.value for points in self.series.values() for p in points if p is not None]
        return max([self.metric.floor] + [v * 1.1 for v in values])

    @property
    def points(self) -> int:
        return sum(1 for points in self.series.values() for p in points if p is not None)


@dataclass(frozen=True)
class HostCharts:
    host: str
    charts: tuple[Chart, ...]               # one per metric that has samples
    missing: tuple[Metric, ...]             # metrics with no samples on this host
    markers: tuple[Marker, ...]             # drawn, numbered 1.. in this order
    outside: int = 0                        # markers of the host outside its sampled time
    sources: tuple[str, ...] = field(default=())  # "status samples", "canary gate windows", "status_scrape events"


def parse_time(stamp: Any) -> datetime | None:
    """An ISO-8601 timestamp (``Z`` or an offset; none means UTC) as an aware datetime, else None."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _values(numbers: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for metric in METRICS:
        for key in (metric.key, *metric.aliases):
            value = _number(numbers.get(key))
            if value is not None:
                out[metric.key] = value
                break
    return out


def _per_track(at: datetime, tracks: Any) -> list[Observation]:
    if not isinstance(tracks, Mapping):
        return []
    out = []
    for name, numbers in tracks.items():
        values = _values(numbers) if isinstance(numbers, Mapping) else {}
        if values:
            out.append(Observation(at, str(name), values))
    return out


def sample_observations(samples: Iterable[Mapping[str, Any]]) -> list[Observation]:
    """Observations from ``metrics_history`` samples (``{"timestamp", "tracks": {name: {...}}}``)."""
    out: list[Observation] = []
    for sample in samples:
        at = parse_time(sample.get("timestamp")) if isinstance(sample, Mapping) else None
        if at is not None:
            out += _per_track(at, sample.get("tracks"))
    return out


def legacy_observations(events: Iterable[Mapping[str, Any]], host: str) -> list[Observation]:
    """Observations from the host's ``status_scrape`` events in history.jsonl (older trails)."""
    out: list[Observation] = []
    for event in events:
        if event.get("event_type") != "status_scrape" or event.get("host") != host:
            continue
        data = event.get("data")
        if not isinstance(data, Mapping):
            continue
        # The frame's own time, when it has one: the same frame in the samples then counts once.
        at = parse_time(data.get("timestamp")) or parse_time(event.get("timestamp"))
        if at is None:
            continue
        if isinstance(data.get("tracks"), Mapping):
            out += _per_track(at, data["tracks"])
            continue
        values = _values(data)  # the oldest frames: one app, its mode names the track
        if values:
            mode = data.get("mode")
            out.append(Observation(at, mode if isinstance(mode, str) and mode else "stable", values))
    return out


def gate_observations(events: Iterable[Mapping[str, Any]], host: str) -> list[Observation]:
    """The windows the canary gate judged on ``host``: its input's ``metrics`` (canary) and
    ``baseline`` (stable), at the decision's time. What-if runs are not observations."""
    out: list[Observation] = []
    for event in events:
        if event.get("event_type") not in GATE_EVENTS or event.get("host") != host:
            continue
        data = event.get("data")
        given = data.get("input") if isinstance(data, Mapping) and data.get("domain") == "canary" else None
        at = parse_time(event.get("timestamp"))
        if isinstance(given, Mapping) and at is not None:
            out += _per_track(at, {"canary": given.get("metrics"), "stable": given.get("baseline")})
    return out


def _track_order(name: str) -> tuple[int, str]:
    return (KNOWN_TRACKS.index(name) if name in KNOWN_TRACKS else len(KNOWN_TRACKS), name)


def series(observations: Iterable[Observation], metric_key: str) -> dict[str, list[Point]]:
    """Track -> points of one metric, in time order; the first observation of a track at a time wins."""
    seen: dict[str, dict[datetime, float]] = {}
    for obs in observations:
        value = obs.values.get(metric_key)
        if value is not None:
            seen.setdefault(obs.track, {}).setdefault(obs.at, value)
    return {track: [Point(at, v) for at, v in sorted(seen[track].items())]
            for track in sorted(seen, key=_track_order)}


def gap_seconds(points: Sequence[Point]) -> float:
    """How long a silence must be to break the line: ``GAP_FACTOR`` x the median spacing, at least ``MIN_GAP_SECONDS``."""
    steps = [(b.at - a.at).total_seconds() for a, b in zip(points, points[1:])]
    return max(MIN_GAP_SECONDS, GAP_FACTOR * statistics.median(steps)) if steps else MIN_GAP_SECONDS


def thin(points: Sequence[Point], max_points: int = MAX_POINTS) -> list[Point]:
    """At most ``max_points``: the highest point of each equal slice of the time range."""
    if len(points) <= max_points:
        return list(points)
    start = points[0].at
    width = (points[-1].at - start).total_seconds() / max_points
    best: dict[int, Point] = {}
    for p in points:
        i = min(int((p.at - start).total_seconds() / width), max_points - 1)
        if i not in best or p.value > best[i].value:
            best[i] = p
    return [best[i] for i in sorted(best)]


def with_gaps(points: Sequence[Point], gap: float, breaks: Sequence[datetime] = ()) -> list[Point | None]:
    """The points with a ``None`` wherever two neighbours are more than ``gap`` seconds apart
    or a moment of ``breaks`` lies between them."""
    out: list[Point | None] = []
    for i, p in enumerate(points):
        if i and ((p.at - points[i - 1].at).total_seconds() > gap
                  or any(points[i - 1].at < moment <= p.at for moment in breaks)):
            out.append(None)
        out.append(p)
    return out


def plotted(points: Sequence[Point], max_points: int = MAX_POINTS,
            breaks: Sequence[datetime] = ()) -> tuple[Point | None, ...]:
    """Thinned points with the gaps marked, as drawn; the line also breaks at each of ``breaks``."""
    gap = gap_seconds(points)
    kept = thin(points, max_points)
    if len(kept) < len(points):  # neighbours are now up to two slices apart
        span = (points[-1].at - points[0].at).total_seconds()
        gap = max(gap, 3 * span / max_points)
    return tuple(with_gaps(kept, gap, breaks))


def _split_text(split: Any) -> str:
    if not isinstance(split, Mapping):
        return "?"
    names = sorted(split, key=lambda t: _track_order(str(t)))
    return " / ".join(f"{t} {split[t]}%" for t in names if split[t]) or "none"


def _marker_label(event: Mapping[str, Any]) -> str:
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    kind = event.get("event_type")
    if kind == "traffic" and ("from" in data or "to" in data):
        why = f" ({data['why']})" if data.get("why") else ""
        return f"{_split_text(data.get('from'))} → {_split_text(data.get('to'))}{why}"
    if kind == "rollback" and "reason" in data and not isinstance(data.get("summary"), str):
        return f"{data.get('from', '?')} → {data.get('to', '?')} ({data['reason']})"
    return summarize(event)


def markers(events: Sequence[Mapping[str, Any]], host: str) -> list[Marker]:
    """The host's audit events worth marking on its charts, in file order (see the module docstring)."""
    mine = [e for e in events if e.get("host") == host]
    denied = {id(e) for e in violations(mine)}
    out = []
    for event in mine:
        kind_of = event.get("event_type")
        data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        if kind_of == "policy_check":
            kind = "policy allow" if data.get("allow") is True else "policy deny" if id(event) in denied else None
        elif kind_of == "policy_violation" or kind_of == "policy_engine_failure":
            kind = "policy deny"
        elif kind_of in ("mode_change", "promote"):
            kind = "mode change"
        elif kind_of in ("rollback", "traffic"):
            kind = str(kind_of)
        else:
            kind = None
        at = parse_time(event.get("timestamp"))
        if kind is not None and at is not None:
            out.append(Marker(at, kind, str(kind_of), str(event.get("timestamp")), _marker_label(event)))
    return out


def safe_name(host: str) -> str:
    """``host`` as a file-name part: anything but letters, digits, ``_`` and ``-`` becomes ``_``."""
    return _UNSAFE.sub("_", host) or "_"


def report_stem(report_name: str) -> str:
    """``audit_report.md`` -> ``audit_report`` (the SVGs are named after the report)."""
    return report_name[:-3] if report_name.lower().endswith(".md") and len(report_name) > 3 else report_name


def build_charts(events: Sequence[Mapping[str, Any]], samples_by_host: Mapping[str, Sequence[Mapping[str, Any]]],
                 report_name: str, *, max_points: int = MAX_POINTS) -> list[HostCharts]:
    """One ``HostCharts`` per host that has events or samples, sorted by host name.

    ``samples_by_host`` holds each host's ``metrics_history`` samples; the events give
    the legacy samples and the markers. Two hosts whose names differ only in characters a
    file name cannot hold get distinct SVG names (``-2``, ``-3`` ...).
    """
    hosts = sorted({str(e.get("host")) for e in events if e.get("host")} | set(samples_by_host))
    stem, taken, out = report_stem(report_name), set(), []
    for host in hosts:
        from_samples = sample_observations(samples_by_host.get(host, ()))
        from_gate = gate_observations(events, host)
        from_events = legacy_observations(events, host)
        sources = tuple(name for name, obs in (("status samples", from_samples), ("canary gate windows", from_gate),
                                               ("status_scrape events", from_events)) if obs)
        observations = from_samples + from_gate + from_events
        moments = [o.at for o in observations]
        all_markers = markers(events, host)
        if not moments:
            out.append(HostCharts(host, (), METRICS, (), len(all_markers), sources))
            continue
        start, end = min(moments), max(moments)
        drawn = tuple(m for m in all_markers if start <= m.at <= end)
        # The tracks change at a rollback or a mode change: no line joins across one.
        breaks = sorted(m.at for m in drawn if m.kind in REPLACING)
        base = safe_name(host)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        charts, missing = [], []
        for metric in METRICS:
            lines = series(observations, metric.key)
            if not lines:
                missing.append(metric)
                continue
            charts.append(Chart(host, metric, {t: plotted(p, max_points, breaks) for t, p in lines.items()}, drawn,
                                start, end, f"{stem}.{name}.{metric.tag}.svg",
                                sum(len(p) for p in lines.values())))
        out.append(HostCharts(host, tuple(charts), tuple(missing), drawn, len(all_markers) - len(drawn), sources))
    return out
