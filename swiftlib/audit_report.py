"""audit_report.md from the audit events: pure formatting, no I/O.

``render_report(events, verify=..., generated_at=...)`` returns GitHub Markdown:
title, generation time, integrity line, event counts, hosts, a timeline and the
policy violations. For a damaged history, pass the events that could be read
(``AuditLog.read(skip_unreadable=True)``) and the failed ``verify``: the report shows
them all and names the lines left out (``VerifyResult.unreadable_lines``). Cells are escaped (``|`` -> ``\\|``, line breaks -> spaces) so a
reason such as ``"a | b"`` cannot break a table.

The one-line timeline summary reads these ``data`` keys when present (anything else
falls back to ``key=value, ...`` of the scalar fields):

- every type: ``summary`` (str) is used as is;
- ``result`` or ``status`` (str) / ``changed`` (bool) / ``ok`` (bool) -> "changed",
  "unchanged", "failed"...; ``error`` (str) is appended;
- mode_change, promote: ``from`` and ``to`` -> "canary → stable";
- policy_check, policy_violation: ``domain``, ``allow``, ``reasons`` -> "canary: allow";
- policy_engine_failure: ``domain``, ``reason``, ``message``/``error``;
- render: ``files``; validate: ``failed`` (names of failed checks); health: ``elapsed_s``;
  deploy: ``mode``; up: ``containers``; lock: ``action``.

The fallback also shows scalars one level down (``request.mode=slow``).

Policy violations are ``policy_violation`` events plus ``policy_check`` events with
``allow: false``; a denied ``policy_check`` directly followed (on the same host) by a
``policy_violation`` for the same domain and question is listed once.

With ``charts`` (``report_charts.build_charts``) the report also has an "Error rate and
p99 latency" section: per host, relative image links to the SVGs beside the report and a
table of the numbered markers, or a sentence saying there are no samples.
``render_html`` is the same report as one self-contained HTML page with the SVGs inlined.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import quote

from tabulate import tabulate

from .audit import VerifyResult

if TYPE_CHECKING:  # report_charts imports this module
    from .report_charts import HostCharts

_POLICY_TYPES = ("policy_check", "policy_violation", "policy_engine_failure")
_MAX_SUMMARY = 120


def cell(value: Any) -> str:
    """A value made safe for one GitHub table cell."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    # "<" would start raw HTML on GitHub ("<none>" vanishes); "|" would end the cell.
    return text.replace("<", "&lt;").replace("|", "\\|")


def _table(headers: list[str], rows: list[list[Any]], colalign: tuple[str, ...] | None = None) -> str:
    cells = [[cell(v) for v in row] for row in rows]
    return tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True,
                    colalign=colalign)


def _data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    return data if isinstance(data, Mapping) else {}


def _join(parts: list[str]) -> str:
    return " — ".join(p for p in parts if p)


def _status(data: Mapping[str, Any]) -> str:
    word = data.get("result", data.get("status"))
    if isinstance(word, str):
        status = word
    elif isinstance(data.get("changed"), bool):
        status = "changed" if data["changed"] else "unchanged"
    elif isinstance(data.get("ok"), bool):
        status = "ok" if data["ok"] else "failed"
    else:
        status = ""
    error = data.get("error")
    return _join([status, str(error) if error else ""])


def _names(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value or "")


def _reasons(value: Any) -> str:
    return "; ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value or "")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _generic(data: Mapping[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        if _scalar(value):
            parts.append(f"{key}={value}")
        elif isinstance(value, Mapping):
            parts += [f"{key}.{k}={v}" for k, v in value.items() if _scalar(v)]
    return ", ".join(parts)


def _mode_change(data: Mapping[str, Any]) -> str:
    before = data.get("from", data.get("from_mode", "?"))
    after = data.get("to", data.get("to_mode", "?"))
    return _join([f"{before} → {after}", _status(data)])


def _policy(data: Mapping[str, Any]) -> str:
    verdict = "allow" if data.get("allow") is True else "deny"
    text = f"{data.get('domain', '?')}: {verdict}"
    reasons = _reasons(data.get("reasons"))
    return f"{text} ({reasons})" if verdict == "deny" and reasons else text


def _engine_failure(data: Mapping[str, Any]) -> str:
    why = data.get("reason") or "no usable decision"
    detail = data.get("message") or data.get("error")
    return _join([f"{data.get('domain', '?')}: policy engine failed", str(why), str(detail or "")])


