"""The lifecycle flows composed from the steps: deploy, promote and rollback.

deploy          = render → validate → start policy engine → policy(pre_deploy) → certificate → [handover] → up →
                  traffic → [ACME certificate] → health
promote canary  = canary image present → manifest mode → render → start canary beside stable → traffic weight%
promote stable  = policy(pre_promote, the canary's own window) → traffic all to canary → manifest (mode, image,
                  version) → render → stable recreated with the canary's version → traffic all to stable → remove canary
rollback        = traffic all to stable → remove canary → manifest mode stable → render      (never gated)

The promotion itself (and its record, so an interrupted one can be finished or undone) is in
`promotion`; the manifest edits and rendered files the flows share are in `manifest_step`.

Traffic only moves by a graceful nginx reload, and a container is removed or recreated only
after the split no longer sends it requests and the old nginx workers are gone, so no
transition drops a request. A gate that says no stops the flow before anything is touched.
"""
from __future__ import annotations

from typing import Callable

from .. import commands, interrupt
from ..errors import ConfigError, UsageError
from ..manifest.edit import writable_target
from ..render import COMPOSE_FILE
from ..results import Reporter, StepResult
from ..tracks import SERVICES, only, split_for, track, with_weight
from . import (admin_access, certificates, compose_steps, gates, health, preflight, promotion, render_step,
               track_steps, traffic)
from .context import PROMOTION, Options, Project, Target
from .engine_choice import EngineChoice, choose_engine
from .manifest_step import config_files, use



def _engine_step(target: Target, reporter: Reporter, choice: EngineChoice) -> None:
    reporter.record(StepResult("policy engine", target.name, "ok", f"{choice.engine}: {choice.why}", {"engine": choice.engine}))


def _refuse_gate_bypass(target: Target, reporter: Reporter) -> None:
    """A host still running the canary must reach stable through the canary gate, not a deploy.

    (After a fleet promotion the shared manifest says stable even for hosts whose gate said no.)
    """
    running = target.read_state().get("mode")
    if running == "canary" and target.manifest.services.mode == "stable" and track_steps.is_running(target, "canary"):
        msg = ("a canary runs on this host but the manifest says stable; run `inv promote --mode stable` so the "
               "canary policy decides, or `inv rollback` to drop the canary (deploy does not skip that gate)")
        reporter.record(StepResult("deploy", target.name, "failed", msg, {}, UsageError.exit_code))
        raise UsageError(msg, host=target.name)


def deploy(project: Project, target: Target, reporter: Reporter, opts: Options) -> None:
    _refuse_gate_bypass(target, reporter)
    choice = choose_engine(target, fresh=True)
    _engine_step(target, reporter, choice)
    files = render_step.rendered_files(project, target, choice)
    render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
    manifest_checks, _ = preflight.manifest_checks(project.manifest_path)
    preflight.report(manifest_checks + preflight.tls_checks(project, target)
                     + preflight.host_checks(target, files, include_opa=choice.include_opa, reuse=not opts.check),
                     target.name, reporter)
    if choice.include_opa:
        compose_steps.up(project, target, reporter, opts, services=["opa"], task="start policy engine")
    if opts.check:
        with gates.engine_for_check(project, target, choice) as engine:
            gates.infrastructure_gate(project, target, reporter, engine)
    else:
        # Just started: allow the OPA container time to load the policies.
        with gates.policy_engine(project, target, choice, reporter=reporter, ready_seconds=30.0) as engine:
            gates.infrastructure_gate(project, target, reporter, engine)
    admin_access.sync(project, target, reporter, opts)  # a redeploy: the network (and its gateway) exists
    certificates.prepare(project, target, reporter, opts)  # nginx loads it when it (re)starts
    handover, canary_change = _replaced_tracks(target, files[COMPOSE_FILE] if opts.check else None)
    if opts.check:
        _plan_replacements(target, reporter, handover, canary_change)
        # The app tracks are replaced blue/green before `up` (planned above); `up` would recreate the rest.
        compose_steps.up(project, target, reporter, opts, compose_text=files[COMPOSE_FILE],
                         replaced_before=tuple(SERVICES.values()))
        certificates.finish(project, target, reporter, opts)
        return
    if handover:  # blue/green: the new version serves while stable is recreated
        render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice, bridge=True))
        track_steps.start(project, target, reporter, "next", opts)
        traffic.switch(project, target, reporter, only("next"), opts, why="new version takes over while stable is replaced")
    elif canary_change:
        traffic.switch(project, target, reporter, only("stable"), opts, why="canary is being replaced")
    # Replaced one at a time (--no-deps): in a single `compose up` a recreated app would also recreate nginx.
    for name in (["stable"] if handover else []) + (["canary"] if canary_change else []):
        track_steps.start(project, target, reporter, name, opts)
    up = compose_steps.up(project, target, reporter, opts)
    if up.status != "ok" or handover or canary_change:
        admin_access.sync(project, target, reporter, opts)  # a first deploy: `up` has just created the network
    for name in ("stable", "canary") if target.manifest.services.mode == "canary" else ("stable",):
        health.wait_track_healthy(target, track(target.manifest, name))
    traffic.switch(project, target, reporter, split_for(target.manifest), opts, why="the manifest's split")
    if handover:
        track_steps.remove(project, target, reporter, "next", opts)
        render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
    certificates.finish(project, target, reporter, opts)  # ACME: nginx now answers the CA's challenge
    health.health(target, reporter, expect_mode="stable" if target.manifest.services.mode == "stable" else None,
                  tls=certificates.client_check(project, target))
    # The manifest is now what runs: a promotion interrupted earlier has nothing left to finish or undo.
    target.write_state(engine=choice.engine, mode=target.manifest.services.mode, **{PROMOTION: None})
    project.audit.append("deploy", {
        "status": up.status, "mode": target.manifest.services.mode, "version": target.manifest.services.version,
        "engine": choice.engine, "blue_green": handover,
    }, host=target.name)


