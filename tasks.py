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


@contextmanager
def _single(ctx: Context, manifest: str, hosts: str = "", inventory: str = "", limit: str = "",
            accept_new_host_keys: bool = False, connect_timeout: str = ""):
    """Project and target for tasks that watch one host (status, chaos): this machine by default."""
    from swiftlib.lifecycle.context import Project
    from swiftlib.lifecycle.fleet import FleetOptions, open_target

    project = Project.load(manifest)
    specs = _specs(ctx, hosts, inventory, limit)
    if len(specs) != 1:
        raise UsageError(f"this task watches one host, but {len(specs)} were selected; narrow it with --limit")
    opts = FleetOptions(connect_timeout=_number("--connect-timeout", connect_timeout, minimum=0.1),
                        accept_new_host_keys=accept_new_host_keys)
    with open_target(project, specs[0], opts, local_ctx=None if _is_fabric(ctx) else ctx) as target:
        yield project, target


def _is_fabric(ctx: Context) -> bool:
    return type(ctx).__module__.startswith("fabric")


def _specs(ctx: Context, hosts: str, inventory: str, limit: str):
    """Targets from --hosts / --inventory --limit, or the Connection `fab -H` handed us."""
    from swiftlib.lifecycle.fleet import TargetSpec, target_specs

    if _is_fabric(ctx):
        from swiftlib.remote.connect import HostSpec

        keys = ctx.connect_kwargs.get("key_filename") or []
        key = keys if isinstance(keys, str) else (keys[0] if keys else None)
        spec = HostSpec(f"{ctx.host}:{ctx.port}", ctx.host, ctx.port, ctx.user, key)
        return [TargetSpec(spec.name, spec)]
    return target_specs(hosts, inventory, limit)


def _fleet(ctx: Context, manifest: str, action, *, hosts: str, inventory: str, limit: str, serial: str = "",
           max_fail_percentage: str = "", accept_new_host_keys: bool = False, connect_timeout: str = "",
           json_out: bool = False, lock: str | None = None, check: bool = False, prepare: bool = True) -> None:
    """Run ``action(project, target, reporter)`` on every selected host, then print the recap."""
    from swiftlib.lifecycle.context import Project
    from swiftlib.lifecycle.fleet import FleetOptions, run_fleet

    with _run(json_out=json_out) as reporter:
        project = Project.load(manifest)
        specs = _specs(ctx, hosts, inventory, limit)
        opts = FleetOptions(serial=serial, max_fail_percentage=max_fail_percentage,
                            connect_timeout=_number("--connect-timeout", connect_timeout, minimum=0.1),
                            accept_new_host_keys=accept_new_host_keys)
        run_fleet(project, specs, action, reporter, opts, lock_command=lock, check=check,
                  local_ctx=None if _is_fabric(ctx) else ctx, prepare=prepare)


def _opts(check: bool, diff: bool):
    from swiftlib.lifecycle.context import Options

    return Options(check=check, diff=diff)


FLEET_HELP = {
    "manifest": "path to manifest.yaml",
    "hosts": "comma-separated [user@]host[:port] to act on over SSH (default: this machine)",
    "inventory": "inventory file (Ansible INI/YAML or SwiftDeploy YAML)",
    "limit": "Ansible host pattern selecting inventory hosts",
    "serial": "hosts per batch: N or N% (default: all at once)",
    "max-fail-percentage": "stop before the next batch when more than P% of a batch failed",
    "accept-new-host-keys": "record unknown SSH host keys (changed keys are always refused)",
    "connect-timeout": "SSH connect timeout in seconds (default: deploy.connect_timeout_seconds)",
    "json": "print the results and recap as one JSON document",
}


def _help(**extra: str) -> dict[str, str]:
    return {**FLEET_HELP, **extra}


def _single_help(**extra: str) -> dict[str, str]:
    """Help for tasks that watch one host: no batches, no fleet JSON."""
    skip = ("serial", "max-fail-percentage", "json")
    return {**{k: v for k, v in FLEET_HELP.items() if k not in skip}, **extra}


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


@task(aliases=["init"], help=_help(check="write nothing; say what would change",
                                   diff="print a unified diff of each changed file"))
def render(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False, diff: bool = False,
           hosts: str = "", inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
           accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """Render docker-compose.yml and nginx.conf from the manifest into each host's project directory (changed/ok per file)."""
    from swiftlib.lifecycle import render_step
    from swiftlib.lifecycle.engine_choice import choose_engine

    def action(project, target, reporter):
        render_step.render(project, target, reporter, choose_engine(target), _opts(check, diff))

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, check=True)


