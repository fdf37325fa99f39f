"""SwiftDeploy's tasks: `swiftdeploy --list` shows them, `swiftdeploy --help TASK` explains one.

The same collection is `swiftdeploy` (``program.py``), `inv` (the checkout's tasks.py) and
`fab` (fabfile.py). This module is thin on purpose: parse arguments, call swiftlib, exit with the
code the README documents (0 ok, 1 failure, 2 bad input (an unknown task or flag too),
3 policy denied, 4 policy engine unavailable, 5 unhealthy after acting, 6 host
unreachable, 7 a pre-hook failed). Host selection (--hosts, --inventory/--limit,
batches, --forks, SSH options) is shared by the lifecycle tasks through
`swiftlib.cli.args.fleet_task`; every task is a `swift_task`: the same short flags
everywhere, `--debug`, and an unexpected exception explained in one line (its
traceback saved to a file) after the PLAY RECAP.
"""
from __future__ import annotations

import json as jsonlib
import os
from pathlib import Path

from invoke import Collection, Context, Exit

from swiftlib.cli.args import HostFlags, fleet_task, number, port_number, swift_task
from swiftlib.errors import SwiftDeployError, UsageError
from swiftlib.results import StepResult
from swiftlib.run.console import emit, err, fail_usage, reporting
from swiftlib.run.table import Request

DEFAULT_MANIFEST = os.environ.get("SWIFTDEPLOY_MANIFEST", "manifest.yaml")
CHECKOUT = Path(__file__).resolve().parents[2]  # the app/ and tests/ beside swiftlib/


def run(ctx: Context, command: str, manifest: str, hosts: HostFlags, request: Request) -> None:
    """Command ``command`` of swiftlib's table on the selected hosts; the recap, then the run's exit code."""
    from swiftlib.lifecycle import selection
    from swiftlib.run import driver

    with reporting(json_out=hosts.json) as reporter:
        driver.run(command, request, manifest, lambda project: selection.specs(ctx, hosts, project.manifest.deploy.runtime), reporter,
                   selection.fleet_options(hosts), local_ctx=selection.local_context(ctx), on_note=err)


def _say(hosts: HostFlags):
    """Progress lines for the terminal; none when the output is one JSON document."""
    return None if hosts.json else emit


@fleet_task()
def bootstrap(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST) -> None:
    """Make this machine able to deploy: Docker engine, compose v2, app and nginx images (Prometheus too when the manifest uses it).

    With --hosts/--inventory: fresh Debian 12 servers over SSH, as root or with passwordless sudo:
    system libraries, Docker engine, compose v2 (no images: a deploy streams them from here)."""
    from swiftlib.lifecycle import selection

    if hosts.hosts or hosts.inventory or selection.is_fabric(ctx):
        from swiftlib.bootstrap.hosts import on_hosts
        from swiftlib.lifecycle.context import Project

        with reporting(json_out=hosts.json) as reporter:
            project = Project.load(manifest)
            on_hosts(project, selection.specs(ctx, hosts), reporter, selection.fleet_options(hosts),
                     say=_say(hosts), local_ctx=selection.local_context(ctx))
        return
    if hosts.limit:
        fail_usage("--limit needs --inventory")
    from swiftlib.bootstrap import bootstrap as run_bootstrap
    from swiftlib.host import Host
    from swiftlib.manifest.load import load_manifest

    say = _say(hosts)
    with reporting(json_out=hosts.json) as reporter:
        m = load_manifest(Path(manifest))
        host = Host.local(ctx)
        # Prometheus's image only for a stack that runs it (metrics.source: prometheus).
        prometheus = m.metrics.prometheus.image if m.metrics.uses_prometheus else None
        steps = run_bootstrap(host, app_image=m.services.image, nginx_image=m.nginx.image,
                              app_dir=str(CHECKOUT / "app"),
                              progress=(lambda text: say(f"  ... {text}")) if say else (lambda text: None),
                              prometheus_image=prometheus)
        for step in steps:
            reporter.record(StepResult(f"bootstrap: {step.name}", host.name, step.status,
                                       f"{step.message} ({step.seconds:.1f}s)"))


