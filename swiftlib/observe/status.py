"""One frame of the live status: each track's recent traffic, the split, both policies' verdicts.

``take_frame`` gathers (a scrape per running track, host stats, two decisions);
``format_frame`` is pure and turns a frame into the terminal dashboard. The numbers come from
where the gate reads them: with ``metrics.source: prometheus`` each track's last evaluation window
as Prometheus answers it; otherwise the window matches the scrape gate's: the newest remembered
scrape about one window old, else the oldest one inside the window, else the track's whole life.
The top-level numbers are the canary's while one runs (what the gate judges), else stable's.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable

from tabulate import tabulate

from ..errors import MetricsSourceError, PolicyEngineError, SwiftDeployError
from ..hoststats import collect_host_stats
from ..metrics.scrape import MetricsUnavailable, WindowStats, track_window
from ..tracks import describe
from ..policy.inputs import WINDOW_KEYS, canary_input, infrastructure_input
from . import canary_window, prometheus_window
from ..lifecycle.context import Target
from ..lifecycle.traffic import current_split


def _baseline(target: Target, now: float, track: str):
    window = target.manifest.canary_limits.evaluation_window_seconds
    cached = canary_window.load_cache(target, track)
    older = [d for d in cached if now - d["taken_at"] >= window]
    inside = [d for d in cached if 0 < now - d["taken_at"] < window]
    pick = max(older, key=lambda d: d["taken_at"]) if older else (min(inside, key=lambda d: d["taken_at"]) if inside else None)
    return canary_window.parse_entry(pick) if pick else None


def _ask(engine: Any, domain: str, policy_input: dict) -> dict[str, Any]:
    try:
        return engine.decide(domain, policy_input).to_dict()
    except PolicyEngineError as exc:
        return {"domain": domain, "question": "", "allow": False, "reasons": [f"policy engine failed: {exc.message}"]}


def _track_window(target: Target, track: str, now: float, judged: WindowStats | None = None) -> dict[str, Any] | None:
    """The track's window as status shows it, or None when the track does not answer.

    ``judged``: the track's numbers from the gate's own source (Prometheus); the scrape still
    gives its mode, chaos and uptime. Without it the numbers come from the remembered scrapes.
    """
    baseline = _baseline(target, now, track)
    try:
        current = canary_window.scrape(target, track=track, clock=lambda: now)
    except MetricsUnavailable:
        return None
    stats = judged if judged is not None else track_window(baseline, current)
    return {
        "mode": current.mode_name, "chaos": current.chaos_name,
        "req_per_s": round(stats.req_per_s, 3), "error_rate": round(stats.error_rate, 4),
        "p99_latency_ms": round(stats.p99_latency_ms, 1), "requests": stats.requests,
        "uptime_seconds": round(current.uptime_seconds, 1), "window_seconds": round(stats.window_seconds, 1),
        "numbers_from": "prometheus" if judged is not None else "scrape",
    }


def _prometheus_windows(target: Target, now: float) -> tuple[dict[str, WindowStats], str | None]:
    """Each track's last evaluation window from the stack's Prometheus, as the gate reads it.

    ({}, why) when Prometheus cannot answer: status then shows the scraped numbers and says so.
    A track Prometheus has no samples of yet (a fresh canary) is left to the scrape.
    """
    m = target.manifest
    window = m.canary_limits.evaluation_window_seconds
    found: dict[str, WindowStats] = {}
    empty: list[str] = []
    try:
        with target.loopback(m.metrics.prometheus.port) as base_url:
            for track in ("stable", "canary"):
                try:
                    found[track] = prometheus_window.track_window(base_url, track, window, now)
                except MetricsSourceError as exc:
                    if exc.reason != "empty_result":
                        raise
                    empty.append(track)
    except SwiftDeployError as exc:
        return {}, f"Prometheus did not answer: {exc.message}"
    if empty and not found:
        return {}, f"Prometheus has no requests of {' or '.join(empty)} in the last {window:g}s yet"
    return found, None


def expected_tracks(mode: str, split: dict[str, int]) -> list[str]:
    """Tracks that should answer (pure): stable always, the canary while the manifest or the split has one."""
    return [name for name in ("stable", "canary")
            if name == "stable" or mode == "canary" or split.get(name, 0) > 0]


def take_frame(target: Target, engine: Any, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    now = clock()
    m = target.manifest
    split = current_split(target)
    expected = expected_tracks(m.services.mode, split)
    # With metrics.source: prometheus the numbers are the ones the gate reads (scrapes keep the rest).
    judged_by, numbers_note = _prometheus_windows(target, now) if m.metrics.uses_prometheus else ({}, None)
    tracks = {name: w for name in ("stable", "canary")
              if (w := _track_window(target, name, now, judged_by.get(name))) is not None}
    if not tracks:
        raise MetricsUnavailable("no app track answers on the admin listener; is the stack deployed? (inv deploy)",
                                 host=target.name)
    # A track that should run but does not answer is shown as such, never hidden or stood in for.
    missing = {name: f"does not answer ({share}% of the traffic goes to it)" if (share := split.get(name, 0))
               else "does not answer" for name in expected if name not in tracks}
    judged = tracks.get("canary") or tracks.get("stable")
    try:
        host_stats = collect_host_stats(target.host).to_dict()
    except SwiftDeployError as exc:
        host_stats = {"error": exc.message}
    base = tracks.get("stable") if "canary" in tracks else None
    base_metric = {k: base[k] for k in WINDOW_KEYS} if base else None
    from ..lifecycle import certificates

    from ..lifecycle.gates import cluster_facts

    try:  # a swarm: what a deploy's gate would judge, every node (status shows, it does not fail)
        cluster = cluster_facts(target)
    except SwiftDeployError:
        cluster = None
    infrastructure = _ask(engine, "infrastructure", infrastructure_input(
        host_stats, m.infrastructure_limits.to_dict(), tls=certificates.policy_input(None, target), cluster=cluster))
    if "canary" in missing:
        canary = {"domain": "canary", "question": "", "allow": False,
                  "reasons": ["the canary track does not answer: there is nothing to judge"]}
    else:
        metric = {k: judged[k] for k in WINDOW_KEYS}
        canary = _ask(engine, "canary", canary_input(metric, m.canary_limits.to_dict(), baseline=base_metric))
    return {
        "timestamp": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": target.name,
        "mode": "canary" if "canary" in tracks or m.services.mode == "canary" else judged["mode"],
        "version": m.services.version,
        "canary_version": m.canary.version if "canary" in tracks or "canary" in missing else None,
        "weight": split.get("canary", 0),
        "split": split,
        **{k: judged[k] for k in ("chaos", "req_per_s", "error_rate", "p99_latency_ms", "requests",
                                  "uptime_seconds", "window_seconds")},
        "tracks": tracks,
        "missing_tracks": missing,
        "engine": engine.name,
        "metrics_source": m.metrics.source,
        "numbers_from": judged.get("numbers_from", "scrape"),
        "numbers_note": numbers_note,
        "maintenance": _maintenance(target),
        "certificate": certificates.summary(target),
        "host_stats": host_stats,
        "policies": [infrastructure, canary],
    }


def _maintenance(target: Target) -> dict[str, Any] | None:
    """While the public port answers 503 for maintenance: its message, since when, and how to say it."""
    value = target.read_state().get("maintenance")
    if not isinstance(value, dict):
        return None
    message, since = str(value.get("message")), str(value.get("since"))
    return {"message": message, "since": since,
            "text": f"ON since {since}: the public port answers 503 ({message})"}


def _judged_on(frame: dict[str, Any]) -> str:
    """Where the frame's numbers came from, when the gate reads Prometheus (pure)."""
    if frame.get("metrics_source") != "prometheus":
        return ""
    if frame.get("numbers_from") == "prometheus":
        return ", on Prometheus' numbers, as the gate reads them"
    why = f" ({frame['numbers_note']})" if frame.get("numbers_note") else ""
    return f", on the numbers above{why}; `inv promote` asks Prometheus"


