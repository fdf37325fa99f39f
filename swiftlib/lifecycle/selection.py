"""From a task's host flags (or the Connection `fab -H` handed it) to the hosts it acts on.

`inv TASK --hosts/--inventory/--limit` and `fab -H HOST TASK` reach the same tasks; this is
the one place that tells the two apart and turns either into `TargetSpec`s and
`FleetOptions` for `fleet.run_fleet`, or into the single target a watching task (status,
dashboard, chaos) needs.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..cli.args import HostFlags, number
from ..errors import UsageError
from .context import Project, Target
from . import fleet
from .fleet import FleetOptions, TargetSpec


def is_fabric(ctx: Any) -> bool:
    """True when the task was started by `fab -H` (its context is a Fabric Connection)."""
    return type(ctx).__module__.startswith("fabric")


def local_context(ctx: Any) -> Any:
    """The Invoke context to run local commands with (None under Fabric: its Connection is remote)."""
    return None if is_fabric(ctx) else ctx


def specs(ctx: Any, hosts: HostFlags, runtime: str = "compose") -> list[TargetSpec]:
    """Targets from --hosts / --inventory --limit, or the Connection `fab -H` handed us (``runtime`` swarm:
    the inventory's swarm as one target)."""
    if is_fabric(ctx):
        from ..remote.connect import HostSpec

        if runtime == "swarm":
            raise UsageError("deploy.runtime is swarm: `fab -H` names one host, but the stack runs on a cluster; "
                             "use `inv TASK --inventory FILE` with groups `managers` and `workers`")
        keys = ctx.connect_kwargs.get("key_filename") or []
        key = keys if isinstance(keys, str) else (keys[0] if keys else None)
        spec = HostSpec(f"{ctx.host}:{ctx.port}", ctx.host, ctx.port, ctx.user, key)
        return [TargetSpec(spec.name, spec, connection=ctx)]
    return fleet.target_specs(hosts.hosts, hosts.inventory, hosts.limit, runtime)


def fleet_options(hosts: HostFlags) -> FleetOptions:
    """Batches, failure limit, forks and SSH options from the flags; a bad value is a UsageError naming it."""
    from ..remote.batches import parse_forks

    return FleetOptions(serial=hosts.serial, max_fail_percentage=hosts.max_fail_percentage,
                        connect_timeout=number("--connect-timeout", hosts.connect_timeout, minimum=0.1),
                        accept_new_host_keys=hosts.accept_new_host_keys, forks=parse_forks(hosts.forks))


@contextmanager
def single_target(ctx: Any, manifest: str, hosts: HostFlags) -> Iterator[tuple[Project, Target]]:
    """Project and target for tasks that watch one host (status, dashboard, chaos): this machine by default."""
    project = Project.load(manifest)
    selected = specs(ctx, hosts, project.manifest.deploy.runtime)
    if len(selected) != 1:
        raise UsageError(f"this task watches one host, but {len(selected)} were selected; narrow it with --limit")
    with fleet.open_target(project, selected[0], fleet_options(hosts), local_ctx=local_context(ctx)) as target:
        yield project, target
