"""Reading and editing manifest.yaml on disk.

Reading goes through ``fileio.read_regular_text``: the manifest must be a regular
UTF-8 file (a BOM is accepted) of at most ``MAX_MANIFEST_BYTES`` (1 MiB; real ones
are a few KiB), so a directory, FIFO, device or huge file is refused without
blocking or reading it all. A symlinked manifest may point only inside the
directory it is named in (the project): error messages echo the file's values and
keys by design (``nginx.port: expected ..., got "80a"``), so a link to /etc/shadow
is refused instead of being parsed and quoted. Callers must pass the path as the
user named it: a path resolved beforehand has no link left to check.

Parsing is PyYAML's safe loader, made stricter, each refusal a ManifestError with
line and column (exit 2), without the snippet of surrounding lines PyYAML prints:

- duplicate keys are refused instead of keeping the last one;
- nesting deeper than ``MAX_DEPTH`` (32) levels is refused (the schema needs 4;
  without a limit 1 KiB of ``[`` exhausts Python's recursion);
- keys must be scalars: a complex key (``? [a, b]``, ``{a: 1}: x``) is refused;
- merge keys (``<<: *defaults``) and aliases (``*name``) are refused. Merge keys are
  YAML 1.1 only (gone in 1.2), hide where a value comes from, let a later key
  silently override a merged one (what duplicate-key refusal exists to prevent),
  and the in-place edit of ``services.mode`` could land in shared anchored text.
  Aliases can expand exponentially (a "billion laughs" file is a few hundred
  bytes) or refer to themselves. A manifest is short enough to write out in full;
  an anchor (``&name``) alone is harmless and allowed;
- integers and floats follow YAML 1.2's forms, not PyYAML's YAML 1.1 ones:
  sexagesimal numbers (``2:14:0``, 1.1 reads 8040) and leading-zero octal
  (``0443``, 1.1 reads 291) stay strings, so the field validator reports them
  instead of a silently different number. Booleans stay YAML 1.1 (``no`` is false,
  and the validator says so: ``expected one of no, ..., got false``).

Editing (``set_mode``) rewrites only the one scalar that changes, so the user's
comments, key order, quoting, line endings and BOM survive byte for byte; the
result is re-parsed and checked before an atomic replace, so an interrupted or
wrong edit never leaves a broken manifest.
"""
from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import ManifestError
from ..fileio import MIB, UnreadableFile, atomic_write_text, read_regular_text
from .checks import describe
from .model import MODES, Manifest, build_manifest

MAX_MANIFEST_BYTES = MIB
MAX_DEPTH = 32
_INT, _FLOAT, _MERGE = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "merge"))


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with the refusals listed in the module docstring."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(index, yaml.ScalarNode) and index.tag == _MERGE:  # composing the value of a `<<` key
            raise yaml.composer.ComposerError(
                None, None, "merge keys (<<) are not supported; write the fields out in full", index.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not supported; write the value out in full", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep; a manifest needs a few", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}  # key -> line of its first occurrence
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
            raise yaml.constructor.ConstructorError(
                None, None, f"{kind} cannot be a key; keys are field names", key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key]}); keep only one", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Numbers as YAML 1.2 writes them: PyYAML's YAML 1.1 resolvers without the sexagesimal and 0-octal forms.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
                        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                        |[-+]?\.(?:inf|Inf|INF)
                        |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


