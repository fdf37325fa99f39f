"""One row per node for `inv cluster` (status), from the same observations the plan uses (pure).

A node the inventory names is matched to a member by its node ID, or, when it cannot be reached,
by the host label SwiftDeploy gave it; so a stopped node still shows what the swarm thinks of it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

from .layout import ClusterLayout
from .observed import Member, NodeView


@dataclass(frozen=True)
class NodeRow:
    name: str
    wanted_role: str      # the inventory's ("" for a member the inventory does not name)
    reachable: bool       # over SSH, now
    member: bool          # the swarm lists it
    state: str = ""       # ready | down | unknown ("" when not a member)
    availability: str = ""
    role: str = ""
    leader: bool = False
    manager_reachability: str = ""
    node_id: str = ""
    tasks: Mapping[str, int] | None = None  # running tasks of the project's stack on it, per track


    @property
    def healthy(self) -> bool:
        return self.reachable and self.member and self.state == "ready" and self.role == self.wanted_role

    def summary(self) -> str:
        if not self.wanted_role:  # a member the inventory does not name: SwiftDeploy has no way to reach it
            parts = ["not in the inventory"]
        else:
            parts = ["reachable" if self.reachable else "unreachable over SSH"]
        if not self.member:
            parts.append("not in the swarm" + (f" (the inventory says {self.wanted_role})" if self.wanted_role else ""))
            return ", ".join(parts)
        role = self.role + (" (leader)" if self.leader else
                            f" ({self.manager_reachability})" if self.manager_reachability else "")
        parts += [self.state, self.availability, role]
        if self.wanted_role and self.role != self.wanted_role:
            parts.append(f"the inventory says {self.wanted_role}")
        if self.tasks is not None:
            parts.append("tasks: " + (", ".join(f"{track} {n}" for track, n in self.tasks.items()) or "none"))
        return ", ".join(parts)

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.tasks is None:
            del data["tasks"]  # not asked: the project does not run on the swarm
        else:
            data["tasks"] = dict(self.tasks)
        return data


def tasks_per_node(text: str, stack: str) -> dict[str, dict[str, int]]:
    """`docker stack ps STACK --format '{{.Node}}\t{{.Name}}'` (running tasks) -> node hostname -> track -> count
    (pure). Tasks are named `<stack>_<service>.<slot or node id>`; a service that is not an app track
    (nginx) is counted under its own name."""
    from ..tracks import SERVICES

    track_of = {service: track for track, service in SERVICES.items()}
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        node, _, name = line.partition("\t")
        service = name.strip().removeprefix(f"{stack}_").split(".", 1)[0]
        if not node.strip() or not service:
            continue
        track = track_of.get(service, service)
        counts = out.setdefault(node.strip(), {})
        counts[track] = counts.get(track, 0) + 1
    order = {name: i for i, name in enumerate(["stable", "canary", "next", "nginx"])}
    return {node: dict(sorted(c.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))) for node, c in out.items()}


def rows(layout: ClusterLayout, views: Mapping[str, NodeView | None], members: Sequence[Member], *,
         reachable: set[str] | None = None, tasks: Mapping[str, Mapping[str, int]] | None = None) -> list[NodeRow]:
    """``views``: None where a node could not be read; ``reachable``: the nodes SSH reached (default: those read);
    ``tasks``: the stack's running tasks per node hostname (None: not asked)."""
    by_id = {m.node_id: m for m in members}
    by_name = {m.inventory_name: m for m in members if m.inventory_name}
    out, shown = [], set()
    for node in layout.nodes:
        view = views.get(node.name)
        member = by_id.get(view.node_id) if view is not None and view.node_id else None
        if member is None and view is None:
            member = by_name.get(node.name)
        reached = view is not None if reachable is None else node.name in reachable
        out.append(_row(node.name, node.role, reached, member, tasks))
        if member is not None:
            shown.add(member.node_id)
    for member in members:
        if member.node_id not in shown:
            out.append(_row(member.inventory_name or member.hostname, "", False, member, tasks))
    return out


def _row(name: str, wanted: str, reachable: bool, member: Member | None,
         tasks: Mapping[str, Mapping[str, int]] | None = None) -> NodeRow:
    if member is None:
        return NodeRow(name, wanted, reachable, False)
    on_node = None if tasks is None else dict(tasks.get(member.hostname, {}))
    return NodeRow(name, wanted, reachable, True, member.state, member.availability, member.role, member.leader,
                   member.reachability, member.node_id, on_node)
