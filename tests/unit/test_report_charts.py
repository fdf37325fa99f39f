"""swiftlib.audit.charts (series, markers), swiftlib.audit.svg (the SVG) and
swiftlib.audit.report_files (the report's files).

Fixtures: tests/fixtures/report/ (its README says what each case is for).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from swiftlib.metrics import history as metrics_history
from swiftlib.audit.log import VerifyResult
from swiftlib.audit.report import render_report
from swiftlib.audit.report_html import render_html
from swiftlib.errors import ConfigError, UsageError
from swiftlib.audit.charts import (ERROR_RATE, METRICS, P99, Point, build_charts, gap_seconds,
                                   legacy_observations, markers, parse_time, plotted, report_stem, safe_name,
                                   sample_observations, series, thin, with_gaps)
from swiftlib.audit.svg import render_svg, time_ticks
from swiftlib.audit.report_files import html_path, read_samples, write_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "report"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


def _events() -> list[dict]:
    return json.loads((FIXTURES / "events.json").read_text(encoding="utf-8"))


def _samples() -> list[dict]:
    out = []
    for line in (FIXTURES / "metrics-local.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # the torn last line, as metrics_history.read skips it
    return out


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _values(points) -> list:
    return [None if p is None else (p.at.strftime("%H:%M:%S"), p.value) for p in points]


# --- observations and series -----------------------------------------------

def test_parse_time_accepts_both_stamp_styles_and_refuses_the_rest():
    assert parse_time("2026-12-01T08:00:00Z") == T0
    assert parse_time("2026-12-01T08:00:00.500Z") == _at(0.5)
    assert parse_time("2026-12-01T09:00:00+01:00") == T0
    assert parse_time("2026-12-01T08:00:00") == T0  # no offset: UTC
    assert [parse_time(v) for v in ("", "not a time", None, 17)] == [None] * 4


def test_samples_give_one_observation_per_track_without_non_numbers():
    obs = sample_observations(_samples())
    assert len(_samples()) == 8
    assert [(o.at.strftime("%H:%M:%S"), o.track) for o in obs[2:4]] == [("08:00:06", "canary"), ("08:00:06", "stable")]
    at_10 = {o.track: dict(o.values) for o in obs if o.at == _at(10)}
    # p99 null (canary) and true (stable) are left out, the error rates kept
    assert at_10 == {"canary": {"error_rate": 0.45}, "stable": {"error_rate": 0.002}}


def test_a_sample_without_time_or_tracks_gives_nothing():
    assert sample_observations([{"tracks": {"stable": {"error_rate": 0.1}}},
                                {"timestamp": "2026-12-01T08:00:00Z"},
                                {"timestamp": "2026-12-01T08:00:00Z", "tracks": {"stable": "x"}},
                                {"timestamp": "2026-12-01T08:00:00Z", "tracks": {"stable": {"error_rate": float("nan")}}}]) == []


def test_legacy_status_scrape_events_still_plot():
    obs = legacy_observations(_events(), "old-box")
    got = [(o.at.strftime("%H:%M:%S"), o.track, dict(o.values)) for o in obs]
    assert got == [
        ("09:00:00", "canary", {"error_rate": 0.05, "p99_latency_ms": 120.0}),  # top-level numbers, track from mode
        ("09:00:02", "canary", {"error_rate": 0.031, "p99_latency_ms": 812.0}),  # the old p99_ms name
        ("09:00:04", "stable", {"error_rate": 0.0, "p99_latency_ms": 80.0}),  # per-track numbers
    ]  # the bad timestamp and the non-numbers are left out
    assert legacy_observations(_events(), "web1") == []


def test_series_are_per_track_in_time_order_and_a_sample_beats_a_legacy_event_at_the_same_second():
    obs = sample_observations(_samples()) + legacy_observations(_events(), "local")
    lines = series(obs, "error_rate")
    assert list(lines) == ["stable", "canary"]
    assert _values(lines["canary"]) == [("08:00:06", 0.0), ("08:00:08", 0.5), ("08:00:10", 0.45), ("08:00:12", 0.5)]
    assert [p.value for p in lines["stable"]] == [0.0, 0.001, 0.001, 0.0, 0.002, 0.001, 0.0, 0.0]  # no 0.9
    assert [p.at for p in lines["stable"]] == sorted(p.at for p in lines["stable"])
    assert 999.0 not in [p.value for p in series(obs, "p99_latency_ms")["stable"]]


def test_tracks_other_than_stable_and_canary_come_after_them():
    obs = sample_observations([{"timestamp": "2026-12-01T08:00:00Z",
                                "tracks": {"zeta": {"error_rate": 0}, "canary": {"error_rate": 0},
                                           "next": {"error_rate": 0}, "stable": {"error_rate": 0}}}])
    assert list(series(obs, "error_rate")) == ["stable", "canary", "next", "zeta"]


# --- gaps and thinning ---------------------------------------------------------

def test_a_long_silence_breaks_the_line():
    stable = series(sample_observations(_samples()), "error_rate")["stable"]
    assert gap_seconds(stable) == 10.0  # 5 x the 2 s median spacing
    drawn = plotted(stable)
    assert drawn.count(None) == 1
    assert _values(drawn[drawn.index(None) - 1:drawn.index(None) + 2]) == [("08:00:12", 0.001), None, ("08:01:00", 0.0)]


def test_a_line_breaks_at_a_moment_between_two_points_but_not_at_one_outside_them():
    points = [Point(_at(s), 0.1) for s in (0, 2, 4, 6)]
    assert _values(with_gaps(points, 60, breaks=[_at(3)])) == [
        ("08:00:00", 0.1), ("08:00:02", 0.1), None, ("08:00:04", 0.1), ("08:00:06", 0.1)]
    assert with_gaps(points, 60, breaks=[_at(-1), _at(7)]) == points
    assert _values(plotted(points, breaks=[_at(6)]))[-2:] == [None, ("08:00:06", 0.1)]  # at a point: before it


def test_gap_threshold_follows_the_spacing_and_has_a_floor():
    every_minute = [Point(_at(60 * i), 0.0) for i in range(5)]
    assert gap_seconds(every_minute) == 300.0
    assert with_gaps(every_minute, gap_seconds(every_minute)) == every_minute
    assert gap_seconds([Point(_at(0), 1.0)]) == 10.0
    assert gap_seconds([Point(_at(0), 1.0), Point(_at(0.5), 1.0), Point(_at(1), 1.0)]) == 10.0


def test_thinning_keeps_the_highest_value_of_each_slice():
    points = [Point(_at(i), 0.01) for i in range(1000)]
    points[537] = Point(_at(537), 0.9)  # one spike
    kept = thin(points, 100)
    assert len(kept) == 100
    assert max(p.value for p in kept) == 0.9
    assert [p.at for p in kept] == sorted(p.at for p in kept)
    assert thin(points[:50], 100) == points[:50]


def test_thinned_points_are_not_broken_by_the_slice_spacing():
    points = [Point(_at(2 * i), float(i % 3)) for i in range(3000)]
    assert None not in plotted(points, 100)
    holed = points[:1000] + points[2000:]
    assert plotted(holed, 100).count(None) == 1


# --- markers -------------------------------------------------------------------

def test_markers_of_a_host():
    found = markers(_events(), "local")
    got = [(m.timestamp[11:19], m.kind, m.event_type, m.label) for m in found]
    assert got == [
        ("23:00:01", "mode change", "mode_change", "canary → stable"),
        ("08:00:04", "policy allow", "policy_check", "infrastructure: allow"),
        ("08:00:05", "mode change", "mode_change", "stable → canary"),
        ("08:00:06", "traffic", "traffic", "stable 100% → stable 90% / canary 10% (canary start)"),
        # the denied policy_check and its policy_violation are one decision
        ("08:00:20", "policy deny", "policy_violation", "canary: deny (error rate 50.00% > 1.00%)"),
        ("08:00:22", "policy deny", "policy_engine_failure", "canary: policy engine failed — timeout — no answer in 2s"),
        ("08:00:24", "rollback", "rollback", "canary → stable (error rate)"),
        ("08:00:24", "traffic", "traffic", "stable 90% / canary 10% → stable 100% (rollback)"),
    ]


def test_a_denied_check_without_its_violation_is_a_deny_marker():
    found = markers(_events(), "web1")
    assert [(m.kind, m.event_type) for m in found] == [("policy deny", "policy_check")]
    assert markers(_events(), "nobody") == []


def test_promote_is_a_mode_change_and_other_events_are_not_markers():
    assert [m.kind for m in markers(_events(), "old-box")] == ["mode change"]


# --- charts per host -------------------------------------------------------------

def test_build_charts_from_the_fixtures():
    charts = build_charts(_events(), {"local": _samples()}, "audit_report.md")
    assert [h.host for h in charts] == ["local", "old-box", "web1"]
    local, old, web1 = charts
    assert [c.file_name for c in local.charts] == ["audit_report.local.error_rate.svg", "audit_report.local.p99.svg"]
    assert local.sources == ("status samples", "status_scrape events")
    assert (local.charts[0].start, local.charts[0].end) == (T0, _at(62))
    assert len(local.markers) == 7 and local.outside == 1  # the mode change of the day before
    assert local.charts[0].markers == local.markers == local.charts[1].markers
    assert local.charts[0].samples == 12 and local.charts[1].samples == 10
    assert old.sources == ("status_scrape events",) and [list(c.series) for c in old.charts] == [["stable", "canary"]] * 2
    assert [m.kind for m in old.markers] == ["mode change"]
    assert web1.charts == () and web1.missing == METRICS and web1.outside == 1


def test_the_y_axis_has_a_floor_and_room_above_the_highest_value():
    local = build_charts(_events(), {"local": _samples()}, "audit_report.md")[0]
    error_rate, p99 = local.charts
    assert error_rate.top == pytest.approx(0.55)
    assert p99.top == pytest.approx(55.0)
    flat = build_charts([], {"h": [{"timestamp": "2026-12-01T08:00:00Z", "tracks": {"stable": {"error_rate": 0.0}}}]},
                        "r.md")[0]
    assert flat.charts[0].top == ERROR_RATE.floor and flat.missing == (P99,)


def test_hosts_known_only_from_samples_and_file_names_that_would_collide():
    sample = [{"timestamp": "2026-12-01T08:00:00Z", "tracks": {"stable": {"error_rate": 0.0, "p99_latency_ms": 1}}}]
    charts = build_charts([], {"deploy@h1:22": sample, "deploy_h1_22": sample, "a.b": sample}, "audit")
    names = [c.file_name for h in charts for c in h.charts if c.metric is ERROR_RATE]
    assert names == ["audit.a_b.error_rate.svg", "audit.deploy_h1_22.error_rate.svg", "audit.deploy_h1_22-2.error_rate.svg"]
    assert safe_name("../x y") == "___x_y" and safe_name("") == "_"
    assert report_stem("audit_report.md") == "audit_report" and report_stem("report.MD") == "report"
    assert report_stem(".md") == ".md" and report_stem("notes.txt") == "notes.txt"


def test_the_windows_the_canary_gate_judged_plot_when_nobody_watched():
    def decision(kind: str, seconds: float, data: dict) -> dict:
        return {"timestamp": _at(seconds).isoformat().replace("+00:00", "Z"), "event_type": kind, "host": "web1",
                "data": data}

    window = {"requests": 54, "window_seconds": 30.0}
    events = [
        decision("policy_check", 1, {"domain": "infrastructure", "allow": True,
                                     "input": {"stats": {"disk_free_gb": 80.0, "cpu_load": 0.3}}}),
        decision("policy_violation", 30, {"domain": "canary", "allow": False, "reasons": ["error rate 50%"], "input": {
            "metrics": {**window, "error_rate": 0.5, "p99_latency_ms": 5.0},
            "baseline": {**window, "error_rate": 0.0, "p99_latency_ms": 4.0}}}),
        decision("policy_what_if", 40, {"domain": "canary", "allow": True, "input": {
            "metrics": {**window, "error_rate": 0.001, "p99_latency_ms": 1.0}}}),  # asked, not observed
        decision("mode_change", 60, {"from": "canary", "to": "stable"}),
        decision("policy_check", 90, {"domain": "canary", "allow": True, "reasons": ["ok"], "input": {
            "metrics": {**window, "error_rate": 0.0, "p99_latency_ms": 6.0}}}),  # no stable traffic: no baseline
    ]
    [web1] = build_charts(events, {}, "audit_report.md")
    assert web1.sources == ("canary gate windows",)
    error_rate, p99 = web1.charts
    assert {t: _values(p) for t, p in error_rate.series.items()} == {
        "stable": [("08:00:30", 0.0)], "canary": [("08:00:30", 0.5), None, ("08:01:30", 0.0)]}  # the mode change
    assert {t: _values(p) for t, p in p99.series.items()} == {
        "stable": [("08:00:30", 4.0)], "canary": [("08:00:30", 5.0), None, ("08:01:30", 6.0)]}
    assert [m.kind for m in web1.markers] == ["policy deny", "mode change", "policy allow"] and web1.outside == 1


def test_no_samples_at_all():
    charts = build_charts(_events()[:3], {}, "audit_report.md")
    assert [(h.host, h.charts, h.missing) for h in charts] == [("local", (), METRICS)]
    assert build_charts([], {}, "audit_report.md") == []


# --- time axis and SVG -----------------------------------------------------------

def test_time_ticks_are_round_and_inside_the_range():
    assert time_ticks(_at(3), _at(62)) == [(T0.timestamp() + s, f"08:00:{s:02d}" if s < 60 else "08:01:00")
                                            for s in (10, 20, 30, 40, 50, 60)]
    hours = time_ticks(T0, _at(2 * 3600))
    assert [label for _, label in hours] == ["08:00", "08:30", "09:00", "09:30", "10:00"]
    days = time_ticks(T0, _at(3 * 86400))
    assert [label for _, label in days][:2] == ["12-01 12:00", "12-02 00:00"] and len(days) <= 8
    weeks = time_ticks(T0, _at(10 * 86400))
    assert all(re.fullmatch(r"2026-12-\d\d", label) for _, label in weeks) and 2 <= len(weeks) <= 8
    across = time_ticks(_at(14 * 3600), _at(17 * 3600))  # 22:00 to 01:00
    assert across[0][1].startswith("12-01 ") and across[-1][1].startswith("12-02 ")


def test_the_svg_is_standalone_and_draws_the_series_and_markers():
    local = build_charts(_events(), {"local": _samples()}, "audit_report.md")[0]
    svg = render_svg(local.charts[0], "sd1-error_rate")
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert 'id="chart-sd1-error_rate"' in svg and "#chart-sd1-error_rate " in svg
    assert "<script" not in svg and "kozea.github.io" not in svg
    assert "Generated with pygal" in svg and not re.search(r"pygal[^>]* on \d{4}-", svg)  # no date: reproducible
    assert render_svg(local.charts[0], "sd1-error_rate") == svg
    assert not re.search(r'(href|src)="(https?:)?//', svg)
    assert "Error rate on local" in svg and "time (UTC), 2026-12-01" in svg
    for legend in ("stable", "canary", "policy allow (1)", "policy deny (2)", "mode change (1)",
                   "rollback (1)", "traffic (2)"):
        assert f">{legend}<" in svg
    assert svg.count('class="dot reactive tooltip-trigger"') == 8 + 4 + 2 * 7  # two dots per marker line
    assert "50.00%" in svg  # values are formatted
    for n in range(1, 8):
        assert f'class="label">{n}<' in svg  # numbered as in the report's table


def test_a_dense_track_is_a_line_without_dots():
    samples = [{"timestamp": (T0 + timedelta(seconds=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "tracks": {"stable": {"error_rate": 0.01, "p99_latency_ms": 30.0}}} for i in range(1000)]
    chart = build_charts([], {"h": samples}, "r.md")[0].charts[1]
    assert chart.samples == 1000 and chart.points == 500
    svg = render_svg(chart, "c1")
    assert 'class="dot' not in svg and 'class="line reactive nofill"' in svg
    assert len(svg) < 60_000


def test_render_svg_refuses_an_id_that_would_break_its_css():
    chart = build_charts([], {"h": _samples()}, "r.md")[0].charts[0]
    for bad in ("a.b", "1x", "a b", ""):
        with pytest.raises(ValueError):
            render_svg(chart, bad)


# --- Markdown and HTML --------------------------------------------------------------

def test_the_markdown_links_the_charts_and_numbers_the_markers():
    charts = build_charts(_events(), {"local": _samples()}, "audit report.md")
    text = render_report(_events(), verify=None, generated_at="2026-12-01T10:00:00Z", charts=charts)
    section = text[text.index("## Error rate and p99 latency"):text.index("## Timeline")]
    assert text.index("## Hosts") < text.index("## Error rate and p99 latency")
    assert "![Error rate on local](audit%20report.local.error_rate.svg)" in section
    assert "![p99 latency on local](audit%20report.local.p99.svg)" in section
    assert "![Error rate on old-box](audit%20report.old-box.error_rate.svg)" in section
    assert "|   1 | 2026-12-01T08:00:04.000Z | policy allow | policy_check" in section
    assert "|   7 | 2026-12-01T08:00:24.500Z | traffic" in section
    assert "1 more policy decision or change on this host falls outside the sampled time and is not drawn" in section
    assert "No error-rate or p99 samples for: web1." in section


def test_the_markdown_says_so_when_there_are_no_samples():
    events = [e for e in _events() if e["event_type"] != "status_scrape"]
    text = render_report(events, verify=None, generated_at="now", charts=build_charts(events, {}, "r.md"))
    section = text[text.index("## Error rate and p99 latency"):text.index("## Timeline")]
    assert "No error-rate or p99 samples have been recorded yet" in section
    assert "![" not in text and ".svg" not in text
    empty = render_report([], verify=None, generated_at="now", charts=[])
    assert empty.endswith("No error-rate or p99 samples have been recorded yet: `inv status` records one per "
                          "frame while it runs, and each canary gate decision adds the windows it judged.\n")


def test_samples_without_events_are_still_charted():
    charts = build_charts([], {"local": _samples()}, "audit_report.md")
    text = render_report([], verify=None, generated_at="now", charts=charts)
    assert "No events have been recorded yet." in text and "(audit_report.local.p99.svg)" in text
    assert "No policy decisions, mode changes, rollbacks or traffic moves in the sampled time." in text


def test_the_html_is_self_contained_and_escaped():
    events = _events() + [{"timestamp": "2026-12-01T08:00:30.000Z", "event_type": "deploy", "host": "<b>x</b>",
                           "actor": "a", "data": {"summary": "<script>alert(1)</script>"}}]
    charts = build_charts(events, {"local": _samples()}, "audit_report.md")
    svgs = {c.file_name: render_svg(c, f"sd{i}-{c.metric.tag}") for i, h in enumerate(charts, 1) for c in h.charts}
    verify = VerifyResult(False, 20, 3, "line 3 was altered: its content does not match its hash", unreadable_lines=(7,))
    page = render_html(events, verify=verify, generated_at="2026-12-01T10:00:00Z", charts=charts, svgs=svgs)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 4 and page.count('<figure class="chart"') == 4
    assert "<script" not in page and "&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert not re.search(r'(href|src)="', page) and "@import" not in page and "url(" not in page
    # the only addresses are the SVG namespace and pygal's credit comments, nothing fetched
    assert set(re.findall(r"https?://[^\s\"'<>-]+", page)) <= {"http://www.w3.org/2000/svg", "http://pygal.org",
                                                             "http://github.com/Kozea/pygal"}
    assert "✗ verification FAILED at line 3" in page and "line 7 of the history is not a JSON event" in page
    assert "❌" not in page and "✅" not in page  # text glyphs, drawn without an emoji font
    good = render_html(events, verify=VerifyResult(True, 20, None, ""), generated_at="now", charts=charts, svgs=svgs)
    assert "✓ hash chain verified (20 lines" in good
    assert '<section class="host" data-host="local">' in page
    assert '<figure class="chart" data-metric="error_rate" data-points="12">' in page
    assert "<h2>Policy violations</h2>" in page and "disk free 1.0 GB" in page


# --- writing the files ---------------------------------------------------------------

def _project(tmp_path: Path) -> Path:
    (tmp_path / ".swiftdeploy").mkdir(parents=True)
    shutil.copy(FIXTURES / "metrics-local.jsonl", metrics_history.history_path(tmp_path, "local"))
    return tmp_path


def test_write_report_writes_markdown_svgs_and_html(tmp_path):
    root = _project(tmp_path)
    paths = write_report(root, root / "audit_report.md", _events(), None, "2026-12-01T10:00:00Z")
    names = [p.name for p in paths]
    assert names == ["audit_report.md", "audit_report.local.error_rate.svg", "audit_report.local.p99.svg",
                     "audit_report.old-box.error_rate.svg", "audit_report.old-box.p99.svg", "audit_report.html"]
    assert all(p.is_file() and p.parent == root for p in paths)
    md = (root / "audit_report.md").read_text(encoding="utf-8")
    for name in names[1:5]:
        assert f"]({name})" in md
        assert (root / name).read_text(encoding="utf-8").startswith("<svg")
    page = (root / "audit_report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 4
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_write_report_without_samples_writes_no_svg(tmp_path):
    paths = write_report(tmp_path, tmp_path / "audit_report.md", _events()[:5], None, "now")
    assert [p.name for p in paths] == ["audit_report.md", "audit_report.html"]
    assert "No error-rate or p99 samples have been recorded yet" in (tmp_path / "audit_report.md").read_text()


def test_write_report_in_a_subdirectory(tmp_path):
    root = _project(tmp_path)
    paths = write_report(root, root / "reports" / "audit.md", [], None, "now")
    assert [p.relative_to(root).as_posix() for p in paths] == [
        "reports/audit.md", "reports/audit.local.error_rate.svg", "reports/audit.local.p99.svg", "reports/audit.html"]


def test_samples_of_a_host_without_events_are_read_too(tmp_path):
    root = _project(tmp_path)
    metrics_history.record(root, "deploy@h1:22", {"timestamp": "2026-12-01T08:00:00Z", "mode": "stable",
                                                  "tracks": {"stable": {"error_rate": 0.0, "p99_latency_ms": 3.0}}})
    got = read_samples(root, ["local", "web1"])
    assert sorted(got) == ["deploy_h1_22", "local", "web1"] and got["web1"] == [] and len(got["local"]) == 8


def test_the_html_name():
    assert html_path(Path("/p/audit_report.md")) == Path("/p/audit_report.html")
    assert html_path(Path("/p/report")) == Path("/p/report.html")
    assert html_path(Path("/p/report.html")) == Path("/p/report.html.html")


def test_write_report_refuses_paths_outside_the_project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    with pytest.raises(UsageError):
        write_report(root, tmp_path / "audit_report.md", [], None, "now")
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(UsageError):
        write_report(root, root / "out" / "audit_report.md", [], None, "now")
    assert not (tmp_path / "audit_report.md").exists()


def test_a_metrics_file_linked_out_of_the_project_is_refused(tmp_path):
    root = tmp_path / "project"
    (root / ".swiftdeploy").mkdir(parents=True)
    shutil.copy(FIXTURES / "metrics-local.jsonl", tmp_path / "elsewhere.jsonl")
    metrics_history.history_path(root, "local").symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(UsageError):
        write_report(root, root / "audit_report.md", _events(), None, "now")


def test_a_metrics_fifo_is_refused_not_read(tmp_path):
    root = tmp_path
    (root / ".swiftdeploy").mkdir()
    os.mkfifo(metrics_history.history_path(root, "local"))
    with pytest.raises(ConfigError):
        write_report(root, root / "audit_report.md", _events(), None, "now")


def test_a_linked_svg_is_replaced_not_followed(tmp_path):
    root = _project(tmp_path / "project")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (root / "audit_report.local.p99.svg").symlink_to(victim)
    write_report(root, root / "audit_report.md", _events(), None, "now")
    assert victim.read_text() == "keep" and not (root / "audit_report.local.p99.svg").is_symlink()


def test_a_project_reached_through_a_link(tmp_path):
    real = _project(tmp_path / "x" / "y" / "real")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "link").symlink_to(real)
    linked = tmp_path / "a" / "link"
    # Project.root may be the linked spelling while Project.report_path is resolved
    for report in (real / "audit_report.md", linked / "audit_report.md"):
        paths = write_report(linked, report, _events(), None, "now")
        assert all(p.parent == real for p in paths) and len(paths) == 6


def test_values_are_formatted_for_reading():
    assert [ERROR_RATE.format(v) for v in (0, 0.0123, 1)] == ["0.00%", "1.23%", "100.00%"]
    assert [P99.format(v) for v in (0, 0.25, 2.5, 41.5, 812, 12345.6)] == [
        "0 ms", "0.25 ms", "2.5 ms", "42 ms", "812 ms", "12,346 ms"]
