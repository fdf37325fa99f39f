"""The one inventory model that every inventory format feeds.

`Inventory.hosts` keeps Ansible's host order (first definition wins), `groups`
keeps Ansible's group order and holds the implicit `all` and `ungrouped` groups.
`InventoryHost.vars` are the host's variables merged with Ansible's precedence
(all < parent group < child group < host; groups of equal depth by
`ansible_group_priority`, then by name, the later one winning), exactly what
`ansible-inventory --list` shows in `_meta.hostvars`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable

from swiftlib.errors import InventoryError
from swiftlib.inventory.patterns import match_hosts

SUPPORTED_CONNECTIONS = ("ssh", "local")


@dataclass(frozen=True)
class InventoryHost:
    """One target host: how to reach it and the variables that apply to it."""

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    # "ssh" or "local"; any other ansible_connection is kept verbatim so that
    # listing works, and `Inventory.select` refuses to hand such a host out.
    connection: str = "ssh"
    vars: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    groups: tuple[str, ...] = ()  # every group the host is in, except `all`, sorted
    overrides: dict[str, Any] = field(default_factory=dict, hash=False, compare=False, repr=False)

    def manifest_overrides(self) -> dict[str, Any]:
        """`swiftdeploy_overrides` deep-merged over all < groups < host (a copy)."""
        return copy.deepcopy(self.overrides)


@dataclass(frozen=True)
class Group:
    """A group: its direct hosts and child groups, and the vars set on it."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Inventory:
    """Hosts and groups as Ansible resolves them, plus where they came from."""

    hosts: dict[str, InventoryHost]
    groups: dict[str, Group]
    path: str | None = None
    warnings: tuple[str, ...] = ()  # what Ansible would warn about (skipped keys, ...)

    def group_hosts(self, name: str) -> list[str]:
        """Hosts of a group and of its descendants (Ansible's order, no repeats)."""
        return self.hosts_of([name])

    def hosts_of(self, names: Iterable[str]) -> list[str]:
        """`group_hosts` of each group in turn, joined without repeats.

        A group already expanded (with all its descendants) is not walked again,
        so many overlapping groups (`--limit 'web*'`) cost their size, not its
        square; skipping it moves no host, as its hosts are all listed already.
        """
        done: set[str] = set()
        seen: dict[str, None] = {}  # an ordered set
        for name in names:
            if name in done:
                continue
            order: dict[str, None] = {name: None}
            level = [name]
            while level:  # breadth first, as Ansible walks child groups
                nxt = []
                for g in level:
                    for child in self.groups[g].children:
                        if child not in order and child not in done:
                            order[child] = None
                            nxt.append(child)
                level = nxt
            for g in order:
                for h in self.groups[g].hosts:
                    seen.setdefault(h, None)
            done.update(order)
        return list(seen)

    def select(self, pattern: str | None = None) -> list[InventoryHost]:
        """Hosts matching an Ansible `--limit` pattern (None: every host).

        Raises UsageError when the pattern (or a term of it) matches nothing, and
        InventoryError when a selected host uses a connection SwiftDeploy lacks.
        """
        names = list(self.hosts) if pattern is None else match_hosts(self, pattern)
        chosen = [self.hosts[n] for n in names]
        for host in chosen:
            if host.connection not in SUPPORTED_CONNECTIONS:
                raise InventoryError(
                    f"host {host.name}: ansible_connection={host.connection!r} is not supported; "
                    "SwiftDeploy connects over ssh or local (exclude it with --limit '...:!"
                    f"{host.name}')",
                    path=self.path,
                )
        return chosen
