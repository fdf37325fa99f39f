"""Which nodes the cluster should have, with which role, from an Ansible-style inventory (pure).

Groups ``managers`` and ``workers`` (child groups count, as Ansible resolves them). One manager, or
three or more: Raft needs a majority of managers to agree, so two managers stop the swarm when
either is lost (no quorum), worse than one. A host in both groups, or in neither group's absence of
a manager, is bad input naming the file.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..errors import InventoryError

MANAGERS, WORKERS = "managers", "workers"
ADVERTISE_VAR = "swarm_advertise_addr"  # host variable: the address other nodes reach this one at


@dataclass(frozen=True)
class WantedNode:
    name: str          # the inventory's name for the host
    role: str          # "manager" or "worker"
    host: Any          # the InventoryHost (how to reach it over SSH)
    advertise: str     # the address the node advertises to the swarm ("": Docker picks)


@dataclass(frozen=True)
class ClusterLayout:
    nodes: tuple[WantedNode, ...]  # managers first, each group in inventory order
    path: str | None = None

    @property
    def managers(self) -> list[WantedNode]:
        return [n for n in self.nodes if n.role == "manager"]

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def __getitem__(self, name: str) -> WantedNode:
        return next(n for n in self.nodes if n.name == name)


def layout_of(inventory: Any) -> ClusterLayout:
    """The wanted cluster of ``inventory`` (a swiftlib.inventory.Inventory); InventoryError when impossible."""
    path = inventory.path
    if MANAGERS not in inventory.groups:
        raise InventoryError("no group `managers`: a cluster needs 1 or 3+ manager hosts (and an optional "
                             "group `workers`)", path=path)
    managers = inventory.group_hosts(MANAGERS)
    workers = inventory.group_hosts(WORKERS) if WORKERS in inventory.groups else []
    both = [name for name in managers if name in workers]
    if both:
        raise InventoryError(f"host {', '.join(both)} is in both `managers` and `workers`; a node has one role "
                             "(a manager runs tasks too)", path=path)
    if not managers:
        raise InventoryError("group `managers` has no host: a cluster needs 1 or 3+ managers", path=path)
    if len(managers) == 2:
        raise InventoryError(f"2 managers ({', '.join(managers)}) have no quorum: Raft needs a majority, so losing "
                             "either one stops the swarm, worse than 1 manager; use 1 or 3+ managers", path=path)
    nodes = [_wanted(inventory.hosts[name], "manager", path) for name in managers]
    nodes += [_wanted(inventory.hosts[name], "worker", path) for name in workers]
    return ClusterLayout(tuple(nodes), path)


def _wanted(host: Any, role: str, path: str | None) -> WantedNode:
    if host.connection == "local":
        raise InventoryError(f"host {host.name}: ansible_connection=local cannot be a swarm node here; every "
                             "node is reached over SSH", path=path)
    given = host.vars.get(ADVERTISE_VAR)
    if given is not None and not _is_ip(str(given)):
        raise InventoryError(f"host {host.name}: {ADVERTISE_VAR}={given!r} is not an IP address", path=path)
    advertise = str(given) if given is not None else (host.address if _is_ip(host.address) else "")
    return WantedNode(host.name, role, host, advertise)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