@fleet_task(aliases=["init"], help={"check": "write nothing; say what would change",
                                    "diff": "print a unified diff of each changed file"})
def render(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, check: bool = False,
           diff: bool = False) -> None:
    """Render docker-compose.yml and nginx.conf from the manifest into each host's project directory (changed/ok per file)."""
    run(ctx, "render", manifest, hosts, Request(check=check, diff=diff))


@fleet_task()
def validate(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST) -> None:
    """Pre-flight checks (manifest, app image, ports, nginx -t, compose config), PASS/FAIL each; exit 2 on any FAIL."""
    run(ctx, "validate", manifest, hosts, Request())


@fleet_task(help={"check": "start nothing; say what would happen"})
def up(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, check: bool = False) -> None:
    """`docker compose up -d` for the rendered stack (no gates; prefer `inv deploy`)."""
    run(ctx, "up", manifest, hosts, Request(check=check))


@fleet_task(help={"timeout": "seconds to wait (default: deploy.health_timeout_seconds)",
                  "mode": "also require this mode (stable|canary)"})
def health(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, timeout: str = "", mode: str = "") -> None:
    """Poll /healthz through nginx until healthy or the deadline; exit 5 naming what it last saw."""
    if mode not in ("", "canary", "stable"):
        fail_usage(f"--mode: expected canary or stable, got {mode!r}")
    try:
        deadline = number("--timeout", timeout, minimum=0.1)
    except UsageError as exc:
        fail_usage(exc.message)
    run(ctx, "health", manifest, hosts, Request(mode=mode, timeout=deadline))


@fleet_task(help={"check": "change nothing; report what would change and what the gates decide",
                  "diff": "show diffs of the rendered files", "message": "note recorded with each host's deploy lock"})
def deploy(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, check: bool = False,
           diff: bool = False, message: str = "") -> None:
    """render → validate → policy(pre_deploy) → up → health on each host. Exit 3 if a policy denies (nothing started there)."""
    run(ctx, "deploy", manifest, hosts, Request(check=check, diff=diff, message=message))


@fleet_task(help={"mode": "canary or stable", "check": "change nothing; report the gate's decision and what would change",
                  "diff": "show diffs of the re-rendered files", "message": "note recorded with each host's deploy lock"})
def promote(ctx: Context, hosts: HostFlags, mode: str = "", manifest: str = DEFAULT_MANIFEST, check: bool = False,
            diff: bool = False, message: str = "") -> None:
    """Switch the app to --mode canary|stable. Going to stable asks the canary policy first (exit 3 if denied)."""
    if mode not in ("canary", "stable"):
        fail_usage(f"--mode: expected canary or stable, got {mode!r}")
    run(ctx, "promote", manifest, hosts, Request(check=check, diff=diff, message=message, mode=mode, say=_say(hosts)))


@fleet_task(help={"check": "change nothing; report what would change",
                  "reason": "why (recorded in the audit trail)", "message": "note recorded with each host's deploy lock"})
def rollback(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, check: bool = False,
             reason: str = "", message: str = "") -> None:
    """Remove the canary and send all traffic back to stable. Never gated; exit 0 when nothing to do."""
    run(ctx, "rollback", manifest, hosts, Request(check=check, message=message, reason=reason))


@fleet_task(help={"check": "change nothing; report the plan", "message": "note recorded with each host's deploy lock"})
def rollout(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, check: bool = False,
            message: str = "") -> None:
    """Canary through canary.steps, one gated window each; a deny rolls back (exit 3), the last step promotes."""
    run(ctx, "rollout", manifest, hosts, Request(check=check, message=message, say=_say(hosts)))


@fleet_task(help={"clean": "also delete the generated files (the audit trail stays)",
                  "check": "remove nothing; say what would be removed",
                  "message": "note recorded with each host's deploy lock"})
