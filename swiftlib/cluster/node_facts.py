"""Each node the cluster should have, as the infrastructure policy sees it (pure).

One ``NodeFacts`` per node of the layout (the inventory's ``managers`` and ``workers``, in that
order): the swarm's view of it (`docker node inspect` on the acting manager, parsed by
``observed.parse_members``), whether SSH reached it in this run, and the host stats measured there.
A member is matched to its inventory name by the ``org.swiftdeploy.host`` label `inv cluster --init`
gives every node, so a node that is down, or that SSH cannot reach, is still known. Members the
inventory does not name are left out (`inv cluster` shows them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .layout import ClusterLayout
from .observed import Member, parse_members


@dataclass(frozen=True)
class NodeFacts:
    name: str                  # the inventory's name
    role: str                  # the inventory's: manager | worker
    reachable: bool            # SSH reached it in this run (its stats were read)
    member: bool = False       # the swarm lists it
    state: str = ""            # the swarm's: ready | down | unknown | disconnected ("": not a member)
    availability: str = ""     # the swarm's: active | pause | drain
    manager_reachable: bool = False  # the swarm lists it as a manager that is reachable (the leader is)
    stats: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)  # HostStats.to_dict()

    @property
    def ready(self) -> bool:
        """The swarm calls it ready (a drained or paused node is ready: it is up, it just takes no tasks)."""
        return self.member and self.state == "ready"

    def to_input(self) -> dict[str, Any]:
        """The node's entry in the policy input (``policy.inputs.cluster_input``)."""
        stats = self.stats or {}
        return {
            "name": self.name,
            "role": self.role,
            "ready": self.ready,
            "reachable": self.reachable,
            "disk_free_gb": stats.get("disk_free_gb") if self.reachable else None,
            "cpu_load": stats.get("cpu_load") if self.reachable else None,
            "manager_reachable": self.manager_reachable,
            "state": self.state if self.member else "absent",
            "availability": self.availability,
        }


def node_facts(layout: ClusterLayout, members: Sequence[Member],
               measured: Mapping[str, Mapping[str, Any]]) -> list[NodeFacts]:
    """Facts of every node of ``layout``; ``measured``: the host stats of each node SSH reached, by name."""
    found = _by_inventory_name(members)
    out = []
    for node in layout.nodes:
        member = found.get(node.name)
        stats = measured.get(node.name)
        if member is None:
            out.append(NodeFacts(node.name, node.role, stats is not None, stats=stats))
            continue
        out.append(NodeFacts(
            node.name, node.role, stats is not None, member=True, state=member.state,
            availability=member.availability,
            manager_reachable=member.role == "manager" and (member.leader or member.reachability == "reachable"),
            stats=stats,
        ))
    return out


def node_facts_from_inspect(layout: ClusterLayout, inspect_output: str,
                            measured: Mapping[str, Mapping[str, Any]]) -> list[NodeFacts]:
    """``node_facts`` from `docker node inspect --format '{{json .}}'` output (one object a line)."""
    return node_facts(layout, parse_members(inspect_output), measured)


def _by_inventory_name(members: Sequence[Member]) -> dict[str, Member]:
    """Member by its host label. A node that left and joined again is listed twice, the old entry down:
    the one that is ready (then a reachable manager) stands for the name."""
    found: dict[str, Member] = {}
    for member in members:
        name = member.inventory_name
        if name and (name not in found or _rank(member) > _rank(found[name])):
            found[name] = member
    return found


def _rank(member: Member) -> tuple[bool, bool]:
    return member.state == "ready", member.leader or member.reachability == "reachable"
