"""`inv bootstrap --hosts ...|--inventory FILE`: fresh Debian 12 servers made deployable over SSH.

Each host runs, as root (``remote.become``: the login itself, or passwordless ``sudo -n``), the
server steps of a local bootstrap (system libraries, Docker engine, compose v2), then
``docker access`` (a non-root login joins the docker group, so deploys need no sudo). No image
is built there: a deploy streams the images from this machine (``docker save | ssh | docker
load``). Packages come from the host's own apt sources, whatever mirror it is configured with.

The hosts are opened, batched and run in parallel by ``lifecycle.fleet.run_fleet`` like every
fleet command (no deploy lock, nothing shipped, not audited, as the local bootstrap). Each step
is one Ansible-style line per host as it ends (``bootstrap: docker engine``), a failed step
names itself and stops that host only; the PLAY RECAP and the exit code follow (2 for a login
that is neither root nor allowed sudo, 6 unreachable, 1 a command failed).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import SwiftDeployError
from ..lifecycle.context import Project, Target
from ..lifecycle.fleet import FleetOptions, TargetSpec, run_fleet
from ..remote.become import as_root
from ..results import Reporter, StepResult, failed
from . import server_steps
from .engine import ensure_docker_group
from .steps import Apt, Step

TASK = "bootstrap: {}"
ROOT_STEP = "root access"
IMAGES_NOTE = ("images are not built on remote hosts: `inv deploy` streams the ones a host lacks from this "
               "machine (docker save | ssh | docker load), so build them here with `inv bootstrap`")


def on_hosts(project: Project, specs: Sequence[TargetSpec], reporter: Reporter, opts: FleetOptions, *,
             say: Callable[[str], None] | None = None, local_ctx: Any = None) -> None:
    """The server steps on every host of ``specs``; results and exit code in ``reporter``."""
    run_fleet(project, list(specs), _acting(say), reporter, opts, local_ctx=local_ctx, prepare=False)
    if any(r.host and r.status in ("ok", "changed") for r in reporter.results):
        reporter.note(IMAGES_NOTE)


def _acting(say: Callable[[str], None] | None):
    def act(project: Project, target: Target, reporter: Reporter) -> None:
        name = target.name
        progress = (lambda text: say(f"  ... [{name}] {text}")) if say else (lambda text: None)
        root = _step(reporter, name, ROOT_STEP, lambda: as_root(target.host))
        reporter.record(StepResult(TASK.format(ROOT_STEP), name, "ok", root.describe()))
        steps = server_steps(root.host, progress, apt=Apt(root.host, progress))
        steps.append(("docker access", lambda: ensure_docker_group(root.host, root.login, progress)))
        for step_name, run in steps:
            step: Step = _step(reporter, name, step_name, run)
            reporter.record(StepResult(TASK.format(step.name), name, step.status,
                                       f"{step.message} ({step.seconds:.1f}s)"))

    return act


def _step(reporter: Reporter, host: str, step_name: str, run: Callable[[], Any]) -> Any:
    """``run()``; a SwiftDeployError is recorded as that step's failure on ``host``, then re-raised."""
    try:
        return run()
    except SwiftDeployError as exc:
        reporter.record(failed(TASK.format(step_name), host, exc))
        raise
