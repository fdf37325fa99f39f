"""Reading and editing manifest.yaml on disk.

Loading accepts UTF-8 with or without a BOM, rejects duplicate keys and reports
YAML syntax errors with line and column. Editing (``set_mode``) rewrites only the
one scalar that changes, so the user's comments, key order, quoting, line endings
and BOM survive byte for byte; the result is re-parsed and checked before an
atomic replace, so an interrupted or wrong edit never leaves a broken manifest.
"""
from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ManifestError
from .fileio import atomic_write_text
from .checks import describe
from .manifest import MODES, Manifest, build_manifest


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}  # key -> line of its first occurrence
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key]}); keep only one", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_manifest_text(path: Path) -> tuple[str, bool]:
    """The manifest's text and whether it started with a UTF-8 BOM."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError("file not found; create it (see README) or pass --manifest PATH", path=str(path)) from None
    except OSError as exc:
        raise ManifestError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    has_bom = data.startswith(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8-sig"), has_bom
    except UnicodeDecodeError as exc:
        raise ManifestError(f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", path=str(path)) from exc


def parse_manifest_text(text: str, *, path: str) -> Any:
    """Parse YAML text into plain data, with line/column on syntax errors."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ManifestError(f"{where}invalid YAML: {exc.problem or exc}", path=path) from exc
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
