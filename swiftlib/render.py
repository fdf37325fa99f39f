"""Rendering docker-compose.yml, nginx.conf (and prometheus.yml) from the manifest (pure).

Jinja2 with ``StrictUndefined``: a template that names a missing value fails loudly.
Values reach YAML and nginx only through the quoting filters below, never raw, and
the output depends on nothing but the manifest, so re-rendering is byte-identical.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from .errors import SwiftDeployError
from .manifest.model import Manifest
from .tracks import SERVICES, TRAFFIC_FILE, Split, running_tracks, split_clients_lines, split_for

COMPOSE_FILE = "docker-compose.yml"
NGINX_FILE = "nginx.conf"
PROMETHEUS_FILE = "prometheus.yml"  # only with metrics.source: prometheus
# nginx.conf and prometheus.yml first: the compose file carries their digests, so a changed
# config recreates its container.
TEMPLATES = {NGINX_FILE: "nginx.conf.j2", TRAFFIC_FILE: "traffic.conf.j2", PROMETHEUS_FILE: "prometheus.yml.j2",
             COMPOSE_FILE: "docker-compose.yml.j2"}


@dataclass(frozen=True)
class Healthcheck:
    """A container's healthcheck timing in whole seconds: the templates state it from here, so a value
    derived from it (how long a new container may take to turn healthy) cannot drift from it."""

    interval: int
    timeout: int
    retries: int
    start_period: int = 0


APP_HEALTHCHECK = Healthcheck(interval=2, timeout=2, retries=15, start_period=2)
NGINX_HEALTHCHECK = Healthcheck(interval=2, timeout=2, retries=15)


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


def render_context(manifest: Manifest, *, include_opa: bool, bridge: bool = False,
                   split: Split | None = None, secrets_label: str = "") -> dict[str, Any]:
    split = split if split is not None else split_for(manifest)
    return {
        "services": manifest.services,
        "nginx": manifest.nginx,
        "opa": manifest.opa,
        "network": manifest.network,
        "logs_volume": manifest.logs_volume,
        "deploy": manifest.deploy,
        "limits": manifest.limits,
        # Names only: the values never reach a rendered file; the label changes when one does.
        "secrets": [secret.name for secret in manifest.secrets],
        "secrets_label": secrets_label,
        # Below 1024 a port needs NET_BIND_SERVICE, the one capability nginx keeps only then.
        "nginx_low_port": min(manifest.nginx.port, manifest.nginx.admin_port,
                              manifest.tls.port if manifest.tls else 65535) < 1024,
        "tls": manifest.tls,
        # The redirect names the HTTPS port unless it is the default one.
        "tls_port_suffix": "" if not manifest.tls or manifest.tls.port == 443 else f":{manifest.tls.port}",
        "include_opa": include_opa,
        "include_prometheus": manifest.metrics.uses_prometheus,
        "prometheus": manifest.metrics.prometheus,
        "tracks": running_tracks(manifest, bridge=bridge),
        "track_services": list(SERVICES.items()),
        "shares": split_clients_lines(split),
        "split_line": ", ".join(f"{t}={p}" for t, p in split.items()),
        "app_healthcheck": APP_HEALTHCHECK,
        "nginx_healthcheck": NGINX_HEALTHCHECK,
    }


def render_all(manifest: Manifest, templates_dir: Path, *, include_opa: bool, bridge: bool = False,
               split: Split | None = None, secrets_label: str = "") -> dict[str, str]:
    """File name -> rendered text, for every generated file.

    ``bridge`` adds the `next` track (a version change of stable in progress); ``split``
    overrides the manifest's traffic split (a transition's intermediate step); ``secrets_label``
    is the keyed fingerprint of the secrets' values (the app tracks are recreated when it changes).
    """
    env = make_environment(templates_dir)
    context = render_context(manifest, include_opa=include_opa, bridge=bridge, split=split,
                             secrets_label=secrets_label)
    out: dict[str, str] = {}
    for name, template in TEMPLATES.items():
        if name == PROMETHEUS_FILE and not manifest.metrics.uses_prometheus:
            continue
        if name == COMPOSE_FILE:
            context["nginx_conf_sha256"] = _digest(out[NGINX_FILE])
            context["prometheus_conf_sha256"] = _digest(out.get(PROMETHEUS_FILE, ""))
        try:
            out[name] = env.get_template(template).render(context)
        except TemplateError as exc:
            raise SwiftDeployError(f"templates/{template}: {exc}") from exc
    order = (COMPOSE_FILE, NGINX_FILE, TRAFFIC_FILE, PROMETHEUS_FILE)  # the order users read them in
    return {name: out[name] for name in order if name in out}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render_traffic(manifest: Manifest, templates_dir: Path, split: Split) -> str:
    """The traffic file for ``split`` (a transition's step, or the manifest's own split)."""
    context = render_context(manifest, include_opa=False, split=split)
    return make_environment(templates_dir).get_template(TEMPLATES[TRAFFIC_FILE]).render(context)


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
