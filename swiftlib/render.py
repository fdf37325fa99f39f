"""Rendering docker-compose.yml, nginx.conf (and prometheus.yml) from the manifest (pure).

Jinja2 with ``StrictUndefined``: a template that names a missing value fails loudly.
Values reach YAML and nginx only through the quoting filters below, never raw, and
the output depends on nothing but the manifest, so re-rendering is byte-identical.

With ``deploy.runtime: swarm`` the file written as docker-compose.yml is a stack file for
`docker stack deploy` (``docker-stack.yml.j2``); ``compose_template`` is the one place that
chooses. nginx.conf and the traffic file are the same for both runtimes.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SwiftDeployError
from .manifest.model import SWARM_SECRET_FINGERPRINT, Healthcheck, Manifest
from .tracks import SERVICES, TRAFFIC_FILE, Split, running_tracks, split_clients_lines, split_for

if TYPE_CHECKING:
    from jinja2 import Environment

COMPOSE_FILE = "docker-compose.yml"
NGINX_FILE = "nginx.conf"
PROMETHEUS_FILE = "prometheus.yml"  # only with metrics.source: prometheus
# nginx.conf and prometheus.yml first: the compose file carries their digests, so a changed
# config recreates its container.
TEMPLATES = {NGINX_FILE: "nginx.conf.j2", TRAFFIC_FILE: "traffic.conf.j2", PROMETHEUS_FILE: "prometheus.yml.j2",
             COMPOSE_FILE: "docker-compose.yml.j2"}
STACK_TEMPLATE = "docker-stack.yml.j2"  # COMPOSE_FILE's template with deploy.runtime: swarm


def compose_template(manifest: Manifest) -> str:
    """The template COMPOSE_FILE is rendered from: a compose file, or a stack file on a swarm."""
    return STACK_TEMPLATE if manifest.deploy.uses_swarm else TEMPLATES[COMPOSE_FILE]


NGINX_HEALTHCHECK = Healthcheck(interval=2, timeout=2, retries=15)

# services.restart_policy as a swarm restart condition: swarm has no unless-stopped (a service is
# stopped by scaling it down or removing it, never by stopping its containers).
SWARM_RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def swarm_secret_name(project_name: str, name: str, secrets_label: str) -> str:
    """The swarm secret holding ``name``'s value: swarm secrets are immutable, so the name carries the
    values' fingerprint and a changed value is a new secret (the stack file's ``secrets.*.name``)."""
    return f"{project_name}_{name}_{secrets_label[:SWARM_SECRET_FINGERPRINT]}"


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


@functools.lru_cache(maxsize=8)
def make_environment(templates_dir: Path) -> "Environment":
    """One environment per templates directory and process: each template is compiled once (jinja2
    compiles a template at its first load, about 0.1 s for all of them; it reloads one that changed).
    Jinja2 is imported here, at the first render: a command that renders nothing (or, as a promotion,
    not before its canary window, whose wait renders first) does not start up the slower for it."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # outputs are YAML and nginx, escaped by the filters above
    )
    env.filters.update(yaml_str=yaml_str, nginx_str=nginx_str, nginx_json=nginx_json)
    return env


def render_context(manifest: Manifest, *, include_opa: bool, bridge: bool = False,
                   split: Split | None = None, secrets_label: str = "", project_dir: str = ".") -> dict[str, Any]:
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
        "app_healthcheck": manifest.services.healthcheck,
        "nginx_healthcheck": NGINX_HEALTHCHECK,
        # The stack file only (compose keeps paths relative to its project directory):
        # the project directory on the nodes, the same path on every node; bind mounts start with it.
        "project_dir": posixpath.normpath(project_dir),
        "swarm": manifest.deploy.swarm,
        "replicas": {"stable": manifest.services.replicas, "canary": manifest.canary.replicas,
                     "next": manifest.services.replicas},
        "restart_condition": SWARM_RESTART[manifest.services.restart_policy],
        # An update (or rollback) watches each new task this long: the app's healthcheck has settled by then.
        "update_monitor": f"{manifest.services.healthcheck.settled_seconds}s",
        "swarm_secrets": {secret.name: swarm_secret_name(manifest.deploy.project_name, secret.name, secrets_label)
                          for secret in manifest.secrets},
    }


def render_all(manifest: Manifest, templates_dir: Path, *, include_opa: bool, bridge: bool = False,
               split: Split | None = None, secrets_label: str = "", project_dir: str = ".") -> dict[str, str]:
    """File name -> rendered text, for every generated file.

    ``bridge`` adds the `next` track (a version change of stable in progress); ``split``
    overrides the manifest's traffic split (a transition's intermediate step); ``secrets_label``
    is the keyed fingerprint of the secrets' values (the app tracks are recreated when it changes);
    ``project_dir`` is the absolute project directory on the nodes (the stack file's bind mounts;
    compose ignores it).
    """
    if manifest.deploy.uses_swarm and manifest.secrets and not secrets_label:
        raise SwiftDeployError("a stack file with secrets needs their fingerprint (secrets_label): "
                               "each swarm secret is named by it")
    split_items = tuple(sorted(split.items())) if split is not None else None
    return dict(_rendered(manifest, templates_dir, _templates_stamp(templates_dir), include_opa, bridge, split_items,
                          secrets_label, project_dir))


def _templates_stamp(templates_dir: Path) -> tuple:
    """What tells an edited template apart: each file's name, size and modification time."""
    try:
        return tuple(sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                            for entry in templates_dir.iterdir() if entry.is_file()))
    except OSError:
        return ()


@functools.lru_cache(maxsize=16)
def _rendered(manifest: Manifest, templates_dir: Path, _stamp: tuple, include_opa: bool, bridge: bool,
              split_items: tuple | None, secrets_label: str, project_dir: str) -> dict[str, str]:
    """render_all's work, remembered per process: a run renders the same files for its pre-flight,
    its render step and its decisions (the caller copies the answer)."""
    split = dict(split_items) if split_items is not None else None
    from jinja2 import TemplateError  # loaded by make_environment

    env = make_environment(templates_dir)
    context = render_context(manifest, include_opa=include_opa, bridge=bridge, split=split,
                             secrets_label=secrets_label, project_dir=project_dir)
    out: dict[str, str] = {}
    for name, template in TEMPLATES.items():
        if name == PROMETHEUS_FILE and not manifest.metrics.uses_prometheus:
            continue
        if name == COMPOSE_FILE:
            template = compose_template(manifest)
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
