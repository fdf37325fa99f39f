"""Inventories: Ansible INI, Ansible YAML and SwiftDeploy's native YAML, one model.

Format detection (`detect_format`):
- `.ini` files are Ansible INI.
- `.yml`/`.yaml`/`.json` files are YAML; any other file is YAML when it parses as
  a YAML mapping, otherwise INI (an INI file never parses as a YAML mapping).
- A YAML file is SwiftDeploy's native format when its top-level keys are a subset
  of {hosts, groups, vars} and it is not also a valid Ansible layout (the value
  under `hosts:`/`groups:` is a mapping of host/group names, not of only
  hosts/children/vars sections). Everything else, typically `all:` at the top, is
  Ansible YAML.

Not supported, each refused with an InventoryError (exit 2) naming the file:
inventory directories, executable inventory scripts, inventory plugin configs
(`plugin:`), comma-separated host lists in place of a file, and vaulted values.
group_vars/ and host_vars/ next to the file are not read.

What one inventory may make SwiftDeploy do is bounded (limits.py): its size, its
hosts and groups, its YAML aliases, and the work of resolving it. Crossing a limit
is an InventoryError naming the file, the line and the limit.
"""
from __future__ import annotations

import os
from dataclasses import replace

from swiftlib.errors import InventoryError
from swiftlib.fileio import UnreadableFile, read_regular_bytes
from swiftlib.inventory.ansible_ini import parse_ansible_ini
from swiftlib.inventory.ansible_yaml import parse_ansible_yaml
from swiftlib.inventory.limits import MAX_FILE_BYTES
from swiftlib.inventory.model import Group, Inventory, InventoryHost
from swiftlib.inventory.native_yaml import is_native, parse_native_yaml
from swiftlib.inventory.yamlnodes import Doc, RefusedYAML

__all__ = ["Group", "Inventory", "InventoryHost", "detect_format", "load_inventory", "parse_inventory"]

_YAML_EXT = (".yml", ".yaml", ".json")


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InventoryError("not valid UTF-8 text", path=path, line=line) from exc


def detect_format(text: str, path: str | None = None) -> str:
    """'ini', 'ansible-yaml' or 'native' (see the module docstring)."""
    return _detect(text, path)[0]


def _detect(text: str, path: str | None) -> tuple[str, Doc | None]:
    """The format, and the parsed YAML document when it is YAML (parsed once)."""
    ext = os.path.splitext(path or "")[1].lower()
    if ext == ".ini":
        return "ini", None
    if ext in _YAML_EXT:
        doc = Doc(text, path)  # a broken .yml file gets the YAML error, with its line
    else:
        try:
            doc = Doc(text, path)
        except RefusedYAML:
            raise  # YAML, but refused: the INI parser would only confuse the message
        except InventoryError:
            return "ini", None
        if not doc.is_map(doc.root):
            return "ini", None
    return ("native" if is_native(doc) else "ansible-yaml"), doc


def parse_inventory(text: str, path: str | None = None, fmt: str | None = None) -> Inventory:
    """Parse inventory text; `fmt` forces 'ini', 'ansible-yaml' or 'native'."""
    doc = None
    if fmt is None:
        fmt, doc = _detect(text, path)
    if text.startswith("$ANSIBLE_VAULT;"):
        raise InventoryError("vault-encrypted inventories are not supported; decrypt it with "
                             "`ansible-vault decrypt`", path=path, line=1)
    if fmt == "ini":
        return parse_ansible_ini(text, path)
    doc = doc or Doc(text, path)
    if fmt == "native":
        return parse_native_yaml(doc)
    if fmt == "ansible-yaml":
        return parse_ansible_yaml(doc)
    raise ValueError(f"unknown inventory format {fmt!r}")


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and parse an inventory file. Raises InventoryError (exit 2).

    The file named on the command line is read wherever a symlink points (as Ansible
    does), but when it points outside the directory it is named in, errors and warnings
    give the line without quoting the file: a link to another file must not echo it.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InventoryError("inventory directories are not supported; pass one inventory file", path=path)
    try:
        # A regular file only (a FIFO would block), and never more than the limit (/dev/zero).
        data = read_regular_bytes(path, MAX_FILE_BYTES, "an inventory")
    except FileNotFoundError:
        raise InventoryError("inventory file not found", path=path) from None
    except UnreadableFile as exc:
        raise InventoryError(f"{exc.problem} (MAX_FILE_BYTES)" if "larger" in exc.problem else exc.problem,
                             path=path) from None
    if data.startswith(b"#!") and os.access(path, os.X_OK):
        raise InventoryError("executable inventory scripts are not supported; save the output of "
                             "`ansible-inventory -i SCRIPT --list -y` to a YAML file and use that", path=path)
    elsewhere = _linked_outside(path)
    if elsewhere is None:
        return parse_inventory(_decode(data, path), path)
    try:
        inv = parse_inventory(_decode(data, path), path)
    except InventoryError as exc:
        raise InventoryError(f"not a valid inventory here (the text is not shown: {elsewhere})",
                             path=path, line=exc.line) from None
    if inv.warnings:
        inv = replace(inv, warnings=(f"{path}: {len(inv.warnings)} warning(s) not shown: {elsewhere}",))
    return inv


def _linked_outside(path: str) -> str | None:
    """Why quoting ``path`` is not safe (a link out of its directory), or None."""
    real = os.path.realpath(path)
    home = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if os.path.commonpath([real, home]) == home:
        return None
    return f"the file is a symbolic link to {real}, outside {home}"
