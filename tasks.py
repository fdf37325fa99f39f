"""SwiftDeploy tasks: `inv --list` shows them, `inv --help TASK` explains one.

This file is thin on purpose: parse arguments, call swiftlib, print, exit with the
code DESIGN.md documents (0 ok, 1 failure, 2 bad input, 3 policy denied,
4 policy engine unavailable, 5 unhealthy after acting, 6 host unreachable).
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from invoke import Collection, Context, Exit, task

from swiftlib.errors import SwiftDeployError, UsageError
from swiftlib.results import Reporter

DEFAULT_MANIFEST = os.environ.get("SWIFTDEPLOY_MANIFEST", "manifest.yaml")
HERE = Path(__file__).resolve().parent


def _emit(line: str) -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _run(json_out: bool = False, quiet: bool = False) -> Iterator[Reporter]:
    """Reporter for one task run; turns SwiftDeployError into its exit code after the recap."""
    reporter = Reporter(_emit, quiet=json_out or quiet)
    code = 0
    try:
        yield reporter
    except SwiftDeployError as exc:
        code = exc.exit_code
        if not reporter.results or reporter.results[-1].status not in ("failed", "unreachable"):
            _err(f"ERROR: {exc}")
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    recap_code = reporter.finish() if not quiet else reporter.recap.exit_code()
    if json_out:
        print(reporter.to_json())
    code = code or recap_code
    if code:
        raise Exit(code=code)


def _number(flag: str, text: str, *, minimum: float = 0.0) -> float | None:
    """Parse a numeric CLI flag ourselves so a bad value gets exit 2 and a clear message."""
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a number, got {text!r}") from None
    if value != value or value < minimum:
        raise UsageError(f"{flag}: expected a number >= {minimum:g}, got {text!r}")
    return value


def _local(ctx: Context, manifest: str):
    from swiftlib.host import Host
    from swiftlib.lifecycle.context import Project, Target

    project = Project.load(manifest)
    return project, Target.local(project, Host.local(ctx))


def _opts(check: bool, diff: bool):
    from swiftlib.lifecycle.context import Options

    return Options(check=check, diff=diff)


@task(help={"manifest": "path to manifest.yaml"})
def bootstrap(ctx: Context, manifest: str = DEFAULT_MANIFEST) -> None:
    """Make this machine able to deploy: Docker engine, compose v2, app and nginx images (idempotent)."""
    from swiftlib.bootstrap import bootstrap as run_bootstrap
    from swiftlib.host import Host
    from swiftlib.manifest_file import load_manifest
    from swiftlib.results import StepResult

    with _run() as reporter:
        m = load_manifest(Path(manifest))
        host = Host.local(ctx)
        steps = run_bootstrap(host, app_image=m.services.image, nginx_image=m.nginx.image,
                              app_dir=str(HERE / "app"), progress=lambda text: _emit(f"  ... {text}"))
        for step in steps:
            reporter.record(StepResult(f"bootstrap: {step.name}", host.name, step.status,
                                       f"{step.message} ({step.seconds:.1f}s)"))


@task(aliases=["init"], help={"manifest": "path to manifest.yaml", "check": "write nothing; say what would change",
            "diff": "print a unified diff of each changed file"})
def render(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False, diff: bool = False) -> None:
    """Render docker-compose.yml and nginx.conf from the manifest (changed/ok per file)."""
    from swiftlib.lifecycle import render_step
    from swiftlib.lifecycle.engine_choice import choose_engine

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        render_step.render(project, target, reporter, choose_engine(target), _opts(check, diff))


@task(help={"manifest": "path to manifest.yaml"})
def validate(ctx: Context, manifest: str = DEFAULT_MANIFEST) -> None:
    """Pre-flight checks (manifest, app image, nginx port, nginx -t, compose config); exit 2 on any FAIL."""
    from swiftlib.host import Host
    from swiftlib.lifecycle import preflight, render_step
    from swiftlib.lifecycle.context import Project, Target
    from swiftlib.lifecycle.engine_choice import choose_engine

    with _run() as reporter:
        path = Path(manifest).resolve()
        checks, parsed = preflight.manifest_checks(path)
        if parsed is None:
            preflight.report(checks, "local", reporter)
        project = Project.load(path)
        target = Target.local(project, Host.local(ctx))
        choice = choose_engine(target)
        files = render_step.rendered_files(project, target, choice)
        checks += preflight.host_checks(target, files, include_opa=choice.include_opa)
        preflight.report(checks, target.name, reporter)


@task(help={"manifest": "path to manifest.yaml", "check": "start nothing; say what would happen"})
def up(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False) -> None:
    """`docker compose up -d` for the rendered stack (no gates; prefer `inv deploy`)."""
    from swiftlib.lifecycle import compose_steps

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        compose_steps.up(project, target, reporter, _opts(check, False))


@task(help={"manifest": "path to manifest.yaml", "timeout": "seconds to wait (default: deploy.health_timeout_seconds)",
            "mode": "also require this mode (stable|canary)"})
def health(ctx: Context, manifest: str = DEFAULT_MANIFEST, timeout: str = "", mode: str = "") -> None:
    """Poll /healthz through nginx until healthy or the deadline; exit 5 naming what it last saw."""
    from swiftlib.lifecycle import health as health_step

    with _run() as reporter:
        _, target = _local(ctx, manifest)
        deadline = _number("--timeout", timeout)
        health_step.health(target, reporter, expect_mode=mode or None, deadline=deadline)


@task(help={"manifest": "path to manifest.yaml", "check": "change nothing; report what would change and what the gates decide",
            "diff": "show diffs of the rendered files"})
def deploy(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False, diff: bool = False) -> None:
    """render → validate → policy(pre_deploy) → up → health. Exit 3 if the policy denies (nothing started)."""
    from swiftlib.lifecycle import flows

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        flows.deploy(project, target, reporter, _opts(check, diff))


@task(help={"mode": "canary or stable", "manifest": "path to manifest.yaml",
            "check": "change nothing; report the gate's decision and what would change"})
def promote(ctx: Context, mode: str = "", manifest: str = DEFAULT_MANIFEST, check: bool = False) -> None:
    """Switch the app to --mode canary|stable. Going to stable asks the canary policy first (exit 3 if denied)."""
    from swiftlib.lifecycle import flows

    with _run() as reporter:
        if mode not in ("canary", "stable"):
            raise UsageError(f"--mode: expected canary or stable, got {mode!r}")
        project, target = _local(ctx, manifest)
        flows.promote(project, target, reporter, _opts(check, False), mode,
                      on_wait=lambda s: _emit(f"  ... measuring the canary for {s:g}s"))


@task(help={"manifest": "path to manifest.yaml", "clean": "also delete the generated files",
            "check": "remove nothing; say what would be removed"})
def teardown(ctx: Context, manifest: str = DEFAULT_MANIFEST, clean: bool = False, check: bool = False) -> None:
    """Remove the stack's containers, network and volume (--clean: and generated files)."""
    from swiftlib.lifecycle import compose_steps

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        compose_steps.teardown(project, target, reporter, _opts(check, False), clean=clean)


