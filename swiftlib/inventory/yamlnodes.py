"""YAML loading that keeps line numbers, shared by the two YAML inventory formats.

We walk PyYAML's node graph for the structure (so every error can name the line of
the offending key) and construct plain Python values only for variable values.
PyYAML's SafeLoader resolves scalars like Ansible's loader does (YAML 1.1: yes/no
are booleans, 0x10 is 16); anchors, aliases and merge keys (`<<: *defaults`) work.

Stricter than Ansible, each refusal an InventoryError naming the line (limits.py):
- a duplicate key in one mapping (Ansible keeps the last one with a warning);
  keys merged in with `<<` may be overridden, as YAML intends;
- nesting deeper than MAX_YAML_DEPTH levels;
- more than MAX_YAML_NODES nodes once every alias is expanded (an alias counts as
  a copy of what it names), which refuses "billion laughs" alias bombs while
  they are being read, before anything walks or prints the expanded values;
- an alias inside the value it names (`&a [*a]`), which never ends.
"""
from __future__ import annotations

from typing import Any, Iterator

import yaml

from swiftlib.errors import InventoryError
from swiftlib.inventory.limits import MAX_YAML_DEPTH, MAX_YAML_NODES

Node = yaml.Node
_MERGE = "tag:yaml.org,2002:merge"


class RefusedYAML(InventoryError):
    """Well-formed YAML that SwiftDeploy refuses (see the module docstring)."""


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that composes within the limits in the module docstring."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0  # nodes so far, each alias counted as the nodes it names
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size

    def _count(self, n: int, mark: yaml.Mark) -> None:
        self._expanded += n
        if self._expanded > MAX_YAML_NODES:
            raise _Refused(f"more than {MAX_YAML_NODES:,} YAML nodes once aliases are expanded "
                           "(MAX_YAML_NODES): aliases of aliases multiply like an alias bomb "
                           "(\"billion laughs\"); write the values out instead", mark)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # else PyYAML reports the undefined alias
                if id(target) not in self._sizes:
                    raise _Refused(f"alias *{event.anchor} is used inside the value it names, "
                                   "so it never ends", event.start_mark)
                self._count(self._sizes[id(target)], event.start_mark)
            return super().compose_node(parent, index)
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused(f"nested more than {MAX_YAML_DEPTH} levels deep (MAX_YAML_DEPTH)", event.start_mark)
        before = self._expanded
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._count(1, event.start_mark)
        if getattr(event, "anchor", None) is not None:
            self._sizes[id(node)] = self._expanded - before
        return node

    def compose_mapping_node(self, anchor: str | None) -> Node:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, int] = {}  # key -> line of its first occurrence
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue  # a complex key is refused where it is used; `<<` may repeat
            try:
                key = self.construct_object(key_node)
                duplicate = key in seen
            except (yaml.YAMLError, TypeError):
                continue  # not constructible or not hashable: reported where it is used
            if duplicate:
                raise _Refused(f"duplicate key {key!r} (first at line {seen[key]}); keep only one",
                               key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return node


class Doc:
    """One parsed YAML document: its root node and a constructor for values."""

    def __init__(self, text: str, path: str | None) -> None:
        self.path = path
        self._loader = _Loader(text)
        try:
            self.root: Node | None = self._loader.get_single_node()
        except _Refused as exc:
            raise RefusedYAML(exc.message, path=path, line=exc.mark.line + 1) from None
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
