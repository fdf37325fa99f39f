"""SwiftDeploy's own simple YAML inventory, for teams without Ansible.

    vars: {swiftdeploy_overrides: {nginx: {port: 8080}}}   # applies to every host
    hosts:
      web1: {address: 10.0.0.5, port: 2222, user: deploy, key: ~/.ssh/deploy_ed25519}
      ctl:  {connection: local}
    groups:
      web: {hosts: [web1], children: [], vars: {swiftdeploy_overrides: {nginx: {port: 8081}}}}

Host fields become Ansible's connection variables (address -> ansible_host, port ->
ansible_port, user -> ansible_user, key -> ansible_ssh_private_key_file, connection
-> ansible_connection), so both formats resolve through the same model and rules.
Unlike Ansible's format this one is strict: unknown keys, undefined hosts and
undefined child groups are errors naming the line.
"""
from __future__ import annotations

from swiftlib.inventory.builder import InventoryBuilder
from swiftlib.inventory.model import Inventory
from swiftlib.inventory.yamlnodes import Doc, Node

TOP_KEYS = frozenset({"hosts", "groups", "vars"})
HOST_FIELDS = {"address": "ansible_host", "port": "ansible_port", "user": "ansible_user",
               "key": "ansible_ssh_private_key_file", "connection": "ansible_connection"}
HOST_KEYS = frozenset(HOST_FIELDS) | {"vars"}
GROUP_KEYS = frozenset({"hosts", "children", "vars"})


def is_native(doc: Doc) -> bool:
    """The detection rule (see package docstring): top-level keys within
    {hosts, groups, vars}, and not also a valid Ansible layout, i.e. the values of
    `hosts:`/`groups:` are not all mappings of only hosts/children/vars."""
    root = doc.root
    if not doc.is_map(root):
        return False
    top = {k: v for k, _, v in doc.items(root)}
    if not top or not set(top) <= TOP_KEYS:
        return False
    ansible_shaped = all(
        doc.is_null(v) or (doc.is_map(v) and set(doc.keys(v)) <= GROUP_KEYS)
        for k, v in top.items() if k in ("hosts", "groups")
    )
    return not ansible_shaped


def _mapping(doc: Doc, node: Node, what: str) -> list[tuple[object, Node, Node]]:
    if doc.is_null(node):
        return []
    if not doc.is_map(node):
        raise doc.error(f"{what} must be a mapping", node)
    return list(doc.items(node))


def _names(doc: Doc, node: Node, what: str) -> list[tuple[str, Node]]:
    if doc.is_null(node):
        return []
    if node.id != "sequence":
        raise doc.error(f"{what} must be a list of names", node)
    out = []
    for item in node.value:
        name = doc.value(item)
        if not isinstance(name, str) or not name:
            raise doc.error(f"{what}: expected a name, got {name!r}", item)
        out.append((name, item))
    return out


def parse_native_yaml(doc: Doc) -> Inventory:
    b = InventoryBuilder(doc.path)
    top = {k: (kn, v) for k, kn, v in doc.items(doc.root)}
    if "vars" in top:
        for var, var_node, value in _mapping(doc, top["vars"][1], "vars"):
            b.set_var("all", str(var), doc.value(value), doc.line(var_node))
    for name, name_node, body in _mapping(doc, top.get("hosts", (None, None))[1], "hosts"):
        if not isinstance(name, str) or not name:
            raise doc.error(f"host name must be a non-empty string, got {name!r}", name_node)
        b.add_host(name, None, None, doc.line(name_node))
        for key, key_node, value in _mapping(doc, body, f"hosts.{name}"):
            if key == "vars":
                for var, var_node, v in _mapping(doc, value, f"hosts.{name}.vars"):
                    b.set_var(name, str(var), doc.value(v), doc.line(var_node), host=True)
            elif key in HOST_FIELDS:
                b.set_var(name, HOST_FIELDS[key], doc.value(value), doc.line(value), host=True)
            else:
                raise doc.error(f"hosts.{name}: unknown key {key!r} (expected one of "
                                f"{', '.join(sorted(HOST_KEYS))})", key_node)
    groups = _mapping(doc, top.get("groups", (None, None))[1], "groups")
    for name, name_node, _ in groups:
        if not isinstance(name, str) or not name or name == "all":
            raise doc.error(f"group name must be a non-empty string other than 'all', got {name!r}", name_node)
        b.add_group(name, doc.line(name_node))
    for name, _, body in groups:
        for key, key_node, value in _mapping(doc, body, f"groups.{name}"):
            if key == "hosts":
                for host, host_node in _names(doc, value, f"groups.{name}.hosts"):
                    if host not in b.hosts:
                        raise doc.error(f"groups.{name}.hosts: {host!r} is not defined under hosts:", host_node)
                    b.add_host(host, name, None, doc.line(host_node))
            elif key == "children":
                for child, child_node in _names(doc, value, f"groups.{name}.children"):
                    if child not in b.groups or child == "all":
                        raise doc.error(f"groups.{name}.children: {child!r} is not defined under groups:", child_node)
                    b.add_child(name, child, doc.line(child_node))
            elif key == "vars":
                for var, var_node, v in _mapping(doc, value, f"groups.{name}.vars"):
                    b.set_var(name, str(var), doc.value(v), doc.line(var_node))
            else:
                raise doc.error(f"groups.{name}: unknown key {key!r} (expected hosts, children, vars)", key_node)
    return b.build()