ns = Collection(bootstrap, render, validate, up, health, deploy, promote, teardown)



@task(name="opa-check", help={"context": "pre_deploy (infrastructure policy) or pre_promote (canary policy)",
                             "manifest": "path to manifest.yaml", "json": "print the decision as JSON"})
def opa_check(ctx: Context, context: str = "pre_deploy", manifest: str = DEFAULT_MANIFEST, json: bool = False) -> None:
    """Ask the policy engine now and print its decision: exit 0 allow, 3 deny, 4 engine failure."""
    from swiftlib.lifecycle import canary_window, gates
    from swiftlib.lifecycle.engine_choice import choose_engine

    with _run(json_out=json) as reporter:
        if context not in ("pre_deploy", "pre_promote"):
            raise UsageError(f"--context: expected pre_deploy or pre_promote, got {context!r}")
        project, target = _local(ctx, manifest)
        choice = choose_engine(target)
        with gates.policy_engine(project, target, choice) as engine:
            if context == "pre_deploy":
                gates.infrastructure_gate(project, target, reporter, engine)
            else:
                window = canary_window.measure(target, on_wait=None if json else
                                               (lambda s: _emit(f"  ... measuring the canary for {s:g}s"))).to_dict()
                gates.canary_gate(project, target, reporter, engine, window)


@task(name="policy-test", help={"manifest": "path to manifest.yaml", "engine": "embedded (default) or sidecar"})
def policy_test(ctx: Context, manifest: str = DEFAULT_MANIFEST, engine: str = "embedded") -> None:
    """Run the policy case tables (tests/policy_cases/*.yaml) against the policies; exit 1 on any failure."""
    from swiftlib.lifecycle import gates
    from swiftlib.lifecycle.engine_choice import EngineChoice
    from swiftlib.policy.cases import run_cases
    from swiftlib.results import StepResult

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        with gates.policy_engine(project, target, EngineChoice(engine, "--engine")) as policy_engine:
            results = run_cases(policy_engine, HERE / "tests" / "policy_cases")
        failed = [r for r in results if not r.passed]
        for r in failed:
            _emit(f"  FAIL {r.domain}: {r.name}: {r.detail}")
        status = "failed" if failed else "ok"
        reporter.record(StepResult("policy-test", target.name, status,
                                   f"{len(results) - len(failed)}/{len(results)} cases passed", {}, 1 if failed else 0))


