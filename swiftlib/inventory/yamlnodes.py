"""YAML loading that keeps line numbers, shared by the two YAML inventory formats.

We walk PyYAML's node graph for the structure (so every error can name the line of
the offending key) and construct plain Python values only for variable values.
PyYAML's SafeLoader resolves scalars like Ansible's loader does (YAML 1.1: yes/no
are booleans, 0x10 is 16).
"""
from __future__ import annotations

from typing import Any, Iterator

import yaml

from swiftlib.errors import InventoryError

Node = yaml.Node


class Doc:
    """One parsed YAML document: its root node and a constructor for values."""

    def __init__(self, text: str, path: str | None) -> None:
        self.path = path
        self._loader = yaml.SafeLoader(text)
        try:
            self.root: Node | None = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise InventoryError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from exc
        except yaml.YAMLError as exc:
            raise InventoryError(f"invalid YAML: {exc}", path=path) from exc

    @staticmethod
    def line(node: Node) -> int:
        return node.start_mark.line + 1

    def error(self, message: str, node: Node) -> InventoryError:
        return InventoryError(message, path=self.path, line=self.line(node))

    def value(self, node: Node) -> Any:
        if node.tag == "!vault":
            raise self.error("vaulted values (!vault) are not supported; set this value another way", node)
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.error(f"invalid YAML value: {exc}", node) from exc

    def is_null(self, node: Node | None) -> bool:
        return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")

    def is_map(self, node: Node | None) -> bool:
        return isinstance(node, yaml.MappingNode)

    def items(self, node: Node) -> Iterator[tuple[Any, Node, Node]]:
        """(constructed key, key node, value node) of a mapping node, merge keys applied."""
        self._loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            yield self.value(key_node), key_node, value_node

    def keys(self, node: Node) -> list[Any]:
        return [k for k, _, _ in self.items(node)]