def teardown(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, clean: bool = False,
             check: bool = False, message: str = "") -> None:
    """Remove the stack's containers, network and volume (--clean: and generated files)."""
    run(ctx, "teardown", manifest, hosts, Request(check=check, message=message, clean=clean))


@fleet_task(help={"on": "answer 503 on the public port (health checks and the admin port keep working)",
                  "off": "serve traffic again", "message": "the text of the 503's JSON body (with --on)",
                  "check": "change nothing; say what would change"})
def maintenance(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, on: bool = False, off: bool = False,
                message: str = "", check: bool = False) -> None:
    """Maintenance mode on each host: --on [--message TEXT] answers 503 with Retry-After; --off ends it."""
    from swiftlib.lifecycle.maintenance import check_message

    if on == off:
        fail_usage("give --on or --off")
    if message and not on:
        fail_usage("--message only applies to --on")
    try:
        notice = check_message(message)
    except UsageError as exc:
        fail_usage(exc.message)
    run(ctx, "maintenance", manifest, hosts, Request(check=check, on=on, notice=notice))


@fleet_task(help={"renew": "renew what is due (local and ACME certificates, tls.renew_days); nginx reloads "
                           "gracefully", "check": "with --renew: change nothing; say what would be renewed"})
def certs(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, renew: bool = False,
          check: bool = False) -> None:
    """The certificate each host serves (names, issuer, expiry, days left); --renew renews what is due."""
    if check and not renew:
        fail_usage("--check only applies to --renew (showing changes nothing)")
    run(ctx, "certs", manifest, hosts, Request(check=check, renew=renew))


@fleet_task(name="opa-check", iterable=["set"],
            help={"context": "pre_deploy (infrastructure policy) or pre_promote (canary policy)",
                  "explain": "print the input sent to the engine and each condition's value and limit",
                  "set": "what-if: KEY.PATH=VALUE on the last audited input (none yet: on the values given and "
                         "the manifest's limits), e.g. metrics.error_rate=0.02 (repeatable); collects and changes nothing"})
def opa_check(ctx: Context, hosts: HostFlags, context: str = "pre_deploy", manifest: str = DEFAULT_MANIFEST,
              explain: bool = False, set: list[str] | None = None) -> None:  # noqa: A002 - the flag is --set
    """Ask the policy engine now and print its decision: exit 0 allow, 3 deny, 4 engine failure."""
    from swiftlib.lifecycle import gates

    if context not in gates.DOMAIN_OF:
        fail_usage(f"--context: expected pre_deploy or pre_promote, got {context!r}")
    run(ctx, "opa-check", manifest, hosts, Request(context=context, sets=tuple(set or ()), explain=explain,
                                                    say=_say(hosts)))


@fleet_task(help={"status": "show who holds the deploy lock on each host (the default)",
                  "release": "remove the lock when its run is gone (stale) or it is ours",
                  "force": "with --release: remove the lock even while its holder looks alive"})
def lock(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, status: bool = False,
         release: bool = False, force: bool = False) -> None:
    """Show (--status, the default) or remove (--release [--force]) the deploy lock on each host."""
    if status and release:
        fail_usage("--status and --release cannot be combined; use one")
    if force and not release:
        fail_usage("--force only applies to --release")
    run(ctx, "lock", manifest, hosts, Request(release=release, force=force))


@fleet_task(single=True, help={"interval": "seconds between frames", "once": "print one frame and exit",
                               "json": "print one frame as JSON and exit"})
def status(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, interval: str = "2",
           once: bool = False, json: bool = False) -> None:
    """Live dashboard: mode, chaos, req/s, error rate, p99, uptime and both policies' decisions (Ctrl-C to stop)."""
    from swiftlib.lifecycle import gates, selection
    from swiftlib.lifecycle.engine_choice import choose_engine
    from swiftlib.metrics import history as metrics_history
    from swiftlib.observe.status import format_frame
    from swiftlib.observe.status_feed import frames

    try:
        pause = number("--interval", interval, minimum=0.1) or 2.0
        with selection.single_target(ctx, manifest, hosts) as (project, target), \
                gates.policy_engine(project, target, choose_engine(target)) as engine:
            for frame in frames(target, engine, interval=pause):
                metrics_history.record(project.root, target.name, frame)  # charts, not the audit trail
                if json:
                    print(jsonlib.dumps(frame, indent=2))
                    return
                if not once:
                    print("\033[2J\033[H", end="")  # redraw in place
                emit(format_frame(frame))
                if once:
                    return
    except KeyboardInterrupt:
        return
    except SwiftDeployError as exc:
        err(f"ERROR: {exc}")
        raise Exit(code=exc.exit_code)


