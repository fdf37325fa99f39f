"""Edit `services.*` scalars of manifest.yaml in place (promotion, rollback).

Only the named scalars change; comments, order, quoting, line endings and BOM survive.
The edited text is re-parsed and must equal the old document with exactly those values
changed, and must still validate, before an atomic replace: a wrong or interrupted edit
never leaves a broken manifest.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from ..errors import ManifestError
from ..fileio import atomic_write_text
from .model import build_manifest
from .load import parse_manifest_text, read_manifest_text, replace_scalar

EDITABLE = ("mode", "image", "version")


def writable_target(path: Path) -> Path:
    """The file an edit of ``path`` rewrites (a symbolic link's target), if it can be rewritten now.

    A symlinked manifest is edited where it points, so the link stays a link. Raises
    ManifestError (exit 2) when the file or its directory cannot be written (read-only,
    immutable): asked before a promotion or rollback changes anything, so none stops half way.
    """
    real = Path(os.path.realpath(path))
    if not real.is_file():
        raise ManifestError("is not a regular file (or a link to one); promote and rollback rewrite it",
                            path=str(path))
    for what, where in (("the file", real), ("its directory", real.parent)):
        if not os.access(where, os.W_OK):
            via = f" (through the link to {real})" if real != Path(os.path.abspath(path)) else ""
            raise ManifestError(f"cannot be rewritten{via}: {what} is read-only or immutable; promote and rollback "
                                "record the new mode and version there, so nothing was changed", path=str(path))
    return real


def set_services(path: Path, values: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Set ``services.<key>`` for each key; returns {key: (old, new)} for the values that changed."""
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise ManifestError(f"services: cannot edit {', '.join(unknown)} in place", path=str(path))
    text, has_bom = read_manifest_text(path)
    before = parse_manifest_text(text, path=str(path))
    if not isinstance(before, Mapping) or not isinstance(before.get("services"), Mapping):
        raise ManifestError("services: expected a mapping of fields; fix the file first", path=str(path))
    services = before["services"]
    changes = {k: (services.get(k), v) for k, v in values.items() if services.get(k) != v}
    if not changes:
        return {}
    expected = dict(before, services=dict(services, **{k: new for k, (_, new) in changes.items()}))
    try:
        build_manifest(expected)  # checked first: a stray quote or newline must never reach the edit
        new_text = text
        for key, (_, new) in changes.items():
            new_text = _replace(new_text, key, new)
    except ManifestError as exc:
        raise ManifestError(exc.problems, path=str(path)) from None
    if _parsed(new_text) != expected:
        fields = ", ".join(f"services.{k}" for k in changes)
        raise ManifestError(f"{fields}: in-place edit would change other fields; edit the file by hand", path=str(path))
    target = writable_target(path)
    try:
        atomic_write_text(target, ("\ufeff" if has_bom else "") + new_text)
    except OSError as exc:
        raise ManifestError(f"cannot be rewritten ({exc.strerror}); it is unchanged", path=str(path)) from exc
    return changes


def _parsed(text: str):
    try:
        return parse_manifest_text(text, path="")
    except ManifestError:
        return None  # the edit broke the YAML; the file on disk is untouched


def _replace(text: str, key: str, value: str) -> str:
    """Replace one services scalar; a plain scalar that YAML would read as a number gets quotes."""
    edited = replace_scalar(text, ("services", key), value)
    doc = _parsed(edited)
    if isinstance(doc, Mapping) and isinstance(doc.get("services"), Mapping) and doc["services"].get(key) == value:
        return edited
    return replace_scalar(text, ("services", key), json.dumps(value))
