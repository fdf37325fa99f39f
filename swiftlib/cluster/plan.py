"""From the wanted cluster and what was observed to what must change (pure).

    acting_manager(layout, views, swarm_id)      the inventory manager to act through
    plan(layout, views, members, swarm_id, ...)  -> Plan

``views`` has every inventory host: its ``NodeView``, or None when it could not be reached (it is
left alone and reported unreachable). ``members`` are the members of the recorded swarm as the
acting manager sees them ([] when there is none). ``swarm_id`` is the swarm SwiftDeploy created
for this project (``record``), or "" when it created none yet.

A host is *ours* when it is a manager of the recorded swarm or a member of it. A host in a swarm
that is not ours is refused (``Plan.refusals``): nothing is changed then, on any host. A worker that
still believes it is in our swarm although the swarm no longer lists it (removed while it was away)
is *stale*: it leaves and joins again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .layout import ClusterLayout
from .observed import HOST_LABEL, ROLE_LABEL, Member, NodeView

ROLES = ("manager", "worker")


@dataclass(frozen=True)
class Action:
    kind: str          # init | join | rejoin | promote | demote | label | remove
    host: str          # the inventory name (remove: the name the node was labelled with, else its hostname)
    role: str = ""
    node_id: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    why: str = ""

    def describe(self) -> str:
        if self.kind == "init":
            return f"initialize a new swarm on {self.host} (manager){self.why}"
        if self.kind == "join":
            return f"join the swarm as a {self.role}"
        if self.kind == "rejoin":
            return f"leave and join again as a {self.role}: {self.why}"
        if self.kind in ("promote", "demote"):
            return f"{self.kind} to {self.role} (the inventory's group)"
        if self.kind == "label":
            return "label " + ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"remove from the swarm ({self.why}): drain, {'demote, ' if self.role == 'manager' else ''}leave, node rm"


@dataclass(frozen=True)
class Plan:
    swarm_id: str                      # "" when the plan starts with an init
    acting: str                        # the manager every swarm-wide command runs on
    actions: tuple[Action, ...] = ()
    refusals: tuple[tuple[str, str], ...] = ()   # (host, why): nothing may change
    unmanaged: tuple[str, ...] = ()    # members SwiftDeploy did not join and the inventory does not name

    def for_host(self, name: str) -> list[Action]:
        return [a for a in self.actions if a.host == name]


def wanted_labels(name: str, role: str) -> dict[str, str]:
    return {ROLE_LABEL: role, HOST_LABEL: name}


def acting_manager(layout: ClusterLayout, views: Mapping[str, NodeView | None], swarm_id: str) -> str:
    """The first inventory manager that is a reachable manager of ``swarm_id`` ("" when none is)."""
    if not swarm_id:
        return ""
    for node in layout.managers:
        view = views.get(node.name)
        if view is not None and view.is_manager and view.cluster_id == swarm_id:
            return node.name
    return ""


def plan(layout: ClusterLayout, views: Mapping[str, NodeView | None], members: Sequence[Member],
         swarm_id: str, acting: str) -> Plan:
    """What to do so the swarm has exactly the inventory's nodes in their roles, labelled."""
    member_ids = {m.node_id for m in members}
    manager_addrs = {m.manager_addr for m in members if m.manager_addr}
    refusals, stale = [], set()
    for node in layout.nodes:
        view = views.get(node.name)
        if view is None or not view.in_swarm:
            continue
        if view.state != "active":
            refusals.append((node.name, f"its swarm state is {view.state!r}{': ' + view.error if view.error else ''}; "
                                        "repair it by hand (`docker swarm leave --force` if it should start over)"))
        elif acting and ((view.is_manager and view.cluster_id == swarm_id) or view.node_id in member_ids):
            continue
        elif acting and not view.is_manager and view.remote_managers and set(view.remote_managers) <= manager_addrs:
            stale.add(node.name)
        else:
            refusals.append((node.name, _foreign(view, swarm_id)))
    if refusals:
        return Plan(swarm_id, acting, refusals=tuple(refusals))

    actions: list[Action] = []
    if not acting:
        first = next((n for n in layout.managers if views.get(n.name) is not None), None)
        if first is None or (swarm_id and any(views.get(n.name) is None for n in layout.managers)):
            # No manager to act through; a recorded swarm may live on one we cannot reach: never start another.
            return Plan(swarm_id, "")
        gone = f"; the recorded swarm {swarm_id} has no manager left in the inventory" if swarm_id else ""
        actions.append(Action("init", first.name, "manager", labels=wanted_labels(first.name, "manager"), why=gone))
        acting, swarm_id, members = first.name, "", []

    by_id = {m.node_id: m for m in members}
    for node in layout.nodes:
        view = views.get(node.name)
        if view is None or (actions and actions[0].kind == "init" and node.name == actions[0].host):
            continue
        labels = wanted_labels(node.name, node.role)
        if node.name in stale:
            actions.append(Action("rejoin", node.name, node.role, labels=labels,
                                  why="the swarm removed it while it was away"))
            continue
        member = by_id.get(view.node_id)
        if not view.in_swarm or member is None:
            actions.append(Action("join", node.name, node.role, labels=labels))
            continue
        if member.role != node.role:
            actions.append(Action("promote" if node.role == "manager" else "demote", node.name, node.role,
                                  node_id=member.node_id))
        if any(member.labels.get(k) != v for k, v in labels.items()):
            actions.append(Action("label", node.name, node.role, node_id=member.node_id, labels=labels))

    actions += _removals(layout, views, members)
    unmanaged = tuple(m.hostname for m in members if not _known(m, layout, views) and not m.inventory_name)
    order = {"init": 0, "join": 1, "rejoin": 2, "promote": 3, "demote": 3, "label": 4, "remove": 5}
    # Managers join before workers, so a worker's join never waits on a manager still joining.
    actions.sort(key=lambda a: (order[a.kind], a.role != "manager"))
    return Plan(swarm_id, acting, tuple(actions), unmanaged=unmanaged)


def _known(member: Member, layout: ClusterLayout, views: Mapping[str, NodeView | None]) -> bool:
    """The member is an inventory host: by its node ID, or (unreachable now) by the name it was labelled with."""
    ids = {v.node_id for v in views.values() if v is not None and v.node_id}
    return member.node_id in ids or member.inventory_name in layout.names


def _removals(layout: ClusterLayout, views: Mapping[str, NodeView | None], members: Sequence[Member]) -> list[Action]:
    """Members SwiftDeploy joined (they carry its host label) that the inventory no longer names."""
    return [Action("remove", m.inventory_name, m.role, node_id=m.node_id, why="no longer in the inventory")
            for m in members if m.inventory_name and not _known(m, layout, views)]


def _foreign(view: NodeView, swarm_id: str) -> str:
    which = f"swarm {view.cluster_id}" if view.cluster_id else (
        f"a swarm managed at {', '.join(view.remote_managers)}" if view.remote_managers else "a swarm")
    ours = f"the one SwiftDeploy created ({swarm_id})" if swarm_id else "one SwiftDeploy created"
    return (f"already in {which}, not {ours}; SwiftDeploy never takes a node over: "
            "leave that swarm on the host (`docker swarm leave`) or take the host out of the inventory")
