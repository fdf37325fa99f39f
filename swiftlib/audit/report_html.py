"""audit_report.html: the audit report as one self-contained HTML page (pure formatting, no I/O).

The same sections as ``audit_report.render_report``'s Markdown, built from the same pieces
(integrity line, summaries, violations, the charts' marker tables), with every chart's SVG
inlined. No scripts and no external assets: the page opens from disk, offline.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .log import VerifyResult
from .report import (CHARTS_INTRO, CHARTS_TITLE, NO_SAMPLES, event_data, integrity_line, marker_rows,
                     outside_note, reasons_text, summarize, unreadable_lines_note, violations)

if TYPE_CHECKING:
    from .charts import HostCharts

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #222; margin: 2em auto; max-width: 1100px; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
code { background: #f3f3f3; padding: 0 0.2em; }
figure.chart { margin: 1em 0; }
figure.chart svg { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
.failed { color: #b00020; }
"""


def _inline_html(markdown_line: str) -> str:
    """One line of this module's Markdown (``**bold**``, ``code``) as HTML, escaped."""
    text = html.escape(markdown_line, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _html_table(headers: list[str], rows: list[list[Any]], numeric: tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    num = ' class="num"'

    def td(i: int, value: Any) -> str:
        return f"<td{num if i in numeric else ''}>{html.escape('' if value is None else str(value))}</td>"

    body = "".join("<tr>" + "".join(td(i, v) for i, v in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _charts_html(charts: Sequence[HostCharts], svgs: Mapping[str, str]) -> list[str]:
    out = [f"<h2>{html.escape(CHARTS_TITLE)}</h2>"]
    plotted = [c for c in charts if c.charts]
    if not plotted:
        return out + [f"<p class=\"no-samples\">{_inline_html(NO_SAMPLES)}</p>"]
    out.append(f"<p>{_inline_html(CHARTS_INTRO)}</p>")
    for host in plotted:
        out.append(f"<section class=\"host\" data-host=\"{html.escape(host.host)}\">")
        out.append(f"<h3>{html.escape(host.host)}</h3>")
        for chart in host.charts:
            out.append(f"<figure class=\"chart\" data-metric=\"{chart.metric.key}\" data-points=\"{chart.points}\">")
            out.append(svgs[chart.file_name])
            out.append(f"<figcaption>{html.escape(chart.metric.title)} on {html.escape(host.host)}: "
                       f"{chart.samples} samples ({html.escape(', '.join(host.sources))}).</figcaption>")
            out.append("</figure>")
        out += [f"<p>No {html.escape(m.title.lower())} samples on this host.</p>" for m in host.missing]
        if host.markers:
            out.append(_html_table(["#", "Timestamp", "Marker", "Event", "Summary"], marker_rows(host), (0,)))
        else:
            out.append("<p>No policy decisions, mode changes, rollbacks or traffic moves in the sampled time.</p>")
        if host.outside:
            out.append(f"<p>{html.escape(outside_note(host))}</p>")
        out.append("</section>")
    empty = [c.host for c in charts if not c.charts]
    if empty:
        out.append(f"<p>No error-rate or p99 samples for: {html.escape(', '.join(empty))}.</p>")
    return out


def render_html(events: list[Mapping[str, Any]], *, verify: VerifyResult | None, generated_at: str,
                charts: Sequence[HostCharts], svgs: Mapping[str, str]) -> str:
    """The report as one HTML page: no scripts, no external assets, each chart's SVG inlined.

    ``svgs`` maps each chart's ``file_name`` to its SVG text (``report_svg.render_svg``).
    """
    # ✓/✗ instead of the Markdown's emoji: text fonts have them, and a machine without an emoji
    # font (a server's headless browser) drew the emoji as empty boxes.
    integrity = integrity_line(verify).replace("\n", " ").replace("✅", "✓").replace("❌", "✗")
    failed = verify is not None and not verify.ok
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           "<title>SwiftDeploy audit report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           "<h1>SwiftDeploy audit report</h1>",
           f"<p>Generated at {html.escape(generated_at)} from {len(events)} events.</p>",
           f"<p class=\"integrity{' failed' if failed else ''}\">{_inline_html(integrity)}</p>"]
    out += [f"<p class=\"failed\">{_inline_html(line)}</p>" for line in unreadable_lines_note(verify) if line]
    if not events and not (verify is not None and verify.unreadable_lines):
        out.append("<p>No events have been recorded yet.</p>")
    if events:
        counts = Counter(str(e.get("event_type", "?")) for e in events)
        out += ["<h2>Summary</h2>", _html_table(["Event", "Count"], [[k, counts[k]] for k in sorted(counts)], (1,))]
        seen: dict[str, list[Any]] = {}
        for event in events:
            row = seen.setdefault(str(event.get("host", "?")), [0, event.get("timestamp"), None])
            row[0] += 1
            row[2] = event.get("timestamp")
        out += ["<h2>Hosts</h2>", _html_table(["Host", "Events", "First event", "Last event"],
                                               [[h, *r] for h, r in sorted(seen.items())], (1,))]
    out += _charts_html(charts, svgs)
    if events:
        timeline = [[e.get("timestamp", "?"), e.get("host", "?"), e.get("event_type", "?"), summarize(e)]
                    for e in events]
        out += ["<h2>Timeline</h2>", _html_table(["Timestamp", "Host", "Event", "Summary"], timeline),
                "<h2>Policy violations</h2>"]
        denied = violations(events)
        if denied:
            rows = [[e.get("timestamp", "?"), e.get("host", "?"), event_data(e).get("domain", "?"),
                     event_data(e).get("question", ""), reasons_text(event_data(e).get("reasons"))] for e in denied]
            out.append(_html_table(["Timestamp", "Host", "Domain", "Question", "Reasons"], rows))
        else:
            out.append("<p>No policy violations recorded.</p>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
