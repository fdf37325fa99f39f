"""Accumulate hosts, groups and vars the way Ansible's InventoryData does, then
freeze them into the model with Ansible's precedence.

The parsers call `add_group`, `add_host`, `add_child`, `set_var` (each with the
line it came from); `build()` adds the implicit `all`/`ungrouped` rules, computes
group depth, merges vars and resolves connection values.

Limits (limits.py), each an InventoryError with the line: the parsers' calls count
towards MAX_HOSTS, MAX_GROUPS, MAX_NAME_LENGTH and MAX_ENTRIES as they come;
`build()` checks MAX_GROUP_DEPTH, MAX_MEMBERSHIPS and MAX_HOSTVARS_SIZE before the
work each bounds. Every step is linear in what it handles, except the loop check
of `add_child`, which walks the smaller of the two sides it compares.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from swiftlib.errors import InventoryError
from swiftlib.inventory.limits import (
    MAX_ENTRIES,
    MAX_GROUP_DEPTH,
    MAX_GROUPS,
    MAX_HOSTS,
    MAX_HOSTVARS_SIZE,
    MAX_MEMBERSHIPS,
    MAX_NAME_LENGTH,
)
from swiftlib.inventory.model import Group, Inventory, InventoryHost
from swiftlib.inventory.sizes import first_host_over

OVERRIDES_VAR = "swiftdeploy_overrides"
_SSH_LIKE = {"ssh", "paramiko", "paramiko_ssh", "smart", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"}
_LOCAL = {"local", "ansible.builtin.local"}


@dataclass
class _Entity:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int | None] = field(default_factory=dict)  # var -> line it was set on
    # ordered sets (dict keys): membership tests and removals stay O(1)
    hosts: dict[str, None] = field(default_factory=dict)     # groups: direct hosts
    children: dict[str, None] = field(default_factory=dict)  # groups: child groups
    parents: dict[str, None] = field(default_factory=dict)   # groups: parent groups
    priority: int = 1                                   # groups: ansible_group_priority
    line: int | None = None                             # where it was first named


class InventoryBuilder:
    """Mutable staging area shared by the INI, Ansible-YAML and native parsers."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.groups: dict[str, _Entity] = {}
        self.hosts: dict[str, _Entity] = {}
        self.warnings: list[str] = []
        self.entries = 0  # host entries and variable assignments so far (MAX_ENTRIES)
        self.add_group("all")
        self.add_group("ungrouped")
        self.add_child("all", "ungrouped")

    def error(self, message: str, line: int | None = None) -> InventoryError:
        return InventoryError(message, path=self.path, line=line)

    def warn(self, message: str, line: int | None = None) -> None:
        where = f"{self.path}:{line}: " if self.path and line else ""
        self.warnings.append(where + message)

    def _check_name(self, kind: str, name: str, line: int | None) -> None:
        if not name:
            raise self.error(f"empty {kind} name", line)
        if len(name) > MAX_NAME_LENGTH:
            raise self.error(f"{kind} name {name[:40]!r}... is {len(name):,} characters long, more than "
                             f"{MAX_NAME_LENGTH} (MAX_NAME_LENGTH)", line)

    def add_group(self, name: str, line: int | None = None) -> None:
        if name not in self.groups:
            self._check_name("group", name, line)
            if len(self.groups) >= MAX_GROUPS:
                raise self.error(f"the inventory is too large: more than {MAX_GROUPS:,} groups "
                                 "(MAX_GROUPS)", line)
            self.groups[name] = _Entity(name, line=line)

    def _count_entry(self, line: int | None) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise self.error(f"the inventory is too large: more than {MAX_ENTRIES:,} host entries and "
                             "variable assignments (MAX_ENTRIES)", line)

    def add_host(self, name: str, group: str | None, port: int | None, line: int | None) -> None:
        self._count_entry(line)
        if name not in self.hosts:
            self._check_name("host", name, line)
            if len(self.hosts) >= MAX_HOSTS:
                raise self.error(f"the inventory is too large: more than {MAX_HOSTS:,} hosts (MAX_HOSTS)", line)
            self.hosts[name] = _Entity(name, line=line)
            if port:  # Ansible takes `name:port` only when it first meets the host
                self.set_var(name, "ansible_port", int(port), line, host=True)
        if group is not None:
            self.groups[group].hosts[name] = None

    def add_child(self, parent: str, child: str, line: int | None = None) -> None:
        p, c = self.groups[parent], self.groups[child]
        if parent == child:
            raise self.error(f"group {child!r} cannot be a child of itself", line)
        if child in p.children:
            return
        if child == "all" or self._is_ancestor(child, parent):
            raise self.error(f"adding group {child!r} as a child of {parent!r} creates a loop", line)
        p.children[child] = None
        c.parents[parent] = None

    def set_var(self, entity: str, key: str, value: Any, line: int | None, *, host: bool = False) -> None:
        self._count_entry(line)
        target = self.hosts[entity] if host else self.groups[entity]
        if not host and key == "ansible_group_priority":
            try:
                target.priority = int(value)
            except (TypeError, ValueError):
                raise self.error(f"group {entity}: ansible_group_priority must be an integer, got {value!r}", line) from None
            return
        target.vars[key] = value
        target.lines[key] = line

    # -- freezing -----------------------------------------------------------

    def _is_ancestor(self, old: str, young: str) -> bool:
        """Whether `old` is an ancestor of `young`: searched upwards from `young` and
        downwards from `old` in turn, so the cost is that of the smaller side."""
        ups, downs = [young], [old]
        seen_up, seen_down = {young}, {old}
        while ups and downs:
            for todo, seen, links, goal in ((ups, seen_up, "parents", old), (downs, seen_down, "children", young)):
                for nxt in getattr(self.groups[todo.pop()], links):
                    if nxt == goal:
                        return True
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
                if not todo:
                    return False
        return False

    def _ancestors(self, group: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(self.groups[g].parents)
        return seen

    def _reconcile(self) -> None:
        for name, g in self.groups.items():
            if name != "all" and not g.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        member_of: dict[str, set[str]] = {h: set() for h in self.hosts}
        for gname, g in self.groups.items():
            for h in g.hosts:
                member_of[h].add(gname)
        for h, gs in member_of.items():
            if "ungrouped" in gs and gs - {"all", "ungrouped"}:
                del ungrouped.hosts[h]
            elif not gs - {"all"}:
                ungrouped.hosts[h] = None

    def _depths(self) -> dict[str, int]:
        """Each group's longest path from `all` (groups form no loop; all hang off `all`)."""
        waiting = {name: len(g.parents) for name, g in self.groups.items()}
        depth = {"all": 0}
        ready = ["all"]
        while ready:  # topological order: a group's depth is final once all its parents are done
            name = ready.pop()
            if depth[name] > MAX_GROUP_DEPTH:
                raise self.error(f"group {name!r} is nested {depth[name]} levels deep, more than "
                                 f"{MAX_GROUP_DEPTH} (MAX_GROUP_DEPTH)", self.groups[name].line)
            for child in self.groups[name].children:
                depth[child] = max(depth.get(child, 0), depth[name] + 1)
                waiting[child] -= 1
                if not waiting[child]:
                    ready.append(child)
        return depth

    def _host_groups(self) -> dict[str, set[str]]:
        """Every group each host is in, through child groups (MAX_MEMBERSHIPS)."""
        host_groups: dict[str, set[str]] = {h: set() for h in self.hosts}
        total = 0
        for gname, g in self.groups.items():
            if g.hosts:
                closure = {gname} | self._ancestors(gname)
                total += len(closure) * len(g.hosts)
                if total > MAX_MEMBERSHIPS:
                    raise self.error(f"the inventory is too large: more than {MAX_MEMBERSHIPS:,} host-group "
                                     "memberships, counting the groups a host is in through child groups "
                                     "(MAX_MEMBERSHIPS)", g.line)
                for h in g.hosts:
                    host_groups[h].update(closure)
        return host_groups

    def _check_vars_size(self, chains: dict[str, list[_Entity]]) -> None:
        """Refuse before merging when every host's variables, written out, pass MAX_HOSTVARS_SIZE."""
        name = first_host_over(chains, MAX_HOSTVARS_SIZE)
        if name is not None:
            raise self.error(f"the inventory is too large: its hosts' variables, each group's applied to "
                             f"each of its hosts, would take more than {MAX_HOSTVARS_SIZE:,} characters "
                             f"written out (MAX_HOSTVARS_SIZE; reached at host {name!r})", self.hosts[name].line)

    def build(self) -> Inventory:
        self._reconcile()
        depth = self._depths()
        host_groups = self._host_groups()
        chains = {name: [*sorted((self.groups[g] for g in host_groups[name]),
                                 key=lambda g: (depth[g.name], g.priority, g.name)), ent]
                  for name, ent in self.hosts.items()}
        self._check_vars_size(chains)
        hosts = {}
        for name, layers in chains.items():
            merged: dict[str, Any] = {}
            lines: dict[str, int | None] = {}
            overrides: dict[str, Any] = {}
            for layer in layers:
                merged.update(layer.vars)  # Ansible's default hash_behaviour=replace
                lines.update(layer.lines)
                extra = layer.vars.get(OVERRIDES_VAR)
                if extra is not None:
                    if not isinstance(extra, dict):
                        raise self.error(f"{layer.name}: {OVERRIDES_VAR} must be a mapping like "
                                         f"{{nginx: {{port: 8081}}}}, got {type(extra).__name__}",
                                         layer.lines.get(OVERRIDES_VAR))
                    overrides = deep_merge(overrides, extra)
            hosts[name] = self._host(name, merged, lines, overrides,
                                     tuple(sorted(host_groups[name] - {"all"})))
        groups = {n: Group(n, tuple(g.hosts), tuple(g.children), dict(g.vars)) for n, g in self.groups.items()}
        for clash in sorted(set(self.groups) & set(self.hosts)):
            self.warnings.append(f"{clash!r} is both a group and a host")
        return Inventory(hosts=hosts, groups=groups, path=self.path, warnings=tuple(self.warnings))

    def _host(self, name: str, v: dict[str, Any], lines: dict[str, int | None],
              overrides: dict[str, Any], groups: tuple[str, ...]) -> InventoryHost:
        def first(*keys: str) -> tuple[str | None, Any]:
            for k in keys:
                if v.get(k) is not None:
                    return k, v[k]
            return None, None

        port_key, port = first("ansible_port", "ansible_ssh_port")
        if port is not None:
            ok = not isinstance(port, bool) and str(port).strip().isdigit() and 0 < int(port) < 65536
            if not ok:
                raise self.error(f"host {name}: {port_key} must be an integer 1-65535, got {port!r}",
                                 lines.get(port_key))
            port = int(port)
        conn_key, conn = first("ansible_connection")
        if conn is None or str(conn) in _SSH_LIKE:
            connection = "ssh"
        elif str(conn) in _LOCAL:
            connection = "local"
        else:
            connection = str(conn)
        _, address = first("ansible_host", "ansible_ssh_host")
        _, user = first("ansible_user", "ansible_ssh_user")
        _, key = first("ansible_ssh_private_key_file", "ansible_private_key_file")
        return InventoryHost(
            name=name, address=str(address) if address is not None else name, port=port,
            user=str(user) if user is not None else None,
            key_file=str(key) if key is not None else None,
            connection=connection, vars=v, groups=groups, overrides=overrides,
        )


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Return base with extra merged in, recursing into mappings; extra wins."""
    out = dict(base)
    for k, val in extra.items():
        if isinstance(val, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], val)
        else:
            out[k] = val
    return out