@fleet_task(single=True, help={"port": "port on 127.0.0.1 to serve the page on (default 8090; 0 picks a free one)",
                               "interval": "seconds between frames (default 2)"})
def dashboard(ctx: Context, hosts: HostFlags, manifest: str = DEFAULT_MANIFEST, port: str = "8090",
              interval: str = "2") -> None:
    """Live web dashboard on 127.0.0.1: charts per track, decisions with reasons, rollout, audit events (Ctrl-C to stop)."""
    from swiftlib.lifecycle import selection
    from swiftlib import dashboard as web
    from swiftlib.lifecycle import gates
    from swiftlib.lifecycle.engine_choice import choose_engine

    try:
        listen_port = port_number("--port", port)
        pause = number("--interval", interval, minimum=0.1) or 2.0
        with selection.single_target(ctx, manifest, hosts) as (project, target), \
                gates.policy_engine(project, target, choose_engine(target)) as engine:
            web.serve(project, target, engine, port=listen_port, interval=pause,
                      on_ready=lambda url: emit(f"dashboard for {target.name}: {url}  (Ctrl-C to stop)"))
    except KeyboardInterrupt:
        emit("dashboard stopped")
    except SwiftDeployError as exc:
        err(f"ERROR: {exc}")
        raise Exit(code=exc.exit_code)


@fleet_task(single=True, help={"mode": "slow, error or recover", "rate": "error probability 0-1 (mode error)",
                               "duration": "seconds of delay per request (mode slow)"})
def chaos(ctx: Context, hosts: HostFlags, mode: str = "", rate: str = "", duration: str = "",
          manifest: str = DEFAULT_MANIFEST) -> None:
    """Inject chaos into the canary through the loopback-only admin port (POST /chaos)."""
    from swiftlib.lifecycle import selection
    from swiftlib.lifecycle.chaos import send_chaos

    with reporting() as reporter, selection.single_target(ctx, manifest, hosts) as (project, target):
        answer = send_chaos(project, target, mode, rate=number("--rate", rate), duration=number("--duration", duration))
        reporter.record(StepResult("chaos", target.name, "changed", jsonlib.dumps(answer, separators=(",", ":"))))


@swift_task(name="policy-test", help={"engine": "embedded (default) or sidecar"})
def policy_test(ctx: Context, manifest: str = DEFAULT_MANIFEST, engine: str = "embedded") -> None:
    """Run the policy case tables (tests/policy_cases/*.yaml) against the policies; exit 1 on any failure."""
    from swiftlib.lifecycle import gates, selection
    from swiftlib.lifecycle.engine_choice import EngineChoice
    from swiftlib.policy.cases import run_cases

    if engine not in ("embedded", "sidecar"):
        fail_usage(f"--engine: expected embedded or sidecar, got {engine!r}")
    with reporting() as reporter, selection.single_target(ctx, manifest, HostFlags()) as (project, target):
        # A test run is not a deployment decision: nothing goes into the audit trail.
        with gates.policy_engine(project, target, EngineChoice(engine, "--engine"), audit=False) as policy_engine:
            results = run_cases(policy_engine, CHECKOUT / "tests" / "policy_cases")
        failed = [r for r in results if not r.passed]
        for r in failed:
            emit(f"  FAIL {r.domain}: {r.name}: {r.detail}")
        reporter.record(StepResult("policy-test", target.name, "failed" if failed else "ok",
                                   f"{len(results) - len(failed)}/{len(results)} cases passed", {}, 1 if failed else 0))


