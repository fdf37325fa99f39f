"""The commands that act on hosts, each described once: what it runs and how it is run.

A `Command` says which flow a command runs on a target, whether it holds the host's deploy
lock (the commands that change something), whether policies and images go to a remote host
first, which pre-/post- hooks run around it and what a Ctrl-C note says. `driver.run` reads
this table for every entry point, so the CLI, `fab -H` and the Ansible plugin cannot drift.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the CLI imports this table at start-up: the lifecycle loads when a command runs
    from ..lifecycle.context import Options, Project, Target
    from ..results import Reporter

Say = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    """What the caller asked for: a command's own flags, already parsed."""

    check: bool = False
    diff: bool = False
    message: str = ""             # recorded with the deploy lock
    mode: str = ""                # promote: canary|stable; health: the mode to require ("" = any)
    reason: str = ""              # rollback: recorded in the audit trail
    clean: bool = False           # teardown: the generated files too
    timeout: float | None = None  # health: seconds (None = deploy.health_timeout_seconds)
    context: str = "pre_deploy"   # opa-check: which policy
    sets: tuple[str, ...] = ()    # opa-check: what-if KEY.PATH=VALUE
    explain: bool = False         # opa-check: the input and each condition
    on: bool = False              # maintenance: --on (else --off)
    notice: str = ""              # maintenance: the 503's message
    release: bool = False         # lock: remove it (else show it)
    force: bool = False           # lock --release: even while its holder looks alive
    renew: bool = False           # certs: renew what is due (else only show)
    say: Say | None = None        # progress lines (measuring, rollout steps); None = quiet

    @property
    def options(self) -> "Options":
        from ..lifecycle.context import Options

        return Options(check=self.check, diff=self.diff)


@dataclass(frozen=True)
class Command:
    name: str
    act: Callable[[Project, Target, Reporter, Request], Any]
    writes: bool = True       # holds the deploy lock and needs a writable audit trail
    writes_when: Callable[[Request], bool] | None = None  # instead of ``writes``, when the flags decide
    ships: bool = True        # policies and images go to a remote host first
    hooks: bool = False       # pre-/post-<name> hooks run around it
    hook_mode: Callable[[Request], str | None] = lambda request: None
    note: Callable[[Target, Request], str] | None = None  # what a Ctrl-C left on the host
    before: Callable[[Path, Reporter], None] | None = None  # runs before the manifest is loaded

    def changes(self, request: Request) -> bool:
        return self.writes_when(request) if self.writes_when else self.writes

    def lock_name(self, request: Request) -> str | None:
        return self.name if self.changes(request) else None


def _measuring(target: Target, request: Request) -> Callable[[float], None] | None:
    say = request.say
    return None if say is None else (lambda s: say(f"  ... [{target.name}] measuring the canary for {s:g}s"))


def _rollout_progress(request: Request) -> Callable[[dict[str, Any]], None] | None:
    say = request.say
    if say is None:
        return None
    return lambda p: say(f"  ... [{p['host']}] step {p['step']}/{p['steps']} at {p['weight']}%: "
                         f"{p['requests']} requests, error rate {p['error_rate']:.2%}, "
                         f"p99 {p['p99_latency_ms']:.0f} ms, {p['seconds_left']:.0f}s left in the window")


def _left_by(label: Callable[[Request], str]) -> Callable[[Target, Request], str]:
    def note(target: Target, request: Request) -> str:
        from ..lifecycle import interrupted

        return interrupted.note(target, label(request))
    return note


# -- each command's flow on one target -------------------------------------------------------------