def format_frame(frame: dict[str, Any]) -> str:
    """The dashboard text for one frame (pure)."""
    version = frame["version"] + (f"  (canary {frame['canary_version']})" if frame.get("canary_version") else "")
    rows = [
        ["time", frame["timestamp"]], ["host", frame["host"]],
        ["mode", frame["mode"]], ["version", version],
        ["traffic", describe(frame["split"]) if frame.get("split") else "unknown"],
    ]
    if isinstance(frame.get("maintenance"), dict):
        rows.append(["maintenance", frame["maintenance"].get("text")])
    if isinstance(frame.get("certificate"), dict):
        rows.append(["certificate", frame["certificate"].get("text")])
    header = ["track", "chaos", "req/s", "error rate", "p99", "requests", "uptime"]
    table = [[name, t["chaos"], f"{t['req_per_s']:.2f}", f"{t['error_rate']:.2%}", f"{t['p99_latency_ms']:.0f} ms",
              f"{t['requests']} in {t['window_seconds']:.0f}s", f"{t['uptime_seconds']:.0f}s"]
             for name, t in frame["tracks"].items()]
    table += [[name, "MISSING", why, "", "", "", ""] for name, why in (frame.get("missing_tracks") or {}).items()]
    out = ["SwiftDeploy status", tabulate(rows, tablefmt="plain"), "", tabulate(table, header, tablefmt="plain"),
           "", f"policies ({frame['engine']} engine{_judged_on(frame)}):"]
    for p in frame["policies"]:
        verdict = "ALLOW" if p["allow"] else "DENY "
        out.append(f"  {verdict} {p['domain']}: " + "; ".join(p["reasons"]))
    return "\n".join(out)
