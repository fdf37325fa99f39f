"""`inv cluster --init` and `inv cluster` (status): the cluster package joined up for the command line.

    --init: inventory -> layout -> connect -> observe -> plan -> refusals? (exit 2, nothing changed)
            -> actions (--check: said, not done) -> the record and an audit event
    status: inventory -> layout -> connect -> observe -> one line per node

Results are Ansible's lines (``Reporter``): per node ok / changed / failed / unreachable, and the recap.
Exit codes (README, Cluster): 0 done or nothing to change (status: every node reachable and ready in its
role); 1 a docker command failed; 2 bad inventory, or a host in another swarm; 5 (status) a node
reachable but down, missing from the swarm or in the wrong role; 6 a node unreachable over SSH.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import HostUnreachable, SwiftDeployError
from ..host import Host
from ..results import Reporter, StepResult, failed
from . import commands as cmd, effects, record as records, status as node_status
from .layout import ClusterLayout, layout_of
from .observed import Member, NodeView
from .plan import Plan, acting_manager, plan as make_plan

TASK_STATUS = "swarm node status"
TASK_INIT = "swarm node"
TASK_REMOVE = "swarm node removed"
DOWN_EXIT = 5  # status: a node the swarm has but not ready, or one it lacks (health failed)


@dataclass(frozen=True)
class Reach:
    connect_timeout: float = 10.0
    accept_new_host_keys: bool = False


@dataclass
class Observed:
    hosts: dict[str, Host]
    views: dict[str, NodeView | None]
    acting: str
    members: list[Member]


def status(layout: ClusterLayout, root: Path, reporter: Reporter, reach: Reach, *, stack_name: str = "") -> None:
    """``stack_name``: the project's stack, whose running tasks each row counts per track."""
    record = records.load(root)
    with ExitStack() as stack:
        seen = _observe(layout, record.swarm_id, reporter, reach, stack, task=TASK_STATUS)
        if not seen.acting:
            seen.acting, seen.members = _any_swarm(layout, seen)
        tasks = None
        if seen.acting and stack_name:
            out = seen.hosts[seen.acting].run(cmd.stack_tasks(stack_name), check=False, timeout=30).stdout
            tasks = node_status.tasks_per_node(out, stack_name)
        for row in node_status.rows(layout, seen.views, seen.members, reachable=set(seen.hosts), tasks=tasks):
            code = 0 if row.healthy else (6 if row.wanted_role and not row.reachable else DOWN_EXIT)
            state = "ok" if code == 0 else ("unreachable" if code == 6 else "failed")
            if not row.wanted_role:
                state, code = "ok", 0  # shown, not judged: the inventory does not ask for it
            reporter.record(StepResult(TASK_STATUS, row.name, state, row.summary(), row.to_dict(), code))
        if not seen.acting:
            reporter.note(f"no manager of {'swarm ' + record.swarm_id if record.swarm_id else 'a swarm'} answered; "
                          "`inv cluster --init` forms one")


def init(layout: ClusterLayout, root: Path, reporter: Reporter, reach: Reach, *, check: bool,
         audit: Callable[[dict[str, Any]], None]) -> None:
    record = records.load(root)
    with ExitStack() as stack:
        seen = _observe(layout, record.swarm_id, reporter, reach, stack, task=TASK_INIT)
        plan = make_plan(layout, seen.views, seen.members, record.swarm_id, seen.acting)
        if plan.refusals:
            for host, why in plan.refusals:
                reporter.record(StepResult(TASK_INIT, host, "failed", why + "; nothing was changed on any host", {}, 2))
            return
        if not plan.acting and not plan.actions:
            reporter.note("no manager of the swarm could be reached: nothing was changed")
            return
        done = _carry_out(layout, plan, seen, reporter, record, reach, stack, check=check)
        if check:
            return
        swarm_id = done.get("swarm_id") or plan.swarm_id
        if not swarm_id:
            return  # the init failed: there is no swarm to record
        nodes = {n.name: records.reach(n.host) for n in layout.nodes if seen.views.get(n.name) is not None}
        nodes.update({n: r for n, r in record.nodes.items() if n not in nodes and n in layout.names})
        records.save(root, records.ClusterRecord(swarm_id, nodes))
        if done["changes"]:
            audit({"swarm_id": swarm_id, "changes": done["changes"]})


