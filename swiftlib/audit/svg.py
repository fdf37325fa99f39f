"""Draw one report chart as a standalone SVG with pygal (pure: text in, text out).

The SVG has no scripts, no external assets and a white background, so GitHub shows it as an
image beside ``audit_report.md`` and a browser shows it inline in ``audit_report.html``. The
same chart always gives the same bytes (pygal's script and dated credit are dropped). Each
track keeps its colour on every chart; markers are numbered dashed vertical lines that the
report's table explains. What is drawn comes from ``report_charts``.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Callable

from .charts import MARKER_KINDS, Chart

DOTS_UP_TO = 120  # a track with more points is drawn as a line without dots
_TRACK_COLORS = {"stable": "#1f77b4", "canary": "#ff7f0e", "next": "#17becf"}
_OTHER_TRACK_COLORS = ("#bcbd22", "#e377c2", "#7f7f7f")
_MARKER_COLORS = {"policy allow": "#2ca02c", "policy deny": "#d62728", "mode change": "#9467bd",
                  "rollback": "#8c564b", "traffic": "#7f7f7f"}
_LEGEND_COLUMNS, _LEGEND_FONT = 4, 12
_TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600,
               12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400)


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def time_ticks(start: datetime, end: datetime, max_ticks: int = 8) -> list[tuple[float, str]]:
    """(epoch seconds, label) at round UTC times between ``start`` and ``end``, at most ``max_ticks``."""
    a, b = _epoch(start), _epoch(end)
    span = max(b - a, 1.0)
    step = next((s for s in _TICK_STEPS if span / s + 1 <= max_ticks), _TICK_STEPS[-1])
    if step >= 86400:
        fmt = "%Y-%m-%d"
    elif start.date() != end.date():
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    first = math.ceil(a / step) * step
    ticks = []
    t = first
    while t <= b:
        ticks.append((float(t), datetime.fromtimestamp(t, timezone.utc).strftime(fmt)))
        t += step
    return ticks


def _time_title(start: datetime, end: datetime) -> str:
    days = f"{start:%Y-%m-%d}" if start.date() == end.date() else f"{start:%Y-%m-%d} to {end:%Y-%m-%d}"
    return f"time (UTC), {days}"


def _clock(x: float) -> str:
    return datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _static(root: Any) -> Any:
    """pygal's tree made static and reproducible.

    pygal always embeds its config as a script for its optional tooltips (a static chart
    needs none), and dates its credit comment (the same data would give another file
    each day): drop the script, keep the credit without the date.
    """
    for parent in list(root.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
            elif not isinstance(child.tag, str) and isinstance(child.text, str):  # a comment
                child.text = re.sub(r" on \d{4}-\d\d-\d\d$", "", child.text)
    return root


def render_svg(chart: Chart, chart_id: str) -> str:
    """The chart as a standalone SVG document (no XML declaration, so it can also be inlined in HTML).

    ``chart_id`` (letters, digits, ``_``, ``-``) scopes pygal's CSS; each chart on one page needs its own.
    """
    import pygal
    from pygal.style import Style

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", chart_id):
        raise ValueError(f"chart_id must be letters, digits, _ and -, got {chart_id!r}")
    a, b = _epoch(chart.start), _epoch(chart.end)
    if b - a < 1:  # one moment: give it some room
        a, b = a - 30, b + 30
    top = chart.top
    colors: list[str] = []
    others = iter(_OTHER_TRACK_COLORS * 4)
    for track in chart.series:
        colors.append(_TRACK_COLORS.get(track) or next(others))
    kinds = [k for k in MARKER_KINDS if any(m.kind == k for m in chart.markers)]
    colors += [_MARKER_COLORS[k] for k in kinds]
    style = Style(background="white", plot_background="white", foreground="#333333",
                  foreground_strong="#111111", foreground_subtle="#aaaaaa", colors=tuple(colors),
                  font_family="Helvetica, Arial, sans-serif", title_font_size=16, label_font_size=11,
                  major_label_font_size=11, legend_font_size=_LEGEND_FONT, value_label_font_size=11,
                  guide_stroke_dasharray="2,4")
    formatter: Callable[[float], str] = chart.metric.format
    # pygal leaves room for entries // columns legend rows below the plot, short of the rows it
    # draws unless they divide evenly (none at all for fewer entries than columns): add the rest.
    entries, columns = len(colors), _LEGEND_COLUMNS
    missing_rows = math.ceil(entries / columns) - entries // columns
    margin_bottom = 20 + int(missing_rows * 1.5 * max(12, _LEGEND_FONT)) + 6
    plot = pygal.XY(
        style=style, js=[], width=900, height=460, explicit_size=True, disable_xml_declaration=True,
        title=f"{chart.metric.title} on {chart.host}", x_title=_time_title(chart.start, chart.end),
        y_title=chart.metric.unit, legend_at_bottom=True, legend_at_bottom_columns=columns, margin_bottom=margin_bottom, truncate_legend=-1,
        allow_interruptions=True, print_labels=True, show_x_guides=False, dots_size=1.6,
        range=(0, top), xrange=(a, b), include_x_axis=True,
        x_labels=[{"value": x, "label": text} for x, text in time_ticks(chart.start, chart.end)],
        value_formatter=formatter, x_value_formatter=_clock, no_data_text="no samples",
    )
    plot.uuid = chart_id
    plot.add_xml_filter(_static)
    for track, points in chart.series.items():
        dense = sum(p is not None for p in points) > DOTS_UP_TO  # a line alone reads better than a blur of dots
        plot.add(track, [None if p is None else (_epoch(p.at), p.value) for p in points], show_dots=not dense,
                 dots_size=2.5, stroke_style={"width": 1.5})
    for kind in kinds:
        values: list[Any] = []
        for number, m in enumerate(chart.markers, start=1):
            if m.kind == kind:
                x = _epoch(m.at)
                # Numbers at three staggered heights, so markers close in time stay legible.
                y = top * (1 - 0.07 * ((number - 1) % 3))
                values += [{"value": (x, 0)}, {"value": (x, y), "label": str(number)}, None]
        count = len(values) // 3
        plot.add(f"{kind} ({count})", values, dots_size=3, stroke_style={"width": 1.5, "dasharray": "5,4"})
    return plot.render(is_unicode=True)
