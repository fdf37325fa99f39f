"""The lifecycle flows composed from the steps: deploy and promote.

deploy  = render → validate → start policy engine → policy(pre_deploy) → up → health
promote = [policy(pre_promote) when going to stable] → manifest mode → render → recreate app → health

A gate that says no stops the flow before anything is touched: no container is
started, recreated or stopped and the manifest keeps its bytes.
"""
from __future__ import annotations

from typing import Callable

from ..errors import UsageError
from ..manifest_file import set_mode
from ..results import Reporter, StepResult
from . import canary_window, compose_steps, gates, health, preflight, render_step
from .context import Options, Project, Target
from .engine_choice import EngineChoice, choose_engine


def _engine_step(target: Target, reporter: Reporter, choice: EngineChoice) -> None:
    reporter.record(StepResult("policy engine", target.name, "ok", f"{choice.engine}: {choice.why}", {"engine": choice.engine}))


def _refuse_gate_bypass(target: Target, reporter: Reporter) -> None:
    """A host still running the canary must reach stable through the canary gate, not a deploy.

    (After a fleet promotion the shared manifest says stable even for hosts whose gate said no.)
    """
    running = target.read_state().get("mode")
    if running == "canary" and target.manifest.services.mode == "stable" and compose_steps.app_running(target):
        msg = ("the app on this host runs in canary mode but the manifest says stable; "
               "run `inv promote --mode stable` so the canary policy decides (deploy does not skip that gate)")
        reporter.record(StepResult("deploy", target.name, "failed", msg, {}, UsageError.exit_code))
        raise UsageError(msg, host=target.name)


def deploy(project: Project, target: Target, reporter: Reporter, opts: Options) -> None:
    _refuse_gate_bypass(target, reporter)
    choice = choose_engine(target, fresh=True)
    _engine_step(target, reporter, choice)
    files = render_step.rendered_files(project, target, choice)
    render_step.render(project, target, reporter, choice, opts, files)
    manifest_checks, _ = preflight.manifest_checks(project.manifest_path)
    preflight.report(manifest_checks + preflight.host_checks(target, files, include_opa=choice.include_opa), target.name, reporter)
    if choice.include_opa:
        compose_steps.up(project, target, reporter, opts, services=["opa"], task="start policy engine")
    if opts.check:
        with gates.engine_for_check(project, target, choice) as engine:
            gates.infrastructure_gate(project, target, reporter, engine)
    else:
        # Just started: allow the OPA container time to load the policies.
        with gates.policy_engine(project, target, choice, reporter=reporter, ready_seconds=30.0) as engine:
            gates.infrastructure_gate(project, target, reporter, engine)
    up = compose_steps.up(project, target, reporter, opts)
    if opts.check:
        return
    health.health(target, reporter, expect_mode=target.manifest.services.mode)
    target.write_state(engine=choice.engine, mode=target.manifest.services.mode)
    project.audit.append("deploy", {
        "status": up.status, "mode": target.manifest.services.mode,
        "version": target.manifest.services.version, "engine": choice.engine,
    }, host=target.name)


def promote(project: Project, target: Target, reporter: Reporter, opts: Options, mode: str,
            on_wait: Callable[[float], None] | None = None) -> Project:
    """Switch the app to ``mode``; returns the reloaded project. No-op (ok) if already there."""
    # What runs on the host is the truth; the manifest may already say `mode` after
    # another host of the fleet was promoted.
    current = target.read_state().get("mode") or target.manifest.services.mode
    if current == mode:
        reporter.record(StepResult("promote", target.name, "ok", f"already in {mode} mode; nothing to do"))
        return project
    choice = choose_engine(target)
    if mode == "stable":
        window = canary_window.measure(target, on_wait=on_wait, remember=not opts.check).to_dict()
        reporter.record(StepResult("canary window", target.name, "ok",
                                   f"{window['requests']} requests, error rate {window['error_rate']:.2%}, "
                                   f"p99 {window['p99_latency_ms']:.0f} ms over {window['window_seconds']:.0f}s", window))
        with gates.policy_engine(project, target, choice, reporter=reporter) as engine:
            gates.canary_gate(project, target, reporter, engine, window)
    if opts.check:
        reporter.record(StepResult("promote", target.name, "changed", f"would switch {current} → {mode}"))
        return project
    edited = set_mode(project.manifest_path, mode)
    project = project.reload()
    target.manifest = target.manifest.with_mode(mode)
    reporter.record(StepResult("manifest", target.name, "changed" if edited else "ok",
                               f"services.mode: {current} → {mode}" if edited else f"services.mode already {mode}"))
    render_step.render(project, target, reporter, choice, opts)
    compose_steps.recreate_app(project, target, reporter)
    health.health(target, reporter, expect_mode=mode)
    target.write_state(mode=mode)
    project.audit.append("mode_change", {"from": current, "to": mode, "engine": choice.engine}, host=target.name)
    return project
