"""The manifest steps the flows share: edit `services.*` in place, and the files a run renders from it."""
from __future__ import annotations

from ..manifest.edit import set_services
from ..render import COMPOSE_FILE, NGINX_FILE, PROMETHEUS_FILE
from ..results import Reporter, StepResult
from . import render_step
from .context import Project, Target
from .engine_choice import EngineChoice


def config_files(project: Project, target: Target, choice: EngineChoice, **kwargs) -> dict[str, str]:
    """The compose file, nginx.conf (and prometheus.yml); the traffic split only before the first deploy (nginx needs one).

    Afterwards the split changes only through `traffic.switch`, in step with the containers.
    """
    files = render_step.rendered_files(project, target, choice, **kwargs)
    return {name: text for name, text in files.items()
            if name in (COMPOSE_FILE, NGINX_FILE, PROMETHEUS_FILE) or target.workspace.read(name) is None}


def use(project: Project, target: Target, values: dict[str, str], reporter: Reporter) -> Project:
    """Edit the manifest's services fields and make project and target see the new values."""
    changes = set_services(project.manifest_path, values)
    project = project.reload()
    target.manifest = target.manifest_from(project)
    said = ", ".join(f"services.{k}: {old} → {new}" for k, (old, new) in changes.items())
    reporter.record(StepResult("manifest", target.name, "changed" if changes else "ok", said or "already up to date"))
    return project
