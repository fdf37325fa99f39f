"""What the dashboard page shows, as JSON (pure: no I/O, no clock of its own).

``state_document`` turns the sampler's latest ``Snapshot`` (a status frame or the reason
there is none, the target's state, the audit trail's newest events) into ``/api/state``;
``series_of`` turns metrics-history samples into the columnar arrays the charts draw
(``/api/series``). Times are UTC ISO stamps in, epoch seconds to the charts, and
``HH:MM:SS`` in the viewer's time zone (``tz``; the server's, since it is bound to loopback)
in the one sentence a person reads when data is missing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, Iterable, Mapping, Sequence

from ..tracks import describe

SCHEMA = 1
AUDIT_EVENTS = 20
CHART_TRACKS = ("stable", "canary")
CHART_FIELDS = ("req_per_s", "error_rate", "p99_latency_ms")
STAMP = "%Y-%m-%dT%H:%M:%SZ"
_ROLLOUT_STEP = re.compile(r"rollout step (\d+)/(\d+)")
_SUMMARY_MAX = 240


@dataclass(frozen=True)
class Snapshot:
    """What the sampler last saw. Epoch seconds throughout; ``None`` means not yet."""

    host: str
    interval: float
    started_at: float
    attempted_at: float | None = None       # the last attempt to take a frame
    frame: Mapping[str, Any] | None = None  # the last frame that was taken (kept while later ones fail)
    frame_at: float | None = None
    error: str | None = None                # why the last attempt gave no frame (None: it did)
    failing_since: float | None = None      # the first failed attempt of the current run of failures
    record_error: str | None = None         # the frame was taken but not kept for the charts
    target_state: Mapping[str, Any] = field(default_factory=dict)
    state_error: str | None = None
    audit_events: Sequence[Mapping[str, Any]] = ()
    audit_error: str | None = None
    canary_steps: Sequence[int] = ()


def epoch_of(stamp: str) -> float | None:
    """``2026-12-01T08:00:00Z`` (optionally with milliseconds) as epoch seconds; None if not a stamp.

    A stamp without a zone is read as UTC (metrics history and the audit trail write UTC).
    """
    if not isinstance(stamp, str) or len(stamp) < 19 or stamp[10:11] != "T":
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).strftime(STAMP)


def clock_time(epoch: float, tz: tzinfo | None = None) -> str:
    """``HH:MM:SS`` in ``tz`` (None: this machine's local time zone)."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return (moment.astimezone(tz) if tz is not None else moment.astimezone()).strftime("%H:%M:%S")


# ---------------------------------------------------------------- the latest frame

def _number(value: Any) -> float | None:
    """A finite number, else None (JSON has no NaN; the page shows a dash)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def policy_view(policy: Mapping[str, Any]) -> dict[str, Any]:
    allow = policy.get("allow") is True
    reasons = [str(r) for r in policy.get("reasons") or []]
    return {"domain": str(policy.get("domain", "")), "question": str(policy.get("question", "")),
            "allow": allow, "verdict": "ALLOW" if allow else "DENY", "reasons": reasons}


def frame_view(frame: Mapping[str, Any]) -> dict[str, Any]:
    """One status frame as the page shows it: the headline numbers, each track, each decision."""
    split = {k: int(v) for k, v in (frame.get("split") or {}).items() if isinstance(v, (int, float))}
    tracks = []
    for name, t in (frame.get("tracks") or {}).items():
        tracks.append({"name": name, "mode": t.get("mode"), "chaos": t.get("chaos"),
                       "req_per_s": _number(t.get("req_per_s")), "error_rate": _number(t.get("error_rate")),
                       "p99_latency_ms": _number(t.get("p99_latency_ms")), "requests": t.get("requests"),
                       "window_seconds": _number(t.get("window_seconds")),
                       "uptime_seconds": _number(t.get("uptime_seconds")),
                       "weight": split.get(name, 0)})
    # A track that should answer but does not: a row of its own, its numbers unknown (never stood in for).
    for name, why in (frame.get("missing_tracks") or {}).items():
        tracks.append({"name": name, "mode": None, "chaos": f"MISSING: {why}", "req_per_s": None,
                       "error_rate": None, "p99_latency_ms": None, "requests": None, "window_seconds": None,
                       "uptime_seconds": None, "weight": split.get(name, 0), "missing": True})
    return {
        "timestamp": frame.get("timestamp"),
        "host": frame.get("host"),
        "mode": frame.get("mode"),
        "version": frame.get("version"),
        "canary_version": frame.get("canary_version"),
        "weight": int(frame.get("weight") or 0),
        "split": split,
        "split_text": describe(split) if split else "unknown",
        "chaos": frame.get("chaos"),
        # whose numbers the headline shows: the canary's while one runs (what the gate judges)
        "judged": "canary" if "canary" in (frame.get("tracks") or {}) else "stable",
        "req_per_s": _number(frame.get("req_per_s")),
        "error_rate": _number(frame.get("error_rate")),
        "p99_latency_ms": _number(frame.get("p99_latency_ms")),
        "requests": frame.get("requests"),
        "window_seconds": _number(frame.get("window_seconds")),
        "tracks": tracks,
        "engine": frame.get("engine"),
        "metrics_source": frame.get("metrics_source") or "scrape",
        "numbers_from": frame.get("numbers_from") or "scrape",
        "numbers_note": frame.get("numbers_note"),
        "maintenance": (frame.get("maintenance") or {}).get("text") if isinstance(frame.get("maintenance"), dict) else None,
        "certificate": frame["certificate"].get("text") if isinstance(frame.get("certificate"), dict) else None,
        "host_stats": dict(frame.get("host_stats") or {}),
        "policies": [policy_view(p) for p in frame.get("policies") or []],
    }


# ---------------------------------------------------------------- audit events

def _compact(data: Mapping[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def _decision_text(data: Mapping[str, Any]) -> str:
    verdict = "allow" if data.get("allow") is True else "deny"
    engine = f" ({data['engine']})" if data.get("engine") else ""
    reasons = "; ".join(str(r) for r in data.get("reasons") or [])
    return f"{data.get('domain', '?')}: {verdict}{engine}" + (f" — {reasons}" if reasons else "")


def audit_summary(event: Mapping[str, Any]) -> str:
    """One line saying what an audit event recorded (its type is shown beside it)."""
    kind = event.get("event_type")
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    if kind in ("policy_check", "policy_violation", "policy_what_if") and "allow" in data:
        text = _decision_text(data)
    elif kind == "policy_engine_failure":
        text = f"{data.get('engine', 'policy')} engine failed: {data.get('message') or data.get('reason', '?')}"
    elif kind == "traffic" and isinstance(data.get("to"), Mapping):
        text = describe(data["to"]) + (f" ({data['why']})" if data.get("why") else "")
    elif kind == "rollback":
        text = f"{data.get('from', '?')} → stable: {data.get('reason', 'requested')}"
    elif kind == "mode_change":
        version = data.get("canary_version") or data.get("version")
        text = f"{data.get('from', '?')} → {data.get('to', '?')}" + (f" (version {version})" if version else "")
    elif kind == "deploy":
        text = " ".join(str(data[k]) for k in ("status", "mode", "version") if data.get(k))
        text += f" ({data['engine']})" if data.get("engine") else ""
    elif kind == "chaos" and isinstance(data.get("request"), Mapping):
        text = _compact(data["request"])
    else:
        text = _compact(data)
    text = " ".join(text.split())  # one line, whatever the reasons held
    return text if len(text) <= _SUMMARY_MAX else text[:_SUMMARY_MAX - 1] + "…"


def audit_level(event: Mapping[str, Any]) -> str:
    kind = event.get("event_type")
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    if kind in ("policy_violation", "policy_engine_failure", "rollback") or data.get("status") == "failed":
        return "bad"
    if kind == "policy_check" and data.get("allow") is True:
        return "good"
    return "info"


def audit_view(events: Sequence[Mapping[str, Any]], *, limit: int = AUDIT_EVENTS) -> list[dict[str, Any]]:
    """The newest ``limit`` events, newest first."""
    out = []
    for event in list(events)[-limit:][::-1]:
        if not isinstance(event, Mapping):
            continue
        out.append({"timestamp": event.get("timestamp"), "event_type": str(event.get("event_type", "")),
                    "host": event.get("host"), "actor": event.get("actor"),
                    "summary": audit_summary(event), "level": audit_level(event)})
    return out


# ---------------------------------------------------------------- rollout progress

def rollout_progress(state: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                     steps: Sequence[int] = (), *, host: str | None = None) -> dict[str, Any] | None:
    """Where a rollout stands, or None when the target's state says none runs.

    The target's state (``.swiftdeploy/state.json``) is the source: a ``rollout`` entry
    (``{"step", "steps", "weight"}``, ``"active": false`` once over) is used as it is. Without
    one, a canary the state says runs at one of ``canary.steps`` whose newest traffic move in
    the audit trail was a ``rollout step N/M`` (with no rollback or promotion after it) is
    reported as that step, marked ``inferred``.
    """
    entry = state.get("rollout")
    if isinstance(entry, Mapping):
        if entry.get("active") is False:
            return None
        step, total = entry.get("step"), entry.get("steps")
        if isinstance(step, int) and isinstance(total, int) and total > 0:
            weight = entry.get("weight", state.get("weight"))
            return _progress(step, total, weight, "state")
    if state.get("mode") != "canary":
        return None
    weight = state.get("weight")
    for event in reversed(list(events)):
        if not isinstance(event, Mapping) or (host is not None and event.get("host") != host):
            continue
        kind = event.get("event_type")
        data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        if kind in ("rollback", "mode_change", "deploy", "teardown"):
            return None
        if kind == "traffic":
            match = _ROLLOUT_STEP.search(str(data.get("why", "")))
            if not match:
                return None
            step, total = int(match.group(1)), int(match.group(2))
            if steps and weight not in steps:
                return None
            return _progress(step, total, weight, "inferred")
    return None


def _progress(step: int, total: int, weight: Any, source: str) -> dict[str, Any]:
    at = f" at {weight}%" if isinstance(weight, int) else ""
    return {"step": step, "steps": total, "weight": weight if isinstance(weight, int) else None,
            "fraction": round(min(1.0, max(0.0, step / total)), 4), "source": source,
            "text": f"rollout step {step}/{total}{at}"}


# ---------------------------------------------------------------- /api/state

def missing_view(snap: Snapshot, tz: tzinfo | None = None) -> dict[str, Any] | None:
    """Why there is no current data, as a person reads it; None while frames arrive."""
    if snap.attempted_at is None:
        return {"since": iso(snap.started_at), "reason": "waiting for the first status frame",
                "text": "no data yet: waiting for the first status frame"}
    if snap.error is None:
        return None
    since = snap.frame_at if snap.frame_at is not None else (snap.failing_since or snap.started_at)
    return {"since": iso(since), "reason": snap.error,
            "text": f"no data since {clock_time(since, tz)}: {snap.error}"}


def state_document(snap: Snapshot, *, tz: tzinfo | None = None) -> dict[str, Any]:
    """``/api/state``: the latest frame (or why there is none), decisions, audit events, rollout."""
    missing = missing_view(snap, tz)
    return {
        "schema": SCHEMA,
        "host": snap.host,
        "interval": snap.interval,
        "started_at": iso(snap.started_at),
        "attempted_at": iso(snap.attempted_at),
        "ok": missing is None,
        "stale": missing is not None and snap.frame is not None,
        "missing": missing,
        "frame": frame_view(snap.frame) if snap.frame is not None else None,
        "frame_at": iso(snap.frame_at),
        "record_error": snap.record_error,
        "target_state": {k: snap.target_state.get(k) for k in ("mode", "weight", "engine") if k in snap.target_state},
        "state_error": snap.state_error,
        "rollout": rollout_progress(snap.target_state, snap.audit_events, snap.canary_steps, host=snap.host),
        "audit": audit_view(snap.audit_events),
        "audit_error": snap.audit_error,
    }


# ---------------------------------------------------------------- /api/series

def series_of(samples: Iterable[Mapping[str, Any]], *, since: float | None = None,
              gap_seconds: float | None = None) -> dict[str, Any]:
    """Metrics-history samples as aligned columns for the charts, oldest first.

    ``t`` is epoch seconds; each track's column holds ``None`` where that track did not
    run (so stable and canary are separate lines, and a canary line exists only while one
    ran). With ``gap_seconds``, two samples further apart than that get a row of ``None``
    between them: the charts break the line where no data was taken instead of drawing over it.
    """
    rows = []
    for sample in samples:
        if not isinstance(sample, Mapping):
            continue
        t = epoch_of(sample.get("timestamp", ""))
        if t is None or (since is not None and t < since):
            continue
        rows.append((t, sample))
    rows.sort(key=lambda row: row[0])
    out: dict[str, Any] = {"t": [], "weight": [], "mode": [],
                           **{track: {f: [] for f in CHART_FIELDS} for track in CHART_TRACKS}}
    count, previous = 0, None
    for t, sample in rows:
        if gap_seconds is not None and previous is not None and t - previous > gap_seconds:
            _append(out, previous + min(1.0, (t - previous) / 2), None)
        _append(out, t, sample)
        count, previous = count + 1, t
    out.update(count=count, first=out["t"][0] if out["t"] else None, last=previous,
               since=since, gap_seconds=gap_seconds)
    return out


def _append(out: dict[str, Any], t: float, sample: Mapping[str, Any] | None) -> None:
    out["t"].append(t)
    tracks = (sample or {}).get("tracks") or {}
    out["weight"].append(_number(sample.get("weight")) if sample else None)
    out["mode"].append(sample.get("mode") if sample else None)
    for track in CHART_TRACKS:
        values = tracks.get(track) if isinstance(tracks.get(track), Mapping) else None
        for f in CHART_FIELDS:
            out[track][f].append(_number(values.get(f)) if values else None)