def _health(data: Mapping[str, Any]) -> str:
    healthy = data.get("healthy", data.get("ok"))
    word = "healthy" if healthy is True else "unhealthy" if healthy is False else _status(data)
    elapsed = data.get("elapsed_s")
    after = f"after {elapsed:.1f}s" if isinstance(elapsed, (int, float)) else ""
    return _join([word, after, str(data.get("error") or "")])


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "mode_change": _mode_change,
    "promote": _mode_change,
    "policy_check": _policy,
    "policy_violation": _policy,
    "policy_engine_failure": _engine_failure,
    "health": _health,
    "deploy": lambda d: _join([_status(d), f"mode {d['mode']}" if d.get("mode") else ""]),
    "render": lambda d: _join([_status(d), _names(d.get("files"))]),
    "validate": lambda d: _join([_status(d), f"failed: {_names(d['failed'])}" if d.get("failed") else ""]),
    "up": lambda d: _join([_status(d), f"containers: {_names(d['containers'])}" if d.get("containers") else ""]),
    "lock": lambda d: _join([str(d.get("action") or ""), _status(d)]),
}


def summarize(event: Mapping[str, Any]) -> str:
    """One line describing what the event says, at most 120 characters."""
    data = _data(event)
    if isinstance(data.get("summary"), str):
        text = data["summary"]
    else:
        specific = _SUMMARIES.get(str(event.get("event_type")))
        text = (specific(data) if specific else "") or _generic(data)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SUMMARY else text[: _MAX_SUMMARY - 1] + "…"


