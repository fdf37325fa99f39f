"""Run a lifecycle action on one host or many: this machine, `--hosts`, or an inventory.

``target_specs`` turns the CLI's host arguments into ``TargetSpec``s; ``run_fleet``
opens each target (an SSH connection and the remote project directory, or this
machine), prepares a remote host (policies, images), takes the host's deploy lock
for mutating actions and runs the action, batch by batch (``--serial``), the hosts
of a batch in parallel threads, at most ``--forks`` of them at a time (5 by default,
as Ansible). A host's failure never stops the others; the recap gives each host's
counts and the run's exit code, and a host's unexpected exception (a bug) is also
handed to ``reporter.unexpected_error`` so the CLI can show or save its traceback.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..errors import LockHeld, SwiftDeployError, UsageError
from ..host import Host
from ..manifest.model import build_manifest
from ..manifest.load import load_raw
from ..remote.batches import DEFAULT_FORKS
from ..results import Reporter, StepResult
from .context import Project, Target


@dataclass(frozen=True)
class TargetSpec:
    name: str
    ssh: Any = None  # swiftlib.remote.connect.HostSpec, or None for this machine
    overrides: dict[str, Any] = field(default_factory=dict)
    connection: Any = None  # the Connection `fab -H` made (its options kept), verified before use
    cluster: Any = None  # swiftlib.cluster.layout.ClusterLayout: the whole swarm, one target (deploy.runtime: swarm)

    @property
    def is_local(self) -> bool:
        return self.ssh is None and self.cluster is None


@dataclass(frozen=True)
class FleetOptions:
    serial: str = ""
    max_fail_percentage: str = ""
    connect_timeout: float | None = None
    accept_new_host_keys: bool = False
    parallel: bool = True
    forks: int = DEFAULT_FORKS  # hosts of a batch acted on at the same time


def target_specs(hosts: str = "", inventory: str = "", limit: str = "", runtime: str = "compose") -> list[TargetSpec]:
    """The hosts a run acts on: this machine by default; with ``runtime`` swarm, the inventory's swarm."""
    if hosts and inventory:
        raise UsageError("--hosts and --inventory cannot be combined; use one")
    if runtime == "swarm":
        return [_cluster_spec(inventory, hosts, limit)]
    if hosts:
        from ..remote.connect import parse_host_list

        if limit:
            raise UsageError("--limit needs --inventory")
        return [TargetSpec(spec.name, spec) for spec in parse_host_list(hosts)]
    if inventory:
        from ..inventory import load_inventory
        from ..remote.connect import HostSpec

        specs = []
        for host in load_inventory(inventory).select(limit or None):
            ssh = None if host.connection == "local" else HostSpec.from_inventory(host)
            specs.append(TargetSpec(host.name, ssh, host.manifest_overrides()))
        return specs
    if limit:
        raise UsageError("--limit needs --inventory")
    return [TargetSpec("local")]


def _cluster_spec(inventory: str, hosts: str, limit: str) -> TargetSpec:
    """The swarm of ``inventory`` as one target: its nodes are one cluster, not a fleet of hosts."""
    if hosts or not inventory:
        raise UsageError("deploy.runtime is swarm: the stack runs on the cluster of an inventory whose groups "
                         "`managers` and `workers` name its nodes; give --inventory FILE (not --hosts or none)")
    if limit:
        raise UsageError("--limit does not apply with deploy.runtime: swarm: the cluster is one target "
                         "(Swarm places the tasks on its nodes)")
    from ..cluster.layout import layout_of
    from ..cluster.target import CLUSTER_TARGET
    from ..inventory import load_inventory

    return TargetSpec(CLUSTER_TARGET, cluster=layout_of(load_inventory(inventory)))


@contextmanager
def open_target(project: Project, spec: TargetSpec, opts: FleetOptions, *, local_ctx: Any = None,
                on_note: Callable[[str], None] = lambda text: None) -> Iterator[Target]:
    """A Target for ``spec``, with the manifest as it applies to that host."""
    manifest = project.manifest
    if spec.overrides:
        manifest = build_manifest(load_raw(project.manifest_path), overrides=spec.overrides)
    if spec.cluster is not None:
        from ..cluster.target import open_cluster

        with open_cluster(project, spec.cluster, manifest, accept_new_host_keys=opts.accept_new_host_keys,
                          connect_timeout=opts.connect_timeout or manifest.deploy.connect_timeout_seconds,
                          on_note=on_note) as target:
            yield target
        return
    if spec.is_local:
        host = Host.local(local_ctx)
        if spec.name != "local":
            host.name = spec.name
        # The overrides stay with the target: a step that reloads the manifest (a promotion edits it) keeps them.
        yield Target(host, Target.local(project, host).workspace, manifest, overrides=spec.overrides)
        return
    from ..remote.connect import connect, open_connection
    from ..remote.workspace import RemoteWorkspace

    timeout = opts.connect_timeout or manifest.deploy.connect_timeout_seconds
    if spec.connection is not None:
        host = open_connection(spec.connection, name=spec.name, connect_timeout=opts.connect_timeout,
                               accept_new_host_keys=opts.accept_new_host_keys)
    else:
        host = connect(spec.ssh, connect_timeout=timeout, accept_new_host_keys=opts.accept_new_host_keys)
    host.name = spec.name
    try:
        workspace = RemoteWorkspace(host, manifest.deploy.remote_dir)
        yield Target(host, workspace, manifest, address=spec.ssh.address, overrides=spec.overrides)
    finally:
        host.connection.close()


