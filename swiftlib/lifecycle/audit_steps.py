"""`inv audit`: check the hash chain, or write the report, as one reported step."""
from __future__ import annotations

from datetime import datetime, timezone

from ..errors import SwiftDeployError
from ..audit.report_files import write_report
from ..results import Reporter, StepResult
from .context import Project

VERIFY_FAILED = 2  # a broken chain is bad input (README, Exit codes), named by line


def verify(project: Project, reporter: Reporter) -> StepResult:
    """ok with the line count, or failed (exit 2) naming the first line altered, removed or reordered."""
    result = project.audit.verify()
    if result.ok:
        seal = f"; {result.seal}" if result.seal else ""
        return reporter.record(StepResult("audit verify", "local", "ok", f"{result.lines} lines, hash chain intact{seal}"))
    return reporter.record(StepResult("audit verify", "local", "failed", result.problem, {}, VERIFY_FAILED))


def report(project: Project, reporter: Reporter, *, now: datetime | None = None) -> StepResult:
    """Write the Markdown report, its SVG charts and the HTML report from every readable event.

    A damaged history still gives a report: unreadable lines are counted and named in it,
    and the integrity failure is part of what it shows.
    """
    log = project.audit
    result = log.verify()
    try:
        events = log.read(skip_unreadable=True)
    except SwiftDeployError:
        events = []  # unreadable as a whole: the report still shows the integrity failure
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    written = write_report(project.root, project.report_path, events, result, stamp)
    unread = f", {result.lines - len(events)} lines unreadable" if result.lines > len(events) else ""
    charts = sum(1 for path in written if path.suffix == ".svg")
    return reporter.record(StepResult("audit report", "local", "changed",
                                      f"wrote {written[0].name} ({len(events)} events{unread}), {charts} charts "
                                      f"and {written[-1].name}"))