def violations(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Denied policy decisions, each once (see the module docstring)."""
    found = []
    for i, event in enumerate(events):
        kind, data = event.get("event_type"), _data(event)
        if kind == "policy_violation":
            found.append(event)
        elif kind == "policy_check" and data.get("allow") is False:
            nxt = next((e for e in events[i + 1:] if e.get("host") == event.get("host")
                        and e.get("event_type") in _POLICY_TYPES), None)
            same = nxt is not None and nxt.get("event_type") == "policy_violation" and all(
                _data(nxt).get(k) == data.get(k) for k in ("domain", "question"))
            if not same:
                found.append(event)
    return found


def _integrity(verify: VerifyResult | None) -> str:
    if verify is None:
        return "**Integrity:** not checked"
    if verify.ok:
        return (f"**Integrity:** ✅ hash chain verified ({verify.lines} lines, "
                f"head `{verify.head_hash[:16]}`)")
    return f"**Integrity:** ❌ verification FAILED at line {verify.first_bad_line}: {verify.problem}"


def _unreadable(verify: VerifyResult | None) -> list[str]:
    lines = verify.unreadable_lines if verify is not None else ()
    if not lines:
        return []
    shown = ", ".join(map(str, lines[:20])) + (f" and {len(lines) - 20} more" if len(lines) > 20 else "")
    many = len(lines) > 1
    return [f"**Unreadable:** line{'s' if many else ''} {shown} of the history {'are' if many else 'is'} "
            f"not {'JSON events' if many else 'a JSON event'} (a write cut off by a crash leaves one at the "
            "end) and left out of this report.", ""]


def _hosts(events: list[Mapping[str, Any]]) -> str:
    seen: dict[str, list[Any]] = {}
    for event in events:
        row = seen.setdefault(str(event.get("host", "?")), [0, event.get("timestamp"), None])
        row[0] += 1
        row[2] = event.get("timestamp")
    rows = [[host, str(n), first, last] for host, (n, first, last) in sorted(seen.items())]
    return _table(["Host", "Events", "First event", "Last event"], rows,
                  ("left", "right", "left", "left"))


CHARTS_TITLE = "Error rate and p99 latency"
_CHARTS_INTRO = ("Per host, from the status samples (`.swiftdeploy/metrics-<host>.jsonl`) and the "
                 "`status_scrape` events of older histories; stable and canary are separate lines, and a "
                 "line breaks where no samples were taken. Dashed vertical lines mark the numbered "
                 "audit events in the table under the charts: policy decisions (allow, deny), mode "
                 "changes, rollbacks and traffic moves.")
_NO_SAMPLES = ("No error-rate or p99 samples have been recorded yet: `inv status` records one per "
               "frame while it runs.")


def _marker_rows(charts: HostCharts) -> list[list[Any]]:
    return [[str(n), m.timestamp, m.kind, m.event_type, m.label] for n, m in enumerate(charts.markers, start=1)]


def _outside(charts: HostCharts) -> str:
    if not charts.outside:
        return ""
    many = charts.outside > 1
    return (f"{charts.outside} more policy decision{'s' if many else ''} or change{'s' if many else ''} on "
            f"this host {'fall' if many else 'falls'} outside the sampled time and {'are' if many else 'is'} "
            "not drawn (see the timeline).")


def _charts_markdown(charts: Sequence[HostCharts]) -> list[str]:
    out = [f"## {CHARTS_TITLE}", ""]
    plotted = [c for c in charts if c.charts]
    if not plotted:
        return out + [_NO_SAMPLES, ""]
    out += [_CHARTS_INTRO, ""]
    for host in plotted:
        out += [f"### {cell(host.host)}", ""]
        for chart in host.charts:
            alt = f"{chart.metric.title} on {host.host}".replace("[", "(").replace("]", ")")
            out += [f"![{cell(alt)}]({quote(chart.file_name)})", ""]
        out += [f"No {m.title.lower()} samples on this host." for m in host.missing]
        out += [""] if host.missing else []
        if host.markers:
            out += [_table(["#", "Timestamp", "Marker", "Event", "Summary"], _marker_rows(host),
                           ("right", "left", "left", "left", "left")), ""]
        else:
            out += ["No policy decisions, mode changes, rollbacks or traffic moves in the sampled time.", ""]
        if host.outside:
            out += [_outside(host), ""]
    empty = [c.host for c in charts if not c.charts]
    if empty:
        out += [f"No error-rate or p99 samples for: {cell(', '.join(empty))}.", ""]
    return out


def render_report(events: list[Mapping[str, Any]], *, verify: VerifyResult | None,
                  generated_at: str, charts: Sequence[HostCharts] | None = None) -> str:
    """The whole report as GitHub Markdown, ending with a newline.

    ``charts`` adds the charts section (after Hosts); without it the report is as it always was.
    """
    out = ["# SwiftDeploy audit report", "",
           f"Generated at {cell(generated_at)} from {len(events)} events.", "",
           _integrity(verify).replace("\n", " "), ""]
    unreadable = _unreadable(verify)
    out += unreadable
    if not events:
        if verify is not None and verify.lines > len(verify.unreadable_lines):
            out += [f"The history has {verify.lines} lines, but no events were passed to the report.", ""]
        elif not unreadable:
            out += ["No events have been recorded yet.", ""]
        if charts is not None:
            out += _charts_markdown(charts)
        return "\n".join(out)
    counts = Counter(str(e.get("event_type", "?")) for e in events)
    out += ["## Summary", "", _table(["Event", "Count"], [[k, str(counts[k])] for k in sorted(counts)],
                                  ("left", "right")), ""]
    out += ["## Hosts", "", _hosts(events), ""]
    if charts is not None:
        out += _charts_markdown(charts)
    timeline = [[e.get("timestamp", "?"), e.get("host", "?"), e.get("event_type", "?"), summarize(e)]
                for e in events]
    out += ["## Timeline", "", _table(["Timestamp", "Host", "Event", "Summary"], timeline), ""]
    out += ["## Policy violations", ""]
    denied = violations(events)
    if denied:
        rows = [[e.get("timestamp", "?"), e.get("host", "?"), _data(e).get("domain", "?"),
                 _data(e).get("question", ""), _reasons(_data(e).get("reasons"))]
                for e in denied]
        out += [_table(["Timestamp", "Host", "Domain", "Question", "Reasons"], rows), ""]
    else:
        out += ["No policy violations recorded.", ""]
    return "\n".join(out)


# --- the same report as one self-contained HTML page ---------------------------

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
        return out + [f"<p class=\"no-samples\">{_inline_html(_NO_SAMPLES)}</p>"]
    out.append(f"<p>{_inline_html(_CHARTS_INTRO)}</p>")
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
            out.append(_html_table(["#", "Timestamp", "Marker", "Event", "Summary"], _marker_rows(host), (0,)))
        else:
            out.append("<p>No policy decisions, mode changes, rollbacks or traffic moves in the sampled time.</p>")
        if host.outside:
            out.append(f"<p>{html.escape(_outside(host))}</p>")
        out.append("</section>")
    empty = [c.host for c in charts if not c.charts]
    if empty:
        out.append(f"<p>No error-rate or p99 samples for: {html.escape(', '.join(empty))}.</p>")
    return out


def render_html(events: list[Mapping[str, Any]], *, verify: VerifyResult | None, generated_at: str,
                charts: Sequence[HostCharts], svgs: Mapping[str, str]) -> str:
    """The report as one HTML page: no scripts, no external assets, each chart's SVG inlined.

    ``svgs`` maps each chart's ``file_name`` to its SVG text (``report_charts.render_svg``).
    """
    integrity = _integrity(verify).replace("\n", " ")
    failed = verify is not None and not verify.ok
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           "<title>SwiftDeploy audit report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           "<h1>SwiftDeploy audit report</h1>",
           f"<p>Generated at {html.escape(generated_at)} from {len(events)} events.</p>",
           f"<p class=\"integrity{' failed' if failed else ''}\">{_inline_html(integrity)}</p>"]
    out += [f"<p class=\"failed\">{_inline_html(line)}</p>" for line in _unreadable(verify) if line]
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
            rows = [[e.get("timestamp", "?"), e.get("host", "?"), _data(e).get("domain", "?"),
                     _data(e).get("question", ""), _reasons(_data(e).get("reasons"))] for e in denied]
            out.append(_html_table(["Timestamp", "Host", "Domain", "Question", "Reasons"], rows))
        else:
            out.append("<p>No policy violations recorded.</p>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
