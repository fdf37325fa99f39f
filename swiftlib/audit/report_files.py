"""Write the audit report's files: audit_report.md, one SVG per host and metric beside it, and audit_report.html.

The effect half of the report: it reads each host's status samples
(``metrics_history``), has ``report_charts`` build the charts and ``report_svg`` draw them,
``audit_report`` and ``audit_report_html`` write the Markdown and the HTML, and writes every file atomically
(``fileio.atomic_write_text``), the SVGs first and the Markdown last, so the report
never links to a chart that is not there yet. Every path must stay inside the project
directory (``workspace.inside``; the files themselves are replaced, never followed
if they are links). SVGs of hosts that no longer have samples are left as they are;
the report no longer links to them.

Names, for a report ``audit_report.md``: ``audit_report.<host>.error_rate.svg``,
``audit_report.<host>.p99.svg`` (``<host>`` with anything but letters, digits, ``_``
and ``-`` turned into ``_``) and ``audit_report.html``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..metrics import history as metrics_history
from .log import VerifyResult
from .report import render_report
from .report_html import render_html
from ..errors import UsageError
from ..fileio import UnreadableFile, atomic_write_text, file_kind
from .charts import build_charts
from .svg import render_svg
from ..workspace import inside

_PREFIX, _SUFFIX = "metrics-", ".jsonl"


def html_path(report_path: Path) -> Path:
    """``audit_report.md`` -> ``audit_report.html`` (a report already named ``.html`` gets ``.html.html``)."""
    if report_path.suffix.lower() == ".html":
        return report_path.with_name(report_path.name + ".html")
    return report_path.with_suffix(".html")


def _in_project(root: Path, path: Path) -> Path:
    """``path`` checked to stay inside ``root`` (the last component is not followed).

    ``path`` may be spelled under ``root`` as given or as resolved (``Project.report_path``
    is under the resolved root, while ``Project.root`` may run through a link).
    """
    absolute = os.path.abspath(path)
    for base in (os.path.abspath(root), os.path.realpath(root)):
        if absolute.startswith(base.rstrip(os.sep) + os.sep):
            return Path(inside(str(root), os.path.relpath(absolute, base), follow=False))
    raise UsageError(f"{os.fspath(path)!r} is outside the project directory {os.path.realpath(root)}")


def _samples(root: Path, host: str) -> list[dict[str, Any]]:
    path = metrics_history.history_path(root, host)
    checked = Path(inside(str(root), os.path.relpath(path, root)))  # a link out of the project is refused
    try:
        kind = file_kind(os.stat(checked).st_mode)
    except FileNotFoundError:
        return []
    if kind:  # a FIFO would block the read
        raise UnreadableFile(str(path), f"is {kind}, not a regular file; status samples are read only from one")
    return metrics_history.read(root, host)


def read_samples(project_root: Path, hosts: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each host's status samples, plus hosts known only from a ``metrics-<name>.jsonl`` file."""
    root = Path(project_root)
    out = {host: _samples(root, host) for host in hosts}
    claimed = {metrics_history.history_path(root, host).name for host in hosts}
    for path in metrics_history.files(root):
        if path.name not in claimed and path.name.startswith(_PREFIX) and path.name.endswith(_SUFFIX):
            name = path.name[len(_PREFIX):-len(_SUFFIX)]
            if name:
                out[name] = _samples(root, name)
    return {host: samples for host, samples in out.items() if samples or host in hosts}


def write_report(project_root: str | os.PathLike[str], report_path: str | os.PathLike[str],
                 events: list[Mapping[str, Any]], verify_result: VerifyResult | None,
                 generated_at: str) -> list[Path]:
    """Write the Markdown report, its SVG charts and the HTML page; return their paths (Markdown first).

    Raises UsageError (exit 2) when a path would leave the project directory, and
    UnreadableFile (exit 2) for a metrics file that is not a regular file.
    """
    root = Path(project_root)
    report = _in_project(root, Path(report_path))
    page = _in_project(root, html_path(report))
    hosts = sorted({str(e.get("host")) for e in events if e.get("host")})
    charts = build_charts(events, read_samples(root, hosts), report.name)
    svgs: dict[str, str] = {}
    for i, host in enumerate(charts, start=1):
        for chart in host.charts:
            svgs[chart.file_name] = render_svg(chart, f"sd{i}-{chart.metric.tag}")
    images = {name: _in_project(root, report.with_name(name)) for name in svgs}
    markdown = render_report(events, verify=verify_result, generated_at=generated_at, charts=charts)
    page_text = render_html(events, verify=verify_result, generated_at=generated_at, charts=charts, svgs=svgs)
    report.parent.mkdir(parents=True, exist_ok=True)
    for name, path in images.items():
        atomic_write_text(path, svgs[name] + "\n")
    atomic_write_text(page, page_text)
    atomic_write_text(report, markdown)
    return [report, *images.values(), page]