def prepare_remote(project: Project, target: Target, reporter: Reporter, *, check: bool) -> None:
    """Put policies and images on a remote host (only what is missing or changed)."""
    if not target.host.is_remote:
        return
    from ..remote.images import ensure_image, image_ids

    if check:
        reporter.record(StepResult("prepare host", target.name, "skipped", "check mode: nothing uploaded"))
        return
    changed = target.workspace.sync_dir(project.policies_dir, target.policies_subdir)
    m = target.manifest
    local = Host.local()
    engines = target.runtime.hosts()  # a swarm's images go to every node: tasks run where Swarm places them
    # Every image the stack may run, read here and on each engine at once (one call each). Which of them are
    # shipped depends on this machine's answer; the engines' answers need not wait for it.
    candidates = list(dict.fromkeys([m.services.image, m.nginx.image, m.canary.image, m.opa.image]
                                    + ([m.metrics.prometheus.image] if m.metrics.uses_prometheus else [])))
    with ThreadPoolExecutor(1 + len(engines)) as pool:
        asked = [pool.submit(image_ids, host, candidates) for host in (local, *engines)]
        wanted, theirs = asked[0].result(), [future.result() for future in asked[1:]]
    images = [m.services.image, m.nginx.image]
    if m.canary.image not in images and wanted[m.canary.image]:
        images.append(m.canary.image)  # a canary image only this machine has
    if wanted[m.opa.image]:
        images.append(m.opa.image)
    if m.metrics.uses_prometheus:
        images.append(m.metrics.prometheus.image)
    images = list(dict.fromkeys(images))

    def ship(host: Host, there: dict[str, str | None]) -> list[tuple[str, str, str]]:
        stale = [image for image in images if wanted[image] is None or there[image] != wanted[image]]
        done = ((image, ensure_image(local, host, image)) for image in stale)  # image by image: only what differs
        return [(host.name, image, how) for image, how in done if how != "ok"]

    if len(engines) == 1:
        shipped = ship(engines[0], theirs[0])
    else:  # each node over its own connection, at once
        with ThreadPoolExecutor(len(engines)) as pool:
            shipped = [pair for pairs in pool.map(ship, engines, theirs) for pair in pairs]
    what = [f"policies: {', '.join(changed)}"] if changed else []
    how_said = {"changed": "docker save | ssh | docker load", "tagged": "the same image ID was there: tagged"}
    what += [f"image {image}{f' to {name}' if len(engines) > 1 else ''} ({how_said[how]})"
             for name, image, how in shipped]
    reporter.record(StepResult("prepare host", target.name, "changed" if what else "ok",
                               "; ".join(what) if what else "policies and images already on the host"))


def run_fleet(
    project: Project,
    specs: list[TargetSpec],
    action: Callable[[Project, Target, Reporter], Any],
    reporter: Reporter,
    opts: FleetOptions,
    *,
    lock_command: str | None = None,
    lock_message: str = "",
    check: bool = False,
    local_ctx: Any = None,
    prepare: bool = True,
) -> None:
    """Run ``action`` on every target; record unreachable/failed hosts that no step recorded.

    ``prepare`` False: the action needs neither policies nor images on the host
    (teardown, lock), so none are shipped.
    """
    from ..remote import lock as deploy_lock
    from ..remote.batches import parse_max_fail_percentage, parse_serial
    from ..remote.runner import run_on_hosts

    serial = parse_serial(opts.serial) if opts.serial else None
    max_fail = parse_max_fail_percentage(opts.max_fail_percentage) if opts.max_fail_percentage else None

    grouped = opts.parallel and len(specs) > 1
    # --forks: the runner starts a thread per host of a batch; at most `forks` of them act at once.
    slots = threading.BoundedSemaphore(max(1, opts.forks))

    def on_host(spec: TargetSpec) -> str:
        with slots:
            if not grouped:
                return _run_host(spec)
            reporter.hold(spec.name)  # one block per host when it is done, not interleaved lines
            try:
                return _run_host(spec)
            finally:
                reporter.release(spec.name)

    def _run_host(spec: TargetSpec) -> str:
        with ExitStack() as stack:
            target = stack.enter_context(open_target(project, spec, opts, local_ctx=local_ctx, on_note=reporter.note))
            if lock_command and not check:
                try:
                    stack.enter_context(deploy_lock.acquire(target.host, target.workspace, lock_command,
                                                            lock_message))
                except LockHeld as exc:  # name the step in the output, not a generic "run"
                    reporter.record(StepResult("deploy lock", target.name, "failed", exc.message, {}, exc.exit_code))
                    raise
            if prepare:
                prepare_remote(project, target, reporter, check=check)
            action(project, target, reporter)
        return "ok"

    outcomes = run_on_hosts(specs, on_host, serial=serial, max_fail_percentage=max_fail, parallel=opts.parallel)
    recorded = {r.host for r in reporter.results if r.status in ("failed", "unreachable")}
    for name, outcome in outcomes.items():
        if outcome.error is not None and not isinstance(outcome.error, SwiftDeployError):
            reporter.unexpected_error(name, outcome.error)
        if outcome.status in ("failed", "unreachable") and name not in recorded:
            error = outcome.error
            code = error.exit_code if isinstance(error, SwiftDeployError) else 1
            reporter.record(StepResult("connect" if outcome.status == "unreachable" else "run", name,
                                       outcome.status, outcome.msg, {}, code))
        elif outcome.status == "skipped":
            reporter.record(StepResult("run", name, "skipped", outcome.msg or "not run: an earlier batch failed too often"))
