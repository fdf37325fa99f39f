"""The swarm's state read, and the plan carried out, with the docker CLI over ``Host`` (SSH)."""
from __future__ import annotations

from typing import Callable, Mapping

from ..errors import CommandFailed, SwiftDeployError
from ..host import Host
from . import commands as cmd
from .layout import ClusterLayout
from .observed import Member, NodeView, parse_members, parse_node_view
from .plan import Action, Plan

JOIN_TIMEOUT = 120.0


def node_view(host: Host) -> NodeView:
    out = host.run(cmd.swarm_info(), timeout=30,
                   hint="is the Docker engine installed and running there? (`inv bootstrap` installs it)").stdout
    try:
        return parse_node_view(out)
    except ValueError as exc:
        raise CommandFailed("docker info", None, f"unexpected answer: {out[:200]!r}", host=host.name) from exc


def members(manager: Host) -> list[Member]:
    ids = manager.run(cmd.node_ids(), timeout=30).stdout.split()
    return parse_members(manager.run(cmd.node_inspect(ids), timeout=30).stdout) if ids else []


class Applier:
    """Carries out a plan's actions one at a time; ``run(action)`` returns what was done, in words."""

    def __init__(self, layout: ClusterLayout, hosts: Mapping[str, Host], plan: Plan,
                 members_now: list[Member], reach_removed: Callable[[str], Host | None]) -> None:
        self.layout = layout
        self.hosts = hosts
        self.acting = hosts[plan.acting] if plan.acting else None
        self.swarm_id = plan.swarm_id
        self.manager_addr = _manager_addr(members_now)
        self.reach_removed = reach_removed
        self._tokens: dict[str, str] = {}

    def run(self, action: Action) -> str:
        return getattr(self, f"_{action.kind}")(action)

    def _init(self, action: Action) -> str:
        host = self.hosts[action.host]
        host.run(cmd.swarm_init(self.layout[action.host].advertise), timeout=JOIN_TIMEOUT)
        view = node_view(host)
        self.acting, self.swarm_id = host, view.cluster_id
        self.manager_addr = f"{view.address}:{cmd.SWARM_PORT}"
        host.run(cmd.node_labels(view.node_id, action.labels), timeout=30)
        return f"initialized swarm {view.cluster_id} (advertising {view.address}); labelled"

    def _join(self, action: Action) -> str:
        host = self.hosts[action.host]
        host.run(cmd.swarm_join(self.manager_addr, self.layout[action.host].advertise), stdin=self._token(action.role) + "\n",
                 timeout=JOIN_TIMEOUT, hint=f"can the host reach the manager at {self.manager_addr} (TCP 2377, "
                                            "7946 TCP/UDP, 4789 UDP)?")
        node_id = node_view(host).node_id
        self._manager().run(cmd.node_labels(node_id, action.labels), timeout=30)
        return f"joined as a {action.role}; labelled"

    def _rejoin(self, action: Action) -> str:
        self.hosts[action.host].run(cmd.swarm_leave(), timeout=60)
        self._join(action)
        return f"left (the swarm had removed it while it was away) and joined again as a {action.role}; labelled"

    def _promote(self, action: Action) -> str:
        self._manager().run(cmd.node_role("promote", action.node_id), timeout=60)
        return "promoted to manager"

    def _demote(self, action: Action) -> str:
        self._manager().run(cmd.node_role("demote", action.node_id), timeout=60)
        return "demoted to worker"

    def _label(self, action: Action) -> str:
        self._manager().run(cmd.node_labels(action.node_id, action.labels), timeout=30)
        return action.describe().replace("label", "labelled", 1)

    def _remove(self, action: Action) -> str:
        manager = self._manager()
        manager.run(cmd.node_drain(action.node_id), timeout=60)
        if action.role == "manager":
            manager.run(cmd.node_role("demote", action.node_id), timeout=60)
        left = "it left"
        try:
            node = self.reach_removed(action.host)
        except SwiftDeployError as exc:
            node, left = None, f"it could not be asked to leave ({exc.message})"
        if node is not None:
            node.run(cmd.swarm_leave(), timeout=60)
        elif left == "it left":
            left = "SwiftDeploy has no record of how to reach it"
        manager.run(cmd.node_remove(action.node_id), timeout=60)
        hint = "" if node is not None else "; run `docker swarm leave --force` on it"
        return f"drained, {'demoted, ' if action.role == 'manager' else ''}removed from the swarm ({left}{hint})"

    def _token(self, role: str) -> str:
        if role not in self._tokens:
            self._tokens[role] = self._manager().run(cmd.join_token(role), timeout=30).stdout.strip()
        return self._tokens[role]

    def _manager(self) -> Host:
        if self.acting is None:
            raise CommandFailed("docker swarm", None, "no manager to act through")
        return self.acting


def _manager_addr(members_now: list[Member]) -> str:
    """Where a joining node finds the swarm (``addr:2377``): the leader's advertised address, else any manager's."""
    managers = sorted((m for m in members_now if m.manager_addr), key=lambda m: not m.leader)
    return managers[0].manager_addr if managers else ""
