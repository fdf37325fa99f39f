"""Ansible's YAML inventory format (`all:` / groups with `hosts:`, `children:`, `vars:`).

Follows ansible-core's `yaml` inventory plugin: a group's sections may be null or a
bare string, host keys may carry ranges and `:port`, unknown keys are skipped with a
warning. Errors name the file and the line of the offending key.
"""
from __future__ import annotations

from swiftlib.inventory.builder import InventoryBuilder
from swiftlib.inventory.model import Inventory
from swiftlib.inventory.ranges import expand_host_pattern
from swiftlib.inventory.yamlnodes import Doc, Node

_SECTIONS = ("vars", "children", "hosts")


def parse_ansible_yaml(doc: Doc) -> Inventory:
    """Build the model from a parsed YAML document in Ansible's inventory layout."""
    b = InventoryBuilder(doc.path)
    root = doc.root
    if doc.is_null(root):
        raise b.error("the inventory is empty: expected a mapping of groups such as `all:`")
    if not doc.is_map(root):
        raise doc.error("a YAML inventory must be a mapping of group names (e.g. `all:`)", root)
    for name, key_node, value in doc.items(root):
        if name == "plugin":
            raise doc.error("inventory plugin configuration files are not supported; "
                            "export the inventory with `ansible-inventory -i FILE --list -y` and use that", key_node)
        _parse_group(doc, b, name, key_node, value)
    return b.build()


def _sections(doc: Doc, group: str, node: Node) -> dict[str, tuple[Node, list[tuple[object, Node, Node | None]]]]:
    """Section name -> (value node, entries); a bare string counts as one entry."""
    out = {}
    for key, key_node, value in doc.items(node):
        if key in _SECTIONS:
            if doc.is_null(value):
                out[key] = (value, [])
            elif doc.is_map(value):
                out[key] = (value, list(doc.items(value)))
            elif value.tag == "tag:yaml.org,2002:str":
                out[key] = (value, [(doc.value(value), value, None)])
            else:
                raise doc.error(f"group {group}: `{key}:` must be a mapping, got a {value.id}", value)
    return out


def _parse_group(doc: Doc, b: InventoryBuilder, group: object, key_node: Node, node: Node) -> str | None:
    if not (doc.is_map(node) or doc.is_null(node)):
        b.warn(f"skipping {group!r}: not a group definition (expected a mapping)", doc.line(key_node))
        return None
    if not isinstance(group, str) or not group:
        raise doc.error(f"group name must be a non-empty string, got {group!r}", key_node)
    b.add_group(group, doc.line(key_node))
    if doc.is_null(node):
        return group
    sections = _sections(doc, group, node)
    for key, k_node, value in doc.items(node):
        if key not in _SECTIONS:
            b.warn(f"group {group}: skipping unexpected key {key!r} (only vars, children, hosts)", doc.line(k_node))
            continue
        _, entries = sections[key]
        if key == "vars":
            for var, var_node, var_value in entries:
                val = None if var_value is None else doc.value(var_value)
                b.set_var(group, str(var), val, doc.line(var_node))
        elif key == "children":
            for sub, sub_node, sub_value in entries:
                name = _parse_group(doc, b, sub, sub_node, sub_value)
                if name is not None:
                    b.add_child(group, name, doc.line(sub_node))
        else:
            for pattern, host_node, host_value in entries:
                _parse_hosts(doc, b, group, pattern, host_node, host_value)
    return group


def _parse_hosts(doc: Doc, b: InventoryBuilder, group: str, pattern: object,
                 host_node: Node, value: Node | None) -> None:
    line = doc.line(host_node)
    if not isinstance(pattern, str):
        raise doc.error(f"host {pattern!r} in group {group} must be a string; quote numbers", host_node)
    try:
        names, port = expand_host_pattern(pattern)
    except ValueError as exc:
        raise doc.error(str(exc), host_node) from None
    if value is not None and not (doc.is_map(value) or doc.is_null(value)):
        raise doc.error(f"host {pattern} in group {group}: its variables must be a mapping", value)
    host_vars = [] if value is None or doc.is_null(value) else list(doc.items(value))
    for name in names:
        b.add_host(name, group, port, line)
        for var, var_node, var_value in host_vars:
            b.set_var(name, str(var), doc.value(var_value), doc.line(var_node), host=True)
