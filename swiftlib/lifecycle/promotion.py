"""A promotion past its gate, until it is complete: carried out, resumed, undone or recorded.

Before the first change the host's state records what stable was (``promotion``), so a
promotion stopped anywhere (Ctrl-C, a killed run, a dead container) can be finished by
`promote --mode stable` (the gate already allowed it) or undone by `rollback`; the record
goes when the promotion is complete.
"""
from __future__ import annotations

from ..errors import HealthCheckFailed, UsageError
from ..manifest.load import load_editor
from ..render import COMPOSE_FILE
from ..results import Reporter, StepResult
from ..tracks import only, track
from . import certificates, gates, health, render_step, track_steps, traffic
from .context import PROMOTION, Options, Project, Target
from .engine_choice import choose_engine
from .manifest_step import config_files, use


def refuse_over_unfinished_promotion(target: Target, reporter: Reporter) -> None:
    """A new canary must not start over a half-done promotion: the manifest may already name its version."""
    marker = target.unfinished_promotion()
    if marker:
        msg = (f"the promotion of {marker.get('version')} was interrupted and is unfinished; run "
               f"`inv promote --mode stable` to finish it, or `inv rollback` to go back to {marker.get('from_version')}")
        reporter.record(StepResult("canary", target.name, "failed", msg, {}, UsageError.exit_code))
        raise UsageError(msg, host=target.name)


def finish_promotion(project: Project, target: Target, reporter: Reporter, opts: Options) -> Project:
    """Make the canary's version stable without dropping a request, then remove the canary.

    Before the first change the host's state records what stable was (``promotion``), so an
    interrupted promotion can be finished (`promote --mode stable`) or undone (`rollback`)
    from wherever it stopped; the record goes when the promotion is complete.
    """
    state = target.read_state()
    current = state.get("mode") or target.manifest.services.mode
    canary = target.manifest.canary
    if opts.check:
        reporter.record(StepResult("promote", target.name, "changed",
                                   f"would make {canary.image} ({canary.version}) stable and remove the canary"))
        return project
    choice = choose_engine(target)
    marker = target.unfinished_promotion()
    if marker is None:
        marker = {"from_image": target.manifest.services.image, "from_version": target.manifest.services.version,
                  "image": canary.image, "version": canary.version}
        target.write_state(**{PROMOTION: marker})
    (stable_runs, recreate), others = track_steps.look(target, "stable", _promoted_compose(project, target, choice, marker),
                                                       beside=("canary",))
    # A canary of the very version stable runs changes nothing there: no request needs to move to the canary.
    if others["canary"] and (not stable_runs or recreate):
        traffic.switch(project, target, reporter, only("canary"), opts, why="the canary serves while stable is replaced")
    project = use(project, target, {"mode": "stable", "image": marker["image"], "version": marker["version"]}, reporter)
    render_step.render(project, target, reporter, choice, opts, config_files(project, target, choice))
    # Read again after the edit: a canary or stable that died meanwhile is seen (and stable started again).
    stable, others = track_steps.look(target, "stable", beside=("canary",))
    if not others["canary"] and all(stable):
        msg = (f"the canary no longer runs, so stable cannot become {marker['version']} without dropping requests; "
               f"run `inv rollback` to go back to {marker['from_version']}, then promote again")
        reporter.record(StepResult("promote", target.name, "failed", msg, {}, HealthCheckFailed.exit_code))
        raise HealthCheckFailed(msg, host=target.name)
    track_steps.start(project, target, reporter, "stable", opts, observed=stable)
    traffic.switch(project, target, reporter, only("stable"), opts, why="promoted")
    track_steps.remove(project, target, reporter, "canary", opts)
    health.health(target, reporter, expect_mode="stable", tls=certificates.client_check(project, target))
    target.write_state(mode="stable", weight=0, **{PROMOTION: None})
    project.audit.append("mode_change", {"from": current, "to": "stable", "engine": choice.engine,
                                         "version": marker["version"], "image": marker["image"]}, host=target.name)
    return project


def _promoted_compose(project: Project, target: Target, choice, marker: dict) -> str:
    """The compose file the promotion will write: the manifest in stable mode at the promoted version."""
    from dataclasses import replace

    m = target.manifest
    promoted = replace(m, services=replace(m.services, mode="stable", image=marker["image"], version=marker["version"]))
    return render_step.rendered_files(project, target, choice, manifest=promoted)[COMPOSE_FILE]


def warm_up(project: Project, target: Target) -> None:
    """The first work judging the canary and finishing its promotion need, done while the canary's window
    is waited out (`interrupt.sleep_after`): compile the embedded engine's canary policy (about 50 ms),
    ask compose for the promoted file's config hash (about 0.1 s locally, a round trip more over SSH), and
    load the template engine and the manifest editor's YAML library, which the run loads at its first
    render and its first edit (about 25 ms).

    Both are functions of files the run does not change (the compiled engine is kept per policy content,
    the hash per compose text), so after the window they are answered at once. Nothing else is kept: the
    containers' state and the images' IDs are read after the window, as before. Read-only; anything that
    fails here is asked again, and reported, after the window."""
    try:
        choice = choose_engine(target)
        gates.prepare_engine(project, choice, "canary")
        canary = target.manifest.canary
        compose_text = _promoted_compose(project, target, choice, {"image": canary.image, "version": canary.version})
        target.runtime.config_hashes(track(target.manifest, "stable").service, compose_text)
        load_editor()
    except Exception:  # noqa: BLE001 - a warm-up only: the promotion asks again and reports what fails
        pass


def complete_record(project: Project, target: Target, reporter: Reporter, marker: dict,
                               current: str) -> Project:
    """A promotion interrupted after it removed the canary is complete but for its record: no older
    track is left to go back to, so rollback records the promotion and says so."""
    stable = track(target.manifest, "stable")
    if target.manifest.services.version != marker.get("version") or not track_steps.is_running(target, "stable"):
        msg = (f"an interrupted promotion of {marker.get('version')} left no canary and stable is not running it; "
               "run `inv deploy` to bring stable up as the manifest says")
        reporter.record(StepResult("rollback", target.name, "failed", msg, {}, HealthCheckFailed.exit_code))
        raise HealthCheckFailed(msg, host=target.name)
    health.wait_track_healthy(target, stable)
    target.write_state(mode="stable", weight=0, **{PROMOTION: None})
    project.audit.append("mode_change", {"from": current, "to": "stable", "engine": choose_engine(target).engine,
                                         "version": marker["version"], "image": marker["image"],
                                         "completed_by": "rollback"}, host=target.name)
    reporter.record(StepResult("rollback", target.name, "ok",
                               f"nothing to roll back: the interrupted promotion had already made {marker['version']} "
                               f"stable and removed the canary; recorded it as complete (deploy "
                               f"{marker.get('from_version')} to go back)"))
    return project