def read_manifest_text(path: Path) -> tuple[str, bool]:
    """The manifest's text and whether it started with a UTF-8 BOM (see the module docstring)."""
    try:
        text = read_regular_text(path, MAX_MANIFEST_BYTES, "a manifest",
                                 within=os.path.dirname(os.path.abspath(path)))
    except FileNotFoundError:
        raise ManifestError("file not found; create it (see README) or pass --manifest PATH", path=str(path)) from None
    except UnreadableFile as exc:
        raise ManifestError(exc.problem, path=str(path)) from exc
    has_bom = text.startswith("\ufeff")
    return (text[1:] if has_bom else text), has_bom


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def parse_manifest_text(text: str, *, path: str) -> Any:
    """Parse YAML text into plain data; errors give line/column and never quote the file."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        why = exc.problem or exc.context or "syntax error"
        raise ManifestError(f"{_where(mark)}invalid YAML: {why}", path=path) from exc
    except yaml.reader.ReaderError as exc:  # a control character; position counts characters
        before = text[: exc.position]
        where = f"line {before.count(chr(10)) + 1}, column {exc.position - before.rfind(chr(10))}: "
        raise ManifestError(f"{where}invalid YAML: character #x{exc.character:04x} is not allowed", path=path) from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {exc}", path=path) from exc


def load_raw(path: Path) -> Any:
    text, _ = read_manifest_text(path)
    return parse_manifest_text(text, path=str(path))


def load_manifest(path: Path, *, overrides: Mapping[str, Any] | None = None) -> Manifest:
    """Read, parse and validate the manifest file (the only way the CLI gets a Manifest)."""
    raw = load_raw(path)
    try:
        return build_manifest(raw, overrides=overrides)
    except ManifestError as exc:
        raise ManifestError(exc.problems, path=str(path)) from None


# A quoted scalar, or a plain one; the plain form stops at flow indicators so that
# `services: {mode: stable, ...}` edits `stable`, not `stable,`.
_SCALAR = re.compile(r"""^(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#,\[\]{}]+)""")


def load_editor() -> None:
    """Import what `replace_scalar` needs (about 10 ms), ahead of an edit a run knows is coming."""
    importlib.import_module("ruamel.yaml")


def replace_scalar(text: str, key_path: tuple[str, ...], new_value: str) -> str:
    """Return ``text`` with the plain string scalar at ``key_path`` replaced, all else untouched."""
    # ruamel is only needed to locate the scalar; importing it lazily keeps every other task's start-up fast.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError as RuamelError

    try:
        doc = YAML(typ="rt").load(text)
        node = doc
        for part in key_path[:-1]:
            node = node[part]
        line, col = node.lc.value(key_path[-1])
    except (RuamelError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"{'.'.join(key_path)}: cannot locate the field to edit ({exc})") from exc
    lines = text.splitlines(keepends=True)
    target = lines[line]
    match = _SCALAR.match(target[col:])
    if not match:
        raise ManifestError(f"{'.'.join(key_path)}: cannot edit this value in place (line {line + 1})")
    old = match.group(0)
    quote = old[0] if old[:1] in ("'", '"') else ""
    lines[line] = target[:col] + f"{quote}{new_value}{quote}" + target[col + len(old):]
    return "".join(lines)


def set_mode(path: Path, mode: str) -> bool:
    """Set ``services.mode`` in the file. Returns False when it already had that mode."""
    if mode not in MODES:  # checked first: a stray quote or newline must never reach the edit
        raise ManifestError(f"services.mode: expected one of {', '.join(MODES)}, got {describe(mode)}", path=str(path))
    text, has_bom = read_manifest_text(path)
    before = parse_manifest_text(text, path=str(path))
    if not isinstance(before, Mapping) or not isinstance(before.get("services"), Mapping):
        raise ManifestError("services: expected a mapping of fields; fix the file before promoting", path=str(path))
    if before["services"].get("mode") == mode:
        return False
    try:
        new_text = replace_scalar(text, ("services", "mode"), mode)
    except ManifestError as exc:
        raise ManifestError(exc.problems, path=str(path)) from exc
    try:
        after = parse_manifest_text(new_text, path=str(path))
    except ManifestError:
        after = None  # the edit itself broke the YAML; the file on disk is untouched
    expected = dict(before, services=dict(before["services"], mode=mode))
    if after != expected:  # the edit must change that one value and nothing else
        raise ManifestError("services.mode: in-place edit would change other fields; edit the file by hand", path=str(path))
    try:
        build_manifest(after)
    except ManifestError as exc:
        raise ManifestError(exc.problems, path=str(path)) from None
    atomic_write_text(path, ("\ufeff" if has_bom else "") + new_text)
    return True
