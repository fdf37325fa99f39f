"""Render the model the way `ansible-inventory --list` and `--graph` do.

Both recurse as deep as groups nest, which the builder bounds (MAX_GROUP_DEPTH).
"""
from __future__ import annotations

from typing import Any

from swiftlib.errors import InventoryError, UsageError
from swiftlib.inventory.limits import MAX_GRAPH_LINES
from swiftlib.inventory.model import Inventory
from swiftlib.inventory.patterns import match_hosts


def to_ansible_list(inv: Inventory, limit: str | None = None) -> dict[str, Any]:
    """`ansible-inventory -i F --list [--limit P]` as a dict (without its `profile` key).

    Groups are listed from `all` down; a group shows its direct `hosts` (within the
    limit) and `children`, and is left out when it has neither, as Ansible does.
    `_meta.hostvars` holds each selected host's merged vars, when it has any.
    Raises UsageError when `limit` matches nothing (see patterns.match_hosts).
    """
    selected = inv.group_hosts("all")
    if limit is not None:
        chosen = set(match_hosts(inv, limit))
        selected = [h for h in selected if h in chosen]
    available = frozenset(selected)
    out: dict[str, Any] = {}
    seen: set[str] = set()

    def visit(name: str) -> None:
        group = inv.groups[name]
        entry: dict[str, Any] = {}
        if name != "all":
            entry["hosts"] = [h for h in group.hosts if h in available]
        entry["children"] = list(group.children)
        out[name] = {k: v for k, v in entry.items() if v}
        for child in group.children:
            if child not in seen:
                seen.add(child)
                visit(child)
        if not out[name]:
            del out[name]

    visit("all")
    hostvars = {h: dict(inv.hosts[h].vars) for h in selected if inv.hosts[h].vars}
    return {"_meta": {"hostvars": hostvars}, **out}


def to_graph(inv: Inventory, group: str = "all") -> str:
    """`ansible-inventory -i F --graph [GROUP]`: `@all:` then `  |--@child:` ..."""
    if group not in inv.groups:
        raise UsageError(f"--graph {group!r}: no such group (groups: {', '.join(inv.groups)})")
    size = graph_lines(inv, group)
    if size > MAX_GRAPH_LINES:
        raise InventoryError(f"the --graph tree would have {size:,} lines, more than {MAX_GRAPH_LINES:,} "
                             "(MAX_GRAPH_LINES): it prints a group once per path to it; use --list",
                             path=inv.path)
    lines: list[str] = []

    def name_at(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def walk(name: str, depth: int) -> None:
        lines.append(name_at(f"@{name}:", depth))
        for child in inv.groups[name].children:
            walk(child, depth + 1)
        if name != "all":
            lines.extend(name_at(h, depth + 1) for h in inv.groups[name].hosts)

    walk(group, 0)
    return "\n".join(lines)


def graph_lines(inv: Inventory, group: str = "all") -> int:
    """How many lines `to_graph` prints, counted per group rather than per path."""
    count: dict[str, int] = {}

    def lines(name: str) -> int:  # recursion is as deep as groups nest (MAX_GROUP_DEPTH)
        if name not in count:
            g = inv.groups[name]
            count[name] = 1 + sum(lines(c) for c in g.children) + (len(g.hosts) if name != "all" else 0)
        return count[name]

    return lines(group)