def _carry_out(layout: ClusterLayout, plan: Plan, seen: Observed, reporter: Reporter, record: records.ClusterRecord,
               reach: Reach, stack: ExitStack, *, check: bool) -> dict[str, Any]:
    def reach_removed(name: str) -> Host | None:
        spec = record.nodes.get(name)
        return _connect_spec(name, spec, reach, stack) if spec else None

    applier = effects.Applier(layout, seen.hosts, plan, seen.members, reach_removed)
    changes: list[str] = []
    swarm_id = ""
    for node in layout.nodes:
        if seen.views.get(node.name) is None:
            continue  # reported unreachable already
        actions = plan.for_host(node.name)
        if not actions:
            reporter.record(StepResult(TASK_INIT, node.name, "ok", _settled(node.name, seen)))
            continue
        if check:
            reporter.record(StepResult(TASK_INIT, node.name, "changed",
                                       "would " + "; ".join(a.describe() for a in actions)))
            continue
        said = []
        try:
            for action in actions:
                said.append(applier.run(action))
        except SwiftDeployError as exc:
            reporter.record(failed(TASK_INIT, node.name, exc, done="; ".join(said)))
            if node.role == "manager" and any(a.kind == "init" for a in actions):
                return {"swarm_id": "", "changes": changes}  # no swarm to join the others to
            continue
        changes += [f"{node.name}: {text}" for text in said]
        swarm_id = swarm_id or applier.swarm_id
        reporter.record(StepResult(TASK_INIT, node.name, "changed", "; ".join(said)))
    for action in (a for a in plan.actions if a.kind == "remove"):
        if check:
            reporter.record(StepResult(TASK_REMOVE, action.host, "changed", "would " + action.describe()))
            continue
        try:
            text = applier.run(action)
        except SwiftDeployError as exc:
            reporter.record(failed(TASK_REMOVE, action.host, exc))
            continue
        changes.append(f"{action.host}: {text}")
        reporter.record(StepResult(TASK_REMOVE, action.host, "changed", text))
    for name in plan.unmanaged:
        reporter.record(StepResult(TASK_REMOVE, name, "skipped",
                                   "a member SwiftDeploy did not join and the inventory does not name: left as it is"))
    return {"swarm_id": applier.swarm_id or swarm_id, "changes": changes}


def _settled(name: str, seen: Observed) -> str:
    view = seen.views[name]
    member = next((m for m in seen.members if view is not None and m.node_id == view.node_id), None)
    if member is None:
        return "in the swarm"
    return f"{member.role}{' (leader)' if member.leader else ''}, {member.state}, {member.availability}, labelled"


def _observe(layout: ClusterLayout, swarm_id: str, reporter: Reporter, reach: Reach, stack: ExitStack, *,
             task: str) -> Observed:
    """Connect to every node at once (a stopped one costs its connect timeout once, not once per node).

    Status shows a node it cannot read in that node's row (with what the swarm says of it), so only
    --init reports it here. ``hosts`` has every node SSH reached, ``views`` None where it could not be read."""
    def look(node) -> tuple[str, Host | None, NodeView | SwiftDeployError]:
        try:
            host = _connect_spec(node.name, records.reach(node.host), reach, stack)
        except SwiftDeployError as exc:
            return node.name, None, exc
        try:
            return node.name, host, effects.node_view(host)
        except SwiftDeployError as exc:
            return node.name, host, exc

    hosts: dict[str, Host] = {}
    views: dict[str, NodeView | None] = {}
    with ThreadPoolExecutor(max(1, min(8, len(layout.nodes)))) as pool:
        for name, host, seen in pool.map(look, layout.nodes):
            if host is not None:
                hosts[name] = host
            if isinstance(seen, SwiftDeployError):
                views[name] = None
                if task != TASK_STATUS:
                    reporter.record(failed("connect" if isinstance(seen, HostUnreachable) else task, name, seen))
                continue
            views[name] = seen
    acting = acting_manager(layout, views, swarm_id)
    found = effects.members(hosts[acting]) if acting else []
    return Observed(hosts, views, acting, found)


def _any_swarm(layout: ClusterLayout, seen: Observed) -> tuple[str, list[Member]]:
    """Status without a recorded swarm: what the first reachable manager's swarm says, if it is in one."""
    for node in layout.managers:
        view = seen.views.get(node.name)
        if view is not None and view.is_manager:
            return node.name, effects.members(seen.hosts[node.name])
    return "", []


def _connect_spec(name: str, spec: dict[str, Any], reach: Reach, stack: ExitStack) -> Host:
    from ..remote.connect import HostSpec, connect

    host = connect(HostSpec(name, spec["address"], spec.get("port"), spec.get("user"), spec.get("key_file")),
                   connect_timeout=reach.connect_timeout, accept_new_host_keys=reach.accept_new_host_keys)
    host.name = name
    stack.callback(host.connection.close)
    return host


def load_layout(inventory_path: str) -> ClusterLayout:
    from ..inventory import load_inventory

    return layout_of(load_inventory(inventory_path))
