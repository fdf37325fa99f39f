"""Move public traffic between tracks without dropping a request.

Only to tracks that answer healthy; the split is applied through `nginx_include` (written,
`nginx -t`, graceful reload) and the call waits until every pre-reload worker is gone: from
then on no request is in flight to a track the split dropped, so that track can be stopped
(`drained`).
"""
from __future__ import annotations

from ..errors import HealthCheckFailed
from ..render import render_traffic
from ..results import Reporter, StepResult
from ..tracks import TRAFFIC_FILE, Split, describe, parse_split, track
from . import nginx_include
from .context import Options, Project, Target
from .compose_steps import restart_stopped_nginx
from .nginx_include import nginx_running
from .health import wait_track_healthy

TRACK_CHECK_SECONDS = 5.0   # a track that just answered healthy answers again at once; a dead one never will


def current_split(target: Target) -> dict[str, int]:
    """The split in the traffic file on the host ({} before the first deploy)."""
    return parse_split(target.workspace.read(TRAFFIC_FILE))


def _require_healthy(target: Target, reporter: Reporter, split: Split, before: Split) -> None:
    """Every track the new split sends requests to answers healthy now, or nothing moves (exit 5).

    A track can die between the step that started it and the reload (killed, out of memory);
    moving traffic to it would turn its share of the requests into 502s.
    """
    for name, weight in split.items():
        if weight <= 0:
            continue
        spec = track(target.manifest, name)
        try:
            wait_track_healthy(target, spec, deadline=TRACK_CHECK_SECONDS)
        except HealthCheckFailed as exc:
            still = describe(before) or "nothing (no split written yet)"
            way_out = ("run `inv deploy` again (it starts the new version's track afresh)" if name == "next" else
                       "run `inv rollback` to start stable again (if it is down) and drop the canary, or "
                       "`inv deploy` to start every track the manifest names")
            msg = f"traffic was not moved ({exc.message}); it still goes to {still}; {way_out}"
            reporter.record(StepResult("traffic", target.name, "failed", msg, {"split": dict(split)},
                                       HealthCheckFailed.exit_code))
            raise HealthCheckFailed(msg, host=target.name) from exc


def switch(project: Project, target: Target, reporter: Reporter, split: Split, opts: Options, *, why: str) -> StepResult:
    """Make ``split`` the live traffic split (ok when it already is)."""
    before = current_split(target)
    text = render_traffic(target.manifest, project.templates_dir, split)
    old_text = target.workspace.read(TRAFFIC_FILE)
    running = nginx_running(target)
    if not running and restart_stopped_nginx(project, target, reporter, opts) and not opts.check:
        running = nginx_running(target)  # killed or crashed: the split means nothing while it is down
    label = describe(split)
    if nginx_include.serves(target, TRAFFIC_FILE, text):
        return reporter.record(StepResult("traffic", target.name, "ok", f"{label} ({why})", {"split": dict(split)}))
    # The file already says so but a run stopped before its reload: nginx may still serve the old split.
    unloaded = (" (the file said so, but nginx had not been reloaded with it)"
                if old_text == text and nginx_include.served_before(target, TRAFFIC_FILE) else "")
    if opts.check:
        return reporter.record(StepResult("traffic", target.name, "changed",
                                          f"would move traffic to {label} ({why})", {"split": dict(split), "check": True}))
    if running:
        _require_healthy(target, reporter, split, before)
    with reporter.failing_as("traffic", target.name):
        drained = nginx_include.apply(target, TRAFFIC_FILE, text, running=running, drain=True)
    data = {"from": before, "to": dict(split), "why": why, "drained_seconds": drained}
    project.audit.append("traffic", data, host=target.name)
    note = (f", drained in {drained:g}s" if drained is not None else " (nginx not running yet)") + unloaded
    return reporter.record(StepResult("traffic", target.name, "changed", f"{label} ({why}){note}", data))