@swift_task(help={"verify": "check the hash chain; exit 2 naming the first bad line"})
def audit(ctx: Context, manifest: str = DEFAULT_MANIFEST, verify: bool = False) -> None:
    """Write the audit report (audit_report.md, its SVG charts and audit_report.html); --verify checks the hash chain."""
    from swiftlib.lifecycle import audit_steps
    from swiftlib.lifecycle.context import Project

    with reporting() as reporter:
        project = Project.load(manifest)
        if verify:
            audit_steps.verify(project, reporter)
        else:
            audit_steps.report(project, reporter)


@swift_task(help={"inventory": "inventory whose groups `managers` (1 or 3+) and `workers` name the swarm's nodes",
                  "init": "form or update the swarm: init, join, role changes, labels, remove nodes no longer listed",
                  "check": "with --init: change nothing; say what would change",
                  "json": "print the results and recap as one JSON document",
                  "accept-new-host-keys": "record unknown SSH host keys (changed keys are always refused)",
                  "connect-timeout": "SSH connect timeout in seconds (default 10)"})
def cluster(ctx: Context, manifest: str = DEFAULT_MANIFEST, inventory: str = "", init: bool = False,
            check: bool = False, json: bool = False, accept_new_host_keys: bool = False,
            connect_timeout: str = "") -> None:
    """A Docker Swarm from an inventory: --init forms it (idempotent); without it, each node's state (exit 5 down, 6 unreachable)."""
    from swiftlib.cluster import run as cluster_run
    from swiftlib.cli.args import number
    from swiftlib.lifecycle.context import Project

    if not inventory:
        fail_usage("-i/--inventory FILE is required (groups `managers` and `workers` name the nodes)")
    if check and not init:
        fail_usage("--check only applies to --init (status changes nothing)")
    try:
        timeout = number("--connect-timeout", connect_timeout, minimum=0.1) or 10.0
    except UsageError as exc:
        fail_usage(exc.message)
    with reporting(json_out=json) as reporter:
        layout = cluster_run.load_layout(inventory)  # bad input exits 2 before any host is contacted
        project = Project.load(manifest)
        reach = cluster_run.Reach(timeout, accept_new_host_keys)
        if init:
            if not check:
                project.audit.ensure_writable()
            cluster_run.init(layout, project.root, reporter, reach, check=check,
                             audit=lambda data: project.audit.append("cluster", data))
        else:
            deploy = project.manifest.deploy  # a project that runs on the swarm: its tasks per node and track too
            cluster_run.status(layout, project.root, reporter, reach,
                               stack_name=deploy.project_name if deploy.runtime == "swarm" else "")


@swift_task(help={"inventory": "inventory file (Ansible INI/YAML or SwiftDeploy YAML)", "limit": "Ansible host pattern",
                  "list": "print the resolved inventory as `ansible-inventory --list` JSON (the default)",
                  "graph": "print a group tree"})
def inventory(ctx: Context, inventory: str = "", limit: str = "", list: bool = False, graph: bool = False) -> None:  # noqa: A002
    """Show how SwiftDeploy resolves an inventory (hosts, groups, variables) before you deploy with it."""
    from swiftlib.inventory import load_inventory
    from swiftlib.inventory.output import to_ansible_list, to_graph

    try:
        if not inventory:
            raise UsageError("-i/--inventory FILE is required")
        inv = load_inventory(inventory)
        for warning in inv.warnings:
            err(f"[WARNING]: {warning}")
        if graph:
            emit(to_graph(inv))
        else:
            print(jsonlib.dumps(to_ansible_list(inv, limit=limit or None), indent=4, default=str))
    except SwiftDeployError as exc:
        err(f"ERROR: {exc}")
        raise Exit(code=exc.exit_code)


ns = Collection(bootstrap, render, validate, up, health, deploy, promote, rollback, rollout, teardown, maintenance, certs,
                opa_check, policy_test, status, dashboard, chaos, audit, inventory, lock, cluster)