def _replaced_tracks(target: Target, compose_text: str | None = None) -> tuple[bool, bool]:
    """Whether a deploy hands stable over through the next track, and whether it replaces the running canary.

    A handover is needed when the running stable track would be recreated, and also when the
    next track still runs: a deploy interrupted (Ctrl-C) after moving traffic to it is finished
    the same way, since a plain `compose up` would remove it as an orphan while it serves.
    ``compose_text``: the compose file this deploy would write (check mode writes none).
    """
    if target.runtime.rolls_updates:
        return False, False  # each track's tasks are replaced one by one, a new one healthy before an old one stops
    canary = target.manifest.services.mode == "canary" and track_steps.would_recreate(target, "canary", compose_text)
    handover = track_steps.would_recreate(target, "stable", compose_text) or track_steps.is_running(target, "next")
    return handover, canary


def _plan_replacements(target: Target, reporter: Reporter, handover: bool, canary_change: bool) -> None:
    """Check mode: say how the running tracks would be replaced (what the real run's steps would do)."""
    m = target.manifest
    if handover:
        nxt, stable = track(m, "next"), track(m, "stable")
        reporter.record(StepResult("blue/green", target.name, "changed",
                                   f"would start {nxt.container_name} ({nxt.image}, {nxt.version}), move all traffic "
                                   f"to it, recreate {stable.container_name} with {stable.version}, restore the split "
                                   f"and remove {nxt.container_name}", {"check": True}))
    if canary_change:
        canary = track(m, "canary")
        reporter.record(StepResult("replace canary", target.name, "changed",
                                   f"would move the canary's traffic to stable, recreate {canary.container_name} "
                                   f"({canary.image}, {canary.version}) and restore the split", {"check": True}))


def require_canary_image(target: Target, reporter: Reporter) -> None:
    """A canary whose image is not on the host is bad input: refuse before anything changes."""
    image = target.manifest.canary.image
    if not target.host.succeeds(commands.image_exists(image)):
        msg = f"canary.image: {image} is not on host {target.name}; build or pull it first"
        reporter.record(StepResult("canary image", target.name, "failed", msg, {}, ConfigError.exit_code))
        raise ConfigError(msg, host=target.name)


def start_canary(project: Project, target: Target, reporter: Reporter, opts: Options, *, weight: int | None = None) -> Project:
    """The canary beside stable, healthy, then ``weight``% (default canary.weight) of the traffic. Stable untouched."""
    require_canary_image(target, reporter)
    promotion.refuse_over_unfinished_promotion(target, reporter)
    if not opts.check:
        writable_target(project.manifest_path)
    current = target.read_state().get("mode") or target.manifest.services.mode
    choice = choose_engine(target)
    if opts.check:
        # What the real run would write and start: the files rendered in canary mode, compared with the
        # host's (--diff shows them), and the canary judged against that compose file.
        canary_manifest = target.manifest.with_mode("canary")
        if target.manifest.services.mode != "canary":
            reporter.record(StepResult("manifest", target.name, "changed", "would change services.mode: "
                                       f"{target.manifest.services.mode} → canary", {"check": True}))
        files = config_files(project, target, choice, manifest=canary_manifest)
        render_step.render(project, target, reporter, choice, opts, files)
        track_steps.start(project, target, reporter, "canary", opts, compose_text=files[COMPOSE_FILE])
        split = split_for(canary_manifest) if weight is None else with_weight(weight)
        traffic.switch(project, target, reporter, split, opts, why="canary")
        return project
    project = use(project, target, {"mode": "canary"}, reporter)
    render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
    track_steps.start(project, target, reporter, "canary", opts)
    split = split_for(target.manifest) if weight is None else with_weight(weight)
    traffic.switch(project, target, reporter, split, opts, why=f"canary at {split.get('canary', 0)}%")
    target.write_state(mode="canary", weight=split.get("canary", 0))
    if current != "canary":
        project.audit.append("mode_change", {"from": current, "to": "canary", "engine": choice.engine,
                                             "canary_version": target.manifest.canary.version}, host=target.name)
    return project


