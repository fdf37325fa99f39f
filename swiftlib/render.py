"""Rendering docker-compose.yml and nginx.conf from the manifest (pure).

Jinja2 with ``StrictUndefined``: a template that names a missing value fails loudly.
Values reach YAML and nginx only through the quoting filters below, never raw, and
the output depends on nothing but the manifest, so re-rendering is byte-identical.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from .errors import SwiftDeployError
from .manifest import Manifest

COMPOSE_FILE = "docker-compose.yml"
NGINX_FILE = "nginx.conf"
TEMPLATES = {COMPOSE_FILE: "docker-compose.yml.j2", NGINX_FILE: "nginx.conf.j2"}


def yaml_str(value: Any) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def nginx_str(value: Any) -> str:
    """An nginx single-quoted string; '$' would start a variable, so it is refused."""
    text = str(value)
    if "$" in text:
        raise SwiftDeployError(f"refusing to place {text!r} in nginx.conf: '$' would be read as a variable")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def nginx_json(value: Any) -> str:
    """A JSON document as an nginx string literal (for `return CODE '...'`)."""
    return nginx_str(json.dumps(value, separators=(",", ":"), ensure_ascii=True))


def make_environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # outputs are YAML and nginx, escaped by the filters above
    )
    env.filters.update(yaml_str=yaml_str, nginx_str=nginx_str, nginx_json=nginx_json)
    return env


def render_context(manifest: Manifest, *, include_opa: bool) -> dict[str, Any]:
    return {
        "services": manifest.services,
        "nginx": manifest.nginx,
        "opa": manifest.opa,
        "network": manifest.network,
        "logs_volume": manifest.logs_volume,
        "deploy": manifest.deploy,
        "include_opa": include_opa,
    }


def render_all(manifest: Manifest, templates_dir: Path, *, include_opa: bool) -> dict[str, str]:
    """File name -> rendered text, for every generated file."""
    env = make_environment(templates_dir)
    context = render_context(manifest, include_opa=include_opa)
    out: dict[str, str] = {}
    for name, template in TEMPLATES.items():
        try:
            out[name] = env.get_template(template).render(context)
        except TemplateError as exc:
            raise SwiftDeployError(f"templates/{template}: {exc}") from exc
    return out


@dataclass(frozen=True)
class FileChange:
    """What rendering would do to one file: status is 'ok' (same) or 'changed'."""

    name: str
    status: str
    diff: str


def compare(name: str, old: str | None, new: str) -> FileChange:
    if old == new:
        return FileChange(name, "ok", "")
    diff = "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{name} (current)" if old is not None else "/dev/null",
            tofile=f"{name} (rendered)",
        )
    )
    return FileChange(name, "changed", diff)