@task(help=_help())
def validate(ctx: Context, manifest: str = DEFAULT_MANIFEST, hosts: str = "", inventory: str = "", limit: str = "",
             serial: str = "", max_fail_percentage: str = "", accept_new_host_keys: bool = False,
             connect_timeout: str = "", json: bool = False) -> None:
    """Pre-flight checks (manifest, app image, ports, nginx -t, compose config), PASS/FAIL each; exit 2 on any FAIL."""
    from swiftlib.lifecycle import preflight, render_step
    from swiftlib.lifecycle.engine_choice import choose_engine

    path = Path(manifest).resolve()
    checks, parsed = preflight.manifest_checks(path)
    if parsed is None:
        with _run(json_out=json) as reporter:
            preflight.report(checks, "local", reporter)

    def action(project, target, reporter):
        choice = choose_engine(target)
        files = render_step.rendered_files(project, target, choice)
        preflight.report(checks + preflight.host_checks(target, files, include_opa=choice.include_opa),
                         target.name, reporter)

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, check=True)


@task(help=_help(check="start nothing; say what would happen"))
def up(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False, hosts: str = "", inventory: str = "",
       limit: str = "", serial: str = "", max_fail_percentage: str = "", accept_new_host_keys: bool = False,
       connect_timeout: str = "", json: bool = False) -> None:
    """`docker compose up -d` for the rendered stack (no gates; prefer `inv deploy`)."""
    from swiftlib.lifecycle import compose_steps

    def action(project, target, reporter):
        compose_steps.up(project, target, reporter, _opts(check, False))

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, lock="up", check=check)


@task(help=_help(timeout="seconds to wait (default: deploy.health_timeout_seconds)",
                 mode="also require this mode (stable|canary)"))
def health(ctx: Context, manifest: str = DEFAULT_MANIFEST, timeout: str = "", mode: str = "", hosts: str = "",
           inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
           accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """Poll /healthz through nginx until healthy or the deadline; exit 5 naming what it last saw."""
    from swiftlib.lifecycle import health as health_step

    deadline = _number("--timeout", timeout) if timeout else None

    def action(project, target, reporter):
        health_step.health(target, reporter, expect_mode=mode or None, deadline=deadline)

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, check=True)


@task(help=_help(check="change nothing; report what would change and what the gates decide",
                 diff="show diffs of the rendered files"))
def deploy(ctx: Context, manifest: str = DEFAULT_MANIFEST, check: bool = False, diff: bool = False, hosts: str = "",
           inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
           accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """render → validate → policy(pre_deploy) → up → health on each host. Exit 3 if a policy denies (nothing started there)."""
    from swiftlib.lifecycle import flows

    def action(project, target, reporter):
        flows.deploy(project, target, reporter, _opts(check, diff))

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, lock="deploy", check=check)


@task(help=_help(mode="canary or stable", check="change nothing; report the gate's decision and what would change"))
def promote(ctx: Context, mode: str = "", manifest: str = DEFAULT_MANIFEST, check: bool = False, hosts: str = "",
            inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
            accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """Switch the app to --mode canary|stable. Going to stable asks the canary policy first (exit 3 if denied)."""
    from swiftlib.lifecycle import flows

    if mode not in ("canary", "stable"):
        _err(f"ERROR: --mode: expected canary or stable, got {mode!r}")
        raise Exit(code=UsageError.exit_code)

    def action(project, target, reporter):
        flows.promote(project, target, reporter, _opts(check, False), mode,
                      on_wait=None if json else (lambda s: _emit(f"  ... [{target.name}] measuring the canary for {s:g}s")))

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, lock="promote", check=check)


@task(help=_help(clean="also delete the generated files", check="remove nothing; say what would be removed"))
def teardown(ctx: Context, manifest: str = DEFAULT_MANIFEST, clean: bool = False, check: bool = False, hosts: str = "",
             inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
             accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """Remove the stack's containers, network and volume (--clean: and generated files)."""
    from swiftlib.lifecycle import compose_steps

    def action(project, target, reporter):
        compose_steps.teardown(project, target, reporter, _opts(check, False), clean=clean)

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, lock="teardown", check=check, prepare=False)


ns = Collection(bootstrap, render, validate, up, health, deploy, promote, teardown)



@task(name="opa-check", help=_help(context="pre_deploy (infrastructure policy) or pre_promote (canary policy)"))
def opa_check(ctx: Context, context: str = "pre_deploy", manifest: str = DEFAULT_MANIFEST, hosts: str = "",
              inventory: str = "", limit: str = "", serial: str = "", max_fail_percentage: str = "",
              accept_new_host_keys: bool = False, connect_timeout: str = "", json: bool = False) -> None:
    """Ask the policy engine now and print its decision: exit 0 allow, 3 deny, 4 engine failure."""
    from swiftlib.lifecycle import canary_window, gates
    from swiftlib.lifecycle.engine_choice import choose_engine

    if context not in ("pre_deploy", "pre_promote"):
        _err(f"ERROR: --context: expected pre_deploy or pre_promote, got {context!r}")
        raise Exit(code=UsageError.exit_code)

    def action(project, target, reporter):
        with gates.policy_engine(project, target, choose_engine(target), reporter=reporter) as engine:
            if context == "pre_deploy":
                gates.infrastructure_gate(project, target, reporter, engine)
            else:
                wait = None if json else (lambda s: _emit(f"  ... [{target.name}] measuring the canary for {s:g}s"))
                window = canary_window.measure(target, on_wait=wait).to_dict()
                gates.canary_gate(project, target, reporter, engine, window)

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, check=True)