def _render(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import render_step
    from ..lifecycle.engine_choice import choose_engine

    render_step.render(project, target, reporter, choose_engine(target), request.options)


def _validate_manifest(manifest: Path, reporter: Reporter) -> None:
    """A manifest that does not load is reported check by check (not as one error) before the hosts."""
    from ..lifecycle import preflight

    checks, parsed = preflight.manifest_checks(manifest.absolute())  # a symlink is checked as one
    if parsed is None:
        preflight.report(checks, "local", reporter)


def _validate(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import preflight, render_step
    from ..lifecycle.engine_choice import choose_engine

    checks, _ = preflight.manifest_checks(project.manifest_path)
    choice = choose_engine(target)
    files = render_step.rendered_files(project, target, choice)
    preflight.report(checks + preflight.tls_checks(project, target)
                     + preflight.host_checks(target, files, include_opa=choice.include_opa), target.name, reporter)


def _up(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import compose_steps

    compose_steps.up(project, target, reporter, request.options)


def _health(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import certificates, health

    health.health(target, reporter, expect_mode=request.mode or None, deadline=request.timeout,
                  tls=certificates.client_check(project, target))


def _deploy(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import flows

    flows.deploy(project, target, reporter, request.options)


def _promote(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import flows

    flows.promote(project, target, reporter, request.options, request.mode, on_wait=_measuring(target, request))


def _rollback(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import flows

    flows.rollback(project, target, reporter, request.options, reason=request.reason)


def _rollout(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle.rollout import rollout

    rollout(project, target, reporter, request.options, progress=_rollout_progress(request))


def _rollout_note(target: Target, request: Request) -> str:
    from ..lifecycle.rollout import interrupted_note

    return interrupted_note(target)


def _teardown(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import compose_steps

    compose_steps.teardown(project, target, reporter, request.options, clean=request.clean)


def _opa_check(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import gates
    from ..lifecycle.engine_choice import choose_engine
    from ..policy.whatif import explain

    with gates.policy_engine(project, target, choose_engine(target), reporter=reporter) as engine:
        try:
            gates.ask_now(project, target, reporter, engine, request.context, list(request.sets),
                          on_wait=_measuring(target, request))
        finally:
            last = reporter.results[-1] if reporter.results else None
            if request.explain and request.say and last is not None and "input" in last.data:
                for line in explain(gates.DOMAIN_OF[request.context], last.data["input"], last.data):
                    request.say(f"  {line}")


def _maintenance(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import maintenance

    maintenance.switch(project, target, reporter, request.options, on=request.on, message=request.notice)


def _certs(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import certificates

    certificates.certs(project, target, reporter, request.options, renew=request.renew)


def _lock(project: Project, target: Target, reporter: Reporter, request: Request) -> None:
    from ..lifecycle import lock_steps

    if request.release:
        lock_steps.release(target, reporter, force=request.force)
    else:
        lock_steps.show(target, reporter)


# `cluster` is not here: it acts on an inventory's nodes together (one swarm), not on each target
# alone, so it has its own runner (swiftlib/cluster/run.py) and no per-host lock, hooks or Ansible state.
COMMANDS: dict[str, Command] = {c.name: c for c in (
    # It writes the host's files, so it holds the deploy lock; it needs no policies or images there.
    Command("render", _render, ships=False),
    Command("validate", _validate, writes=False, ships=False, before=_validate_manifest),
    Command("up", _up),
    Command("health", _health, writes=False, ships=False),
    Command("deploy", _deploy, hooks=True, note=_left_by(lambda r: "deploy")),
    Command("promote", _promote, hooks=True, hook_mode=lambda r: r.mode, note=_left_by(lambda r: f"promote {r.mode}")),
    Command("rollback", _rollback, hooks=True, hook_mode=lambda r: "stable", note=_left_by(lambda r: "rollback")),
    Command("rollout", _rollout, hooks=True, hook_mode=lambda r: "canary", note=_rollout_note),
    Command("teardown", _teardown, ships=False),  # nothing to ship to a host whose stack is being removed
    Command("maintenance", _maintenance, ships=False),
    # Showing reads the host; --renew changes the certificate nginx serves (under the deploy lock).
    Command("certs", _certs, ships=False, writes_when=lambda r: r.renew),  # changes one nginx include: nothing to ship
    Command("opa-check", _opa_check, writes=False, ships=False),
    Command("lock", _lock, writes=False, ships=False),  # --release must work when the lock is stuck
)}
