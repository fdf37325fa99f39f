"""Ansible's INI inventory format, parsed the way ansible-core's `ini` plugin does.

- Lines before any section belong to `ungrouped`; `#` and `;` start comment lines,
  and only `#` starts a trailing comment on a host line (it is shell-split).
- `[g]` hosts, `[g:children]` group names, `[g:vars]` key=value. A child group or a
  `:vars` section must be declared somewhere in the file, as Ansible requires.
- Values are typed as Python literals (`port=22` -> 22, `flag=True` -> True,
  `x=yes` -> "yes"). On host lines the value is shell-unquoted first, so
  `y="a b"` -> "a b" and `z='1'` -> 1; on `:vars` lines the raw text is used.
"""
from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from swiftlib.inventory.builder import InventoryBuilder
from swiftlib.inventory.model import Inventory
from swiftlib.inventory.ranges import expand_host_pattern

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")
_COMMENT = ("#", ";")


def parse_value(text: str) -> Any:
    """Ansible's INI value typing: a Python literal when it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {_coerce(k): _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def parse_ansible_ini(text: str, path: str | None) -> Inventory:
    """Build the model from INI text; raise InventoryError naming path:line."""
    b = InventoryBuilder(path)
    pending: dict[str, dict[str, Any]] = {}  # groups referenced before they are declared
    group, state = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in _COMMENT:
            continue
        m = _SECTION.match(line)
        if m:
            group, state = m.group(1), m.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                raise b.error(f"section [{group}:{state}] has unknown type {state!r} "
                              "(expected [group], [group:children] or [group:vars])", lineno)
            if group not in b.groups:
                if state == "vars" and group not in pending:
                    pending[group] = {"line": lineno, "state": "vars", "parents": []}
                b.add_group(group, lineno)
            if group in pending and state != "vars":
                _resolve(b, group, pending)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise b.error(f"invalid section header {line!r}: a group name has no spaces, and the "
                          "only suffixes are :children and :vars", lineno)
        if state == "hosts":
            _host_line(b, group, line, lineno)
        elif state == "vars":
            if "=" not in line:
                raise b.error(f"expected key=value in [{group}:vars], got {line!r}", lineno)
            key, value = (part.strip() for part in line.split("=", 1))
            b.set_var(group, key, parse_value(value), lineno)
        else:
            gm = _GROUPNAME.match(line)
            if not gm:
                raise b.error(f"expected a group name in [{group}:children], got {line!r}", lineno)
            child = gm.group(1)
            if child in b.groups:
                b.add_child(group, child, lineno)
            elif child in pending:
                pending[child]["parents"].append(group)
            else:
                pending[child] = {"line": lineno, "state": "children", "parents": [group]}
    for name, decl in pending.items():
        if decl["state"] == "vars":
            raise b.error(f"section [{name}:vars] is for group {name!r}, which is not defined; "
                          f"add a [{name}] section or fix the name", decl["line"])
        raise b.error(f"section [{decl['parents'][-1]}:children] includes undefined group {name!r}; "
                      f"add a [{name}] section (it may be empty) or fix the name", decl["line"])
    return b.build()


def _resolve(b: InventoryBuilder, group: str, pending: dict[str, dict[str, Any]]) -> None:
    decl = pending[group]
    if decl["state"] == "children":
        for parent in decl["parents"]:
            b.add_child(parent, group, decl["line"])
            if parent in pending and pending[parent]["state"] == "children":
                _resolve(b, parent, pending)
    pending.pop(group, None)


def _host_line(b: InventoryBuilder, group: str, line: str, lineno: int) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise b.error(f"cannot parse host line {line!r}: {exc}", lineno) from None
    if not tokens:
        return
    try:
        names, port = expand_host_pattern(tokens[0])
    except ValueError as exc:
        raise b.error(str(exc), lineno) from None
    host_vars = {}
    for token in tokens[1:]:
        if "=" not in token:
            raise b.error(f"expected key=value host variable after {tokens[0]!r}, got {token!r} "
                          "(only `#` starts a comment on a host line)", lineno)
        key, value = token.split("=", 1)
        host_vars[key] = parse_value(value)
    for name in names:
        b.add_host(name, group, port, lineno)
        for key, value in host_vars.items():
            b.set_var(name, key, value, lineno, host=True)