@task(name="policy-test", help={"manifest": "path to manifest.yaml", "engine": "embedded (default) or sidecar"})
def policy_test(ctx: Context, manifest: str = DEFAULT_MANIFEST, engine: str = "embedded") -> None:
    """Run the policy case tables (tests/policy_cases/*.yaml) against the policies; exit 1 on any failure."""
    from swiftlib.lifecycle import gates
    from swiftlib.lifecycle.engine_choice import EngineChoice
    from swiftlib.policy.cases import run_cases
    from swiftlib.results import StepResult

    with _run() as reporter, _single(ctx, manifest) as (project, target):
        with gates.policy_engine(project, target, EngineChoice(engine, "--engine")) as policy_engine:
            results = run_cases(policy_engine, HERE / "tests" / "policy_cases")
        failed = [r for r in results if not r.passed]
        for r in failed:
            _emit(f"  FAIL {r.domain}: {r.name}: {r.detail}")
        status = "failed" if failed else "ok"
        reporter.record(StepResult("policy-test", target.name, status,
                                   f"{len(results) - len(failed)}/{len(results)} cases passed", {}, 1 if failed else 0))


@task(help=_single_help(interval="seconds between frames", once="print one frame and exit",
                 json="print one frame as JSON and exit"))
def status(ctx: Context, manifest: str = DEFAULT_MANIFEST, interval: str = "2", once: bool = False, json: bool = False,
           hosts: str = "", inventory: str = "", limit: str = "", accept_new_host_keys: bool = False,
           connect_timeout: str = "") -> None:
    """Live dashboard: mode, chaos, req/s, error rate, p99, uptime and both policies' decisions (Ctrl-C to stop)."""
    import json as jsonlib
    import time

    from swiftlib.lifecycle import gates
    from swiftlib.lifecycle.engine_choice import choose_engine
    from swiftlib.lifecycle.status import format_frame, take_frame

    try:
        pause = _number("--interval", interval, minimum=0.1) or 2.0
        with _single(ctx, manifest, hosts, inventory, limit, accept_new_host_keys, connect_timeout) as (project, target), \
                gates.policy_engine(project, target, choose_engine(target)) as engine:
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


@task(help=_single_help(mode="slow, error or recover", rate="error probability 0-1 (mode error)",
                 duration="seconds of delay per request (mode slow)"))
def chaos(ctx: Context, mode: str = "", rate: str = "", duration: str = "", manifest: str = DEFAULT_MANIFEST,
          hosts: str = "", inventory: str = "", limit: str = "", accept_new_host_keys: bool = False,
          connect_timeout: str = "") -> None:
    """Inject chaos into the canary through the loopback-only admin port (POST /chaos)."""
    from swiftlib.lifecycle.chaos import send_chaos
    from swiftlib.results import StepResult

    with _run() as reporter, _single(ctx, manifest, hosts, inventory, limit, accept_new_host_keys,
                                     connect_timeout) as (project, target):
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


@task(help=_help(status="show who holds the deploy lock on each host (the default)",
                 release="remove the lock when its run is gone (stale) or it is ours",
                 force="with --release: remove the lock even while its holder looks alive"))
def lock(ctx: Context, manifest: str = DEFAULT_MANIFEST, status: bool = False, release: bool = False,
         force: bool = False, hosts: str = "", inventory: str = "", limit: str = "", serial: str = "",
         max_fail_percentage: str = "", accept_new_host_keys: bool = False, connect_timeout: str = "",
         json: bool = False) -> None:
    """Show (--status, the default) or remove (--release [--force]) the deploy lock on each host."""
    from swiftlib.remote import lock as deploy_lock
    from swiftlib.results import StepResult

    if status and release:
        _err("ERROR: --status and --release cannot be combined; use one")
        raise Exit(code=UsageError.exit_code)
    if force and not release:
        _err("ERROR: --force only applies to --release")
        raise Exit(code=UsageError.exit_code)

    def action(project, target, reporter):
        if release:
            info = deploy_lock.release(target.host, target.workspace, force=force)
            if info is None:
                reporter.record(StepResult("lock release", target.name, "ok", "no deploy lock was held"))
            else:
                reporter.record(StepResult("lock release", target.name, "changed", f"released the lock of {info.describe()}"))
            return
        info = deploy_lock.status(target.host, target.workspace)
        if info is None:
            reporter.record(StepResult("lock status", target.name, "ok", "free: no deploy lock held"))
            return
        stale = info.stale_reason()
        note = f"; looks stale ({stale}): `inv lock --release` removes it" if stale else ""
        reporter.record(StepResult("lock status", target.name, "ok", f"held by {info.describe()}{note}",
                                   {"holder": info.holder, "pid": info.pid, "time": info.time,
                                    "command": info.command, "message": info.message, "stale": stale}))

    _fleet(ctx, manifest, action, hosts=hosts, inventory=inventory, limit=limit, serial=serial,
           max_fail_percentage=max_fail_percentage, accept_new_host_keys=accept_new_host_keys,
           connect_timeout=connect_timeout, json_out=json, check=True, prepare=False)


ns.add_task(lock)
