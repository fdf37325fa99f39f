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
- policy_what_if: the same, marked "what-if", with the ``what_if`` changes;
- policy_engine_failure: ``domain``, ``reason``, ``message``/``error``;
- render: ``files``; validate: ``failed`` (names of failed checks); health: ``elapsed_s``;
  deploy: ``mode``; up: ``containers`` and ``removed``; lock: ``action``.

The fallback also shows scalars one level down (``request.mode=slow``).

Policy violations are ``policy_violation`` events plus ``policy_check`` events with
``allow: false``; a denied ``policy_check`` directly followed (on the same host) by a
``policy_violation`` for the same domain and question is listed once.

With ``charts`` (``report_charts.build_charts``) the report also has an "Error rate and
p99 latency" section: per host, relative image links to the SVGs beside the report and a
table of the numbered markers, or a sentence saying there are no samples.
``audit_report_html.render_html`` is the same report as one HTML page.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import quote

from tabulate import tabulate

from .log import VerifyResult

if TYPE_CHECKING:  # report_charts imports this module
    from .charts import HostCharts

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


def event_data(event: Mapping[str, Any]) -> Mapping[str, Any]:
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


def reasons_text(value: Any) -> str:
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
    reasons = reasons_text(data.get("reasons"))
    return f"{text} ({reasons})" if verdict == "deny" and reasons else text


def _what_if(data: Mapping[str, Any]) -> str:
    changes = ", ".join(str(s) for s in data.get("what_if") or [])
    return "what-if " + _policy(data) + (f" with {changes}" if changes else "")


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
    "policy_what_if": _what_if,
    "policy_engine_failure": _engine_failure,
    "health": _health,
    "deploy": lambda d: _join([_status(d), f"mode {d['mode']}" if d.get("mode") else ""]),
    "render": lambda d: _join([_status(d), _names(d.get("files"))]),
    "validate": lambda d: _join([_status(d), f"failed: {_names(d['failed'])}" if d.get("failed") else ""]),
    "up": lambda d: _join([_status(d), f"containers: {_names(d['containers'])}" if d.get("containers") else "",
                           f"removed: {_names(d['removed'])}" if d.get("removed") else ""]),
    "lock": lambda d: _join([str(d.get("action") or ""), _status(d)]),
}


def summarize(event: Mapping[str, Any]) -> str:
    """One line describing what the event says, at most 120 characters."""
    data = event_data(event)
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
        kind, data = event.get("event_type"), event_data(event)
        if kind == "policy_violation":
            found.append(event)
        elif kind == "policy_check" and data.get("allow") is False:
            nxt = next((e for e in events[i + 1:] if e.get("host") == event.get("host")
                        and e.get("event_type") in _POLICY_TYPES), None)
            same = nxt is not None and nxt.get("event_type") == "policy_violation" and all(
                event_data(nxt).get(k) == data.get(k) for k in ("domain", "question"))
            if not same:
                found.append(event)
    return found


def integrity_line(verify: VerifyResult | None) -> str:
    if verify is None:
        return "**Integrity:** not checked"
    if verify.ok:
        seal = f"; {verify.seal}" if verify.seal else ""
        return (f"**Integrity:** ✅ hash chain verified ({verify.lines} lines, "
                f"head `{verify.head_hash[:16]}`{seal})")
    return f"**Integrity:** ❌ verification FAILED at line {verify.first_bad_line}: {verify.problem}"


def unreadable_lines_note(verify: VerifyResult | None) -> list[str]:
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
CHARTS_INTRO = ("Per host, from the status samples (`.swiftdeploy/metrics-<host>.jsonl`), the windows "
                 "the canary gate judged (a point at each decision) and the `status_scrape` events of older "
                 "histories; stable and canary are separate lines, and a "
                 "line breaks where no samples were taken. Dashed vertical lines mark the numbered "
                 "audit events in the table under the charts: policy decisions (allow, deny), mode "
                 "changes, rollbacks and traffic moves.")
NO_SAMPLES = ("No error-rate or p99 samples have been recorded yet: `inv status` records one per "
               "frame while it runs, and each canary gate decision adds the windows it judged.")


def marker_rows(charts: HostCharts) -> list[list[Any]]:
    return [[str(n), m.timestamp, m.kind, m.event_type, m.label] for n, m in enumerate(charts.markers, start=1)]


def outside_note(charts: HostCharts) -> str:
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
        return out + [NO_SAMPLES, ""]
    out += [CHARTS_INTRO, ""]
    for host in plotted:
        out += [f"### {cell(host.host)}", ""]
        for chart in host.charts:
            alt = f"{chart.metric.title} on {host.host}".replace("[", "(").replace("]", ")")
            out += [f"![{cell(alt)}]({quote(chart.file_name)})", ""]
        out += [f"No {m.title.lower()} samples on this host." for m in host.missing]
        out += [""] if host.missing else []
        if host.markers:
            out += [_table(["#", "Timestamp", "Marker", "Event", "Summary"], marker_rows(host),
                           ("right", "left", "left", "left", "left")), ""]
        else:
            out += ["No policy decisions, mode changes, rollbacks or traffic moves in the sampled time.", ""]
        if host.outside:
            out += [outside_note(host), ""]
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
           integrity_line(verify).replace("\n", " "), ""]
    unreadable = unreadable_lines_note(verify)
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
        rows = [[e.get("timestamp", "?"), e.get("host", "?"), event_data(e).get("domain", "?"),
                 event_data(e).get("question", ""), reasons_text(event_data(e).get("reasons"))]
                for e in denied]
        out += [_table(["Timestamp", "Host", "Domain", "Question", "Reasons"], rows), ""]
    else:
        out += ["No policy violations recorded.", ""]
    return "\n".join(out)
