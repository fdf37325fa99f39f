"""One frame of the live status: the app's recent traffic and both policies' verdicts.

``take_frame`` gathers (scrape, host stats, two decisions); ``format_frame`` is pure
and turns a frame into the terminal dashboard. The window matches the canary gate's:
the newest remembered scrape about one window old, else the oldest one inside the
window, else the app's whole life.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable

from tabulate import tabulate

from ..errors import PolicyEngineError, SwiftDeployError
from ..hoststats import collect_host_stats
from ..metrics import parse_scrape, window_stats
from ..policy.inputs import canary_input, infrastructure_input
from . import canary_window
from .context import Target


def _baseline(target: Target, now: float):
    window = target.manifest.canary_limits.evaluation_window_seconds
    cached = canary_window.load_cache(target)
    older = [d for d in cached if now - d["taken_at"] >= window]
    inside = [d for d in cached if 0 < now - d["taken_at"] < window]
    pick = max(older, key=lambda d: d["taken_at"]) if older else (min(inside, key=lambda d: d["taken_at"]) if inside else None)
    return parse_scrape(pick["text"], taken_at=pick["taken_at"]) if pick else None


def _ask(engine: Any, domain: str, policy_input: dict) -> dict[str, Any]:
    try:
        return engine.decide(domain, policy_input).to_dict()
    except PolicyEngineError as exc:
        return {"domain": domain, "question": "", "allow": False, "reasons": [f"policy engine failed: {exc.message}"]}


def take_frame(target: Target, engine: Any, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    now = clock()
    baseline = _baseline(target, now)
    current = canary_window.scrape(target, clock=lambda: now)
    stats = window_stats(baseline, current)
    m = target.manifest
    try:
        host_stats = collect_host_stats(target.host).to_dict()
    except SwiftDeployError as exc:
        host_stats = {"error": exc.message}
    canary_metrics = {k: getattr(stats, k) for k in ("error_rate", "p99_latency_ms", "requests", "window_seconds")}
    policies = [
        _ask(engine, "infrastructure", infrastructure_input(host_stats, m.infrastructure_limits.to_dict())),
        _ask(engine, "canary", canary_input(canary_metrics, m.canary_limits.to_dict())),
    ]
    return {
        "timestamp": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": target.name,
        "mode": current.mode_name,
        "version": m.services.version,
        "chaos": current.chaos_name,
        "req_per_s": round(stats.req_per_s, 3),
        "error_rate": round(stats.error_rate, 4),
        "p99_latency_ms": round(stats.p99_latency_ms, 1),
        "requests": stats.requests,
        "uptime_seconds": round(current.uptime_seconds, 1),
        "window_seconds": round(stats.window_seconds, 1),
        "engine": engine.name,
        "host_stats": host_stats,
        "policies": policies,
    }


def format_frame(frame: dict[str, Any]) -> str:
    """The dashboard text for one frame (pure)."""
    rows = [
        ["time", frame["timestamp"]], ["host", frame["host"]],
        ["mode", frame["mode"]], ["version", frame["version"]], ["chaos", frame["chaos"]],
        ["req/s", f"{frame['req_per_s']:.2f}"], ["error rate", f"{frame['error_rate']:.2%}"],
        ["p99 latency", f"{frame['p99_latency_ms']:.0f} ms"],
        ["requests", f"{frame['requests']} in the last {frame['window_seconds']:.0f}s"],
        ["uptime", f"{frame['uptime_seconds']:.0f}s"],
    ]
    out = ["SwiftDeploy status", tabulate(rows, tablefmt="plain"), "", f"policies ({frame['engine']} engine):"]
    for p in frame["policies"]:
        verdict = "ALLOW" if p["allow"] else "DENY "
        out.append(f"  {verdict} {p['domain']}: " + "; ".join(p["reasons"]))
    return "\n".join(out)
