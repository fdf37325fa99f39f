"""`inv rollout`: a canary analysis in one command, as Argo Rollouts and Flagger run it.

Start the canary at the first step's weight; at each step hold one evaluation window of
traffic at that weight and ask the canary policy; a deny (or no usable answer) rolls back
by itself; after the last step the canary is promoted to stable. Interrupted, it leaves the
canary at the current step's weight beside stable — a state `rollback` or `promote` finishes.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from .. import interrupt
from ..errors import MetricsSourceError, PolicyDenied, PolicyEngineError, SwiftDeployError
from ..metrics.scrape import MetricsUnavailable, WindowStats, track_window
from ..results import Reporter, StepResult
from ..tracks import with_weight
from . import flows, interrupted, promotion, traffic
from ..observe import canary_window
from ..observe import prometheus_window
from .context import PROMOTION, Options, Project, Target

Progress = Callable[[dict[str, Any]], None]
TICK_SECONDS = 2.0


def _watching_sleep(target: Target, step: int, steps: int, weight: int, progress: Progress | None,
                    clock: Callable[[], float] = time.monotonic) -> Callable[[float], None]:
    """A sleep for the evaluation window that reports the canary's numbers so far every tick."""
    def sleep(seconds: float) -> None:
        so_far = _canary_so_far(target)
        end = clock() + seconds
        while (left := end - clock()) > 0:
            interrupt.sleep(min(TICK_SECONDS, left))
            if progress is None or so_far is None:
                continue
            try:
                stats = so_far()
            except (MetricsUnavailable, MetricsSourceError, ValueError):
                continue  # too early for numbers, or a scrape missed: the gate itself will say
            progress({"host": target.name, "step": step, "steps": steps, "weight": weight,
                      "requests": stats.requests, "error_rate": stats.error_rate,
                      "p99_latency_ms": stats.p99_latency_ms, "seconds_left": max(0.0, end - clock())})
    return sleep


def _canary_so_far(target: Target) -> Callable[[], WindowStats] | None:
    """How to read the canary's window so far from the gate's own source (None: no starting point)."""
    if target.manifest.metrics.uses_prometheus:
        started = time.time()
        return lambda: prometheus_window.canary_since(target, started)
    cache = canary_window.load_cache(target, "canary")  # the scrape the gate has just taken
    if not cache:
        return None
    start = canary_window.parse_entry(cache[-1])
    return lambda: track_window(start, canary_window.scrape(target, track="canary", remember=False))


def rollout(project: Project, target: Target, reporter: Reporter, opts: Options, *,
            progress: Progress | None = None) -> Project:
    steps = target.manifest.canary.steps
    if target.unfinished_promotion() and not opts.check:  # a rollout stopped in its final promotion
        return flows.promote(project, target, reporter, opts, "stable")
    project = flows.start_canary(project, target, reporter, opts, weight=steps[0])
    if opts.check:
        reporter.record(StepResult("rollout", target.name, "changed", plan(target), {"check": True}))
        return project
    try:
        for number, weight in enumerate(steps, 1):
            if number > 1:
                traffic.switch(project, target, reporter, with_weight(weight), opts,
                               why=f"rollout step {number}/{len(steps)}")
                target.write_state(weight=weight)
            # The dashboard shows this; "active" goes false however the rollout ends (Ctrl-C included).
            target.write_state(rollout={"step": number, "steps": len(steps), "weight": weight, "active": True})
            watching = _watching_sleep(target, number, len(steps), weight, progress)
            try:
                flows.judge_canary(project, target, reporter, opts, fresh=True,
                                   sleep=interrupt.sleep_after(lambda: promotion.warm_up(project, target), watching))
            except (PolicyDenied, PolicyEngineError, MetricsUnavailable) as exc:
                reason = f"rollout step {number}/{len(steps)} at {weight}%: {exc.message}"
                flows.rollback(project, target, reporter, opts, reason=reason)
                raise
        return promotion.finish_promotion(project, target, reporter, opts)
    finally:
        _mark_over(target)


def plan(target: Target) -> str:
    """What a rollout would do on ``target``, in one line (check mode)."""
    m = target.manifest
    weights = ", ".join(f"{w}%" for w in m.canary.steps)
    window = f"{m.canary_limits.evaluation_window_seconds:g} s"
    return (f"would hold the canary ({m.canary.image}, {m.canary.version}) at {weights} for one {window} window "
            f"each, ask the canary policy ({m.metrics.source} metrics) after each, roll back on a deny, and "
            "promote it to stable after the last")


def _mark_over(target: Target) -> None:
    try:
        entry = target.read_state().get("rollout")
        if isinstance(entry, dict) and entry.get("active"):
            target.write_state(rollout={**entry, "active": False})
    except (SwiftDeployError, OSError):
        pass  # never hide the rollout's own outcome (or Ctrl-C) behind a failed state write


def interrupted_note(target: Target) -> str:
    """What a Ctrl-C left on ``target`` and how to finish: the canary keeps its current share."""
    try:
        state = target.read_state()
    except (SwiftDeployError, OSError):
        state = {}
    if isinstance(state.get(PROMOTION), dict):  # stopped in the final promotion: say what is there
        return interrupted.note(target, "rollout")
    weight = state.get("weight")
    if weight == 0:  # stopped before the canary's first step: there is no share to keep, nothing to promote
        return (f"interrupted: on {target.name} before the canary took any traffic (stable serves all of it); "
                "finish with `inv rollback`")
    share = f"{weight}% of the traffic" if isinstance(weight, int) else "its share of the traffic"
    return (f"interrupted: on {target.name} the canary keeps {share} beside stable; "
            "finish with `inv rollback` or `inv promote --mode stable`")