def judge_canary(project: Project, target: Target, reporter: Reporter, opts: Options, *,
                 on_wait: Callable[[float], None] | None = None, fresh: bool = False,
                 sleep: Callable[[float], None] | None = None) -> None:
    """Measure the canary's window (and stable's beside it) and ask the canary policy; raises when denied."""
    kwargs = {"sleep": sleep} if sleep else {}
    stats, baseline = gates.measure_canary(project, target, reporter, on_wait=on_wait, remember=not opts.check,
                                           fresh=fresh, **kwargs)
    window = stats.to_dict()
    reporter.record(StepResult("canary window", target.name, "ok",
                               f"canary: {window['requests']} requests, error rate {window['error_rate']:.2%}, "
                               f"p99 {window['p99_latency_ms']:.0f} ms over {window['window_seconds']:.0f}s", window))
    with gates.policy_engine(project, target, choose_engine(target), reporter=reporter) as engine:
        gates.canary_gate(project, target, reporter, engine, window, baseline.to_dict() if baseline else None)


def promote(project: Project, target: Target, reporter: Reporter, opts: Options, mode: str,
            on_wait: Callable[[float], None] | None = None) -> Project:
    """Start a canary beside stable (mode canary), or promote the canary to stable through its gate."""
    state = target.read_state()
    current = state.get("mode") or target.manifest.services.mode
    if not opts.check:
        writable_target(project.manifest_path)  # it records the outcome: refuse before the first change
    if mode == "canary":
        return start_canary(project, target, reporter, opts)
    marker = target.unfinished_promotion()
    if marker:
        # Interrupted past its gate: the allow is in the audit trail, and the canary may be gone already.
        version = marker.get("version")
        reporter.record(StepResult("promote", target.name, "ok", f"finishing the interrupted promotion of {version} "
                                   "(the canary gate already allowed it)"))
        return promotion.finish_promotion(project, target, reporter, opts)
    if current == "stable" and not track_steps.is_running(target, "canary"):
        reporter.record(StepResult("promote", target.name, "ok", "already in stable mode; nothing to do"))
        return project
    judge_canary(project, target, reporter, opts, on_wait=on_wait,
                 sleep=interrupt.sleep_after(lambda: promotion.warm_up(project, target)))
    return promotion.finish_promotion(project, target, reporter, opts)


def rollback(project: Project, target: Target, reporter: Reporter, opts: Options, *, reason: str = "") -> Project:
    """All traffic back to stable and the canary removed. Never gated: the way back is always open."""
    state = target.read_state()
    current = state.get("mode") or target.manifest.services.mode
    canary_runs = track_steps.is_running(target, "canary")
    marker = target.unfinished_promotion()
    if marker and not canary_runs and not opts.check and \
            health.running_version(target, "stable") == marker.get("version"):
        # Stable already runs the promoted version and the canary is gone: only the record is left.
        return promotion.complete_record(project, target, reporter, marker, current)
    if current == "stable" and target.manifest.services.mode == "stable" and not canary_runs and not marker:
        reporter.record(StepResult("rollback", target.name, "ok", "no canary runs; stable serves all traffic"))
        return project
    if not opts.check:
        writable_target(project.manifest_path)
    choice = choose_engine(target)
    if marker and not opts.check:
        # An interrupted promotion may already name (and run) the canary's version as stable: put the
        # old stable back in the manifest first, then replace stable behind the canary if it was recreated.
        project = use(project, target, {"mode": "stable", "image": marker["from_image"],
                                         "version": marker["from_version"]}, reporter)
        render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
        if track_steps.would_recreate(target, "stable"):
            traffic.switch(project, target, reporter, only("canary"), opts, why="the canary serves while stable is restored")
            track_steps.start(project, target, reporter, "stable", opts)
    if not opts.check and not track_steps.is_running(target, "stable"):
        track_steps.start(project, target, reporter, "stable", opts)
    traffic.switch(project, target, reporter, only("stable"), opts, why="rollback")
    track_steps.remove(project, target, reporter, "canary", opts)
    if opts.check:
        return project
    project = use(project, target, {"mode": "stable"}, reporter)
    render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
    target.write_state(mode="stable", weight=0, **{PROMOTION: None})
    project.audit.append("rollback", {"from": current, "to": "stable", "reason": reason or "requested",
                                      "canary_version": target.manifest.canary.version,
                                      "stable_version": target.manifest.services.version}, host=target.name)
    reporter.record(StepResult("rollback", target.name, "changed",
                               f"stable {target.manifest.services.version} serves all traffic; canary removed"))
    return project


