"""Start, check and remove one app track (stable, canary or next) on a target."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from ..errors import HealthCheckFailed
from ..render import COMPOSE_FILE
from ..results import Reporter, StepResult
from ..tracks import track
from . import compose_steps, secret_files
from ..observe import canary_window
from .context import Options, Project, Target
from .health import wait_track_healthy

def container_state(target: Target, name: str) -> str:
    """`running healthy`, `running starting`, `exited none`, or `absent`."""
    return target.runtime.state(name)


def is_running(target: Target, track_name: str) -> bool:
    return container_state(target, track(target.manifest, track_name).container_name).startswith("running")


def would_recreate(target: Target, track_name: str, compose_text: str | None = None) -> bool:
    """True when the track runs but the compose file on the host (or ``compose_text``, the one a run
    would write) describes it differently."""
    return running_and_would_recreate(target, track_name, compose_text)[1]


def running_and_would_recreate(target: Target, track_name: str, compose_text: str | None = None) -> tuple[bool, bool]:
    """Whether the track runs, and whether it would be recreated (see `would_recreate`)."""
    return look(target, track_name, compose_text)[0]


def look(target: Target, track_name: str, compose_text: str | None = None, *,
         beside: Sequence[str] = ()) -> tuple[tuple[bool, bool], dict[str, bool]]:
    """`running_and_would_recreate` for ``track_name``, and whether each track of ``beside`` runs. The
    containers are read in one call (state and labels), beside compose's config hash and the images'
    IDs: each is a docker call, a round trip on a remote host."""
    spec = track(target.manifest, track_name)
    others = {name: track(target.manifest, name).container_name for name in beside}
    names = [spec.container_name, *others.values()]
    with ThreadPoolExecutor(max_workers=1) as pool:
        wanted = (pool.submit(target.runtime.config_hashes, spec.service, compose_text)
                  if compose_text is not None or target.workspace.read(COMPOSE_FILE) is not None else None)
        looks = target.runtime.looks(names)
        state, identity = looks[spec.container_name]
        running = state.startswith("running")
        hashed = wanted.result().get(spec.service) if wanted is not None and running else None
    recreate = hashed is not None and hashed.strip() != identity
    return (running, recreate), {name: looks[container][0].startswith("running") for name, container in others.items()}


def start(project: Project, target: Target, reporter: Reporter, track_name: str, opts: Options, *,
          compose_text: str | None = None, observed: tuple[bool, bool] | None = None) -> StepResult:
    """Create (or update) the track's container alone and wait until it answers healthy.

    ``compose_text`` (check mode): the compose file the run would write, which decides whether the
    running track would be recreated. ``observed``: `running_and_would_recreate`'s answer, when the
    caller has just asked it."""
    spec = track(target.manifest, track_name)
    running, recreate = observed or running_and_would_recreate(target, track_name, compose_text)
    changes = not running or recreate
    if opts.check:
        said = (f"would {'recreate' if running else 'start'} {spec.container_name} ({spec.image}, {spec.version})"
                if changes else f"{spec.container_name} already running")
        return reporter.record(StepResult(f"start {track_name}", target.name, "changed" if changes else "ok",
                                          said, {"check": True}))
    if changes:
        canary_window.forget(target, track_name)
    secret_files.place(project, target, reporter, opts)  # the track mounts them
    compose_steps.restart_stopped_nginx(project, target, reporter, opts)  # the track's health is read through it
    if changes:  # running, from this very config and image: `up` of the service would find nothing to do
        target.runtime.start_service(spec.service)
    try:
        wait_track_healthy(target, spec)
    except HealthCheckFailed as exc:
        exc.host = target.name
        reporter.record(StepResult(f"start {track_name}", target.name, "failed", exc.message, {}, exc.exit_code))
        raise
    data = {"track": track_name, "container": spec.container_name, "image": spec.image, "version": spec.version}
    if changes:
        project.audit.append("track_started", data, host=target.name)
    return reporter.record(StepResult(f"start {track_name}", target.name, "changed" if changes else "ok",
                                      f"{spec.container_name} healthy ({spec.mode}, version {spec.version})", data))


def remove(project: Project, target: Target, reporter: Reporter, track_name: str, opts: Options) -> StepResult | None:
    """Stop (gracefully) and remove the track's container; None when there was none."""
    name = track(target.manifest, track_name).container_name
    if opts.check:
        if container_state(target, name) == "absent":
            return None
        return reporter.record(StepResult(f"remove {track_name}", target.name, "changed", f"would remove {name}"))
    if not target.runtime.remove(name):  # the runtime tells an absent one from its own answer: no read first
        return None
    canary_window.forget(target, track_name)
    project.audit.append("track_removed", {"track": track_name, "container": name}, host=target.name)
    return reporter.record(StepResult(f"remove {track_name}", target.name, "changed", f"{name} drained and removed"))