@task(help={"manifest": "path to manifest.yaml", "interval": "seconds between frames", "once": "print one frame and exit",
            "json": "print one frame as JSON and exit"})
def status(ctx: Context, manifest: str = DEFAULT_MANIFEST, interval: str = "2", once: bool = False, json: bool = False) -> None:
    """Live dashboard: mode, chaos, req/s, error rate, p99, uptime and both policies' decisions (Ctrl-C to stop)."""
    import json as jsonlib
    import time

    from swiftlib.lifecycle import gates
    from swiftlib.lifecycle.engine_choice import choose_engine
    from swiftlib.lifecycle.status import format_frame, take_frame

    try:
        pause = _number("--interval", interval, minimum=0.1) or 2.0
        project, target = _local(ctx, manifest)
        with gates.policy_engine(project, target, choose_engine(target)) as engine:
            while True:
                frame = take_frame(target, engine)
                project.audit.append("status_scrape", {k: v for k, v in frame.items() if k != "host_stats"}, host=target.name)
                if json:
                    print(jsonlib.dumps(frame, indent=2))
                    return
                if not once:
                    print("\033[2J\033[H", end="")
                print(format_frame(frame), flush=True)
                if once:
                    return
                time.sleep(pause)
    except KeyboardInterrupt:
        return
    except SwiftDeployError as exc:
        _err(f"ERROR: {exc}")
        raise Exit(code=exc.exit_code)


@task(help={"mode": "slow, error or recover", "rate": "error probability 0-1 (mode error)",
            "duration": "seconds of delay per request (mode slow)", "manifest": "path to manifest.yaml"})
def chaos(ctx: Context, mode: str = "", rate: str = "", duration: str = "", manifest: str = DEFAULT_MANIFEST) -> None:
    """Inject chaos into the canary through the loopback-only admin port (POST /chaos)."""
    from swiftlib.lifecycle.chaos import send_chaos
    from swiftlib.results import StepResult

    with _run() as reporter:
        project, target = _local(ctx, manifest)
        answer = send_chaos(project, target, mode, rate=_number("--rate", rate),
                            duration=_number("--duration", duration))
        reporter.record(StepResult("chaos", target.name, "changed", jsonlib_dumps(answer)))


def jsonlib_dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@task(help={"manifest": "path to manifest.yaml", "verify": "check the hash chain; exit 2 naming the first bad line"})
def audit(ctx: Context, manifest: str = DEFAULT_MANIFEST, verify: bool = False) -> None:
    """Write the audit report (audit_report.md) from history.jsonl; --verify checks the hash chain."""
    from datetime import datetime, timezone

    from swiftlib.audit_report import render_report
    from swiftlib.fileio import atomic_write_text
    from swiftlib.lifecycle.context import Project
    from swiftlib.results import StepResult

    with _run() as reporter:
        project = Project.load(manifest)
        log = project.audit
        result = log.verify()
        if verify:
            if not result.ok:
                reporter.record(StepResult("audit verify", "local", "failed", result.problem, {}, 2))
                return
            reporter.record(StepResult("audit verify", "local", "ok", f"{result.lines} lines, hash chain intact"))
            return
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            events = log.read()
        except SwiftDeployError:
            events = []  # unreadable lines: the report still shows the integrity failure
        text = render_report(events, verify=result, generated_at=now)
        atomic_write_text(project.report_path, text)
        reporter.record(StepResult("audit report", "local", "changed", f"wrote {project.report_path.name} ({result.lines} events)"))


ns.add_task(opa_check)
ns.add_task(policy_test)
ns.add_task(status)
ns.add_task(chaos)
ns.add_task(audit)


@task(help={"inventory": "inventory file (Ansible INI/YAML or SwiftDeploy YAML)", "limit": "Ansible host pattern",
            "list": "print the resolved inventory as `ansible-inventory --list` JSON", "graph": "print a group tree"})
def inventory(ctx: Context, inventory: str = "", limit: str = "", list: bool = False, graph: bool = False) -> None:  # noqa: A002
    """Show how SwiftDeploy resolves an inventory (hosts, groups, variables) before you deploy with it."""
    from swiftlib.inventory import load_inventory
    from swiftlib.inventory.output import to_ansible_list, to_graph

    try:
        if not inventory:
            raise UsageError("-i/--inventory FILE is required")
        inv = load_inventory(inventory)
        for warning in inv.warnings:
            _err(f"[WARNING]: {warning}")
        if graph:
            print(to_graph(inv))
        else:
            print(json.dumps(to_ansible_list(inv, limit=limit or None), indent=4, default=str))
    except SwiftDeployError as exc:
        _err(f"ERROR: {exc}")
        raise Exit(code=exc.exit_code)


ns.add_task(inventory)
