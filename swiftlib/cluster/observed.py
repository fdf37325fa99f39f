"""What the swarm looks like, parsed from the docker CLI's JSON (pure).

``NodeView``: a node's view of itself (`docker info --format '{{json .Swarm}}'`). ``Member``: one
member as a manager sees it (`docker node inspect --format '{{json .}}'`, one object a line).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

ROLE_LABEL = "org.swiftdeploy.role"   # manager | worker, as the inventory says
HOST_LABEL = "org.swiftdeploy.host"   # the inventory's name of the host: how a down node is still known


@dataclass(frozen=True)
class NodeView:
    node_id: str
    state: str                       # inactive | pending | active | error | locked
    is_manager: bool                 # ControlAvailable
    cluster_id: str = ""             # managers only: workers are not told
    address: str = ""                # NodeAddr
    remote_managers: tuple[str, ...] = ()  # "addr:port" of the managers it knows
    error: str = ""

    @property
    def in_swarm(self) -> bool:
        return self.state != "inactive"


@dataclass(frozen=True)
class Member:
    node_id: str
    hostname: str
    role: str              # manager | worker
    availability: str      # active | pause | drain
    state: str             # ready | down | unknown | disconnected
    address: str = ""
    leader: bool = False
    reachability: str = ""  # managers: reachable | unreachable
    manager_addr: str = ""  # managers: "addr:2377"
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def inventory_name(self) -> str:
        return self.labels.get(HOST_LABEL, "")


def parse_node_view(text: str) -> NodeView:
    data = json.loads(text)
    cluster = data.get("Cluster") or {}
    managers = tuple(m.get("Addr", "") for m in data.get("RemoteManagers") or [])
    return NodeView(node_id=data.get("NodeID") or "", state=data.get("LocalNodeState") or "inactive",
                    is_manager=bool(data.get("ControlAvailable")), cluster_id=cluster.get("ID") or "",
                    address=data.get("NodeAddr") or "", remote_managers=managers, error=data.get("Error") or "")


def parse_members(text: str) -> list[Member]:
    """One JSON object a line (`docker node inspect --format '{{json .}}' ID...`)."""
    members = []
    for line in text.splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        spec, status = data.get("Spec") or {}, data.get("Status") or {}
        manager = data.get("ManagerStatus") or {}
        members.append(Member(
            node_id=data["ID"], hostname=(data.get("Description") or {}).get("Hostname", ""),
            role=spec.get("Role", ""), availability=spec.get("Availability", ""), state=status.get("State", ""),
            address=status.get("Addr", ""), leader=bool(manager.get("Leader")),
            reachability=manager.get("Reachability", ""), manager_addr=manager.get("Addr", ""),
            labels=dict(spec.get("Labels") or {}),
        ))
    return members
