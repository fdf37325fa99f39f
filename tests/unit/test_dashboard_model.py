"""swiftlib.dashboard.model: the page's JSON from fixture frames, samples and audit events (pure)."""
from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from swiftlib.dashboard import model
from swiftlib.dashboard.model import Snapshot
from swiftlib.errors import UsageError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dashboard"
T0 = 1796112000.0  # 2026-12-01T08:00:00Z
UTC = timezone.utc


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def samples() -> list[dict]:
    out = []
    for line in (FIXTURES / "samples.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn line, as metrics_history.read skips it
    return out


def snap(**kw) -> Snapshot:
    base = dict(host="local", interval=2.0, started_at=T0 - 60, canary_steps=(10, 25, 50))
    return Snapshot(**{**base, **kw})


def strict_json(doc) -> dict:
    """What the browser gets: JSON with no NaN, round-tripped."""
    return json.loads(json.dumps(doc, allow_nan=False))


# ------------------------------------------------------------------- the latest frame

def test_a_canary_frame_shows_mode_versions_weight_and_each_track():
    view = model.frame_view(fixture("frame_canary.json"))
    assert (view["mode"], view["version"], view["canary_version"]) == ("canary", "1.0.0", "2.0.0")
    assert view["weight"] == 25 and view["split_text"] == "stable 75% / canary 25%"
    assert (view["req_per_s"], view["error_rate"], view["p99_latency_ms"]) == (3.25, 0.0462, 48.7)
    tracks = {t["name"]: t for t in view["tracks"]}
    assert tracks["stable"]["weight"] == 75 and tracks["canary"]["weight"] == 25
    assert tracks["canary"]["chaos"] == "error" and tracks["stable"]["req_per_s"] == 9.75
    assert view["engine"] == "embedded" and view["judged"] == "canary"  # the headline is the canary's


def test_a_track_that_should_answer_but_does_not_is_a_row_that_says_so():
    """A stuck canary vanished from the page (and the headline judged stable's numbers in its place)."""
    frame = fixture("frame_canary.json")
    del frame["tracks"]["canary"]
    frame["missing_tracks"] = {"canary": "does not answer (10% of the traffic goes to it)"}
    rows = {t["name"]: t for t in model.frame_view(frame)["tracks"]}
    assert rows["canary"]["missing"] is True and rows["canary"]["chaos"].startswith("MISSING: does not answer")
    assert rows["canary"]["error_rate"] is None and rows["canary"]["weight"] == frame["split"]["canary"]
    assert "missing" not in rows["stable"]


def test_the_frame_says_which_metrics_source_the_gate_uses():
    frame = fixture("frame_canary.json")
    assert model.frame_view(frame)["metrics_source"] == "scrape"  # a frame from before the field: the default
    assert model.frame_view({**frame, "metrics_source": "prometheus"})["metrics_source"] == "prometheus"


def test_each_policy_keeps_its_decision_and_reasons():
    policies = model.frame_view(fixture("frame_canary.json"))["policies"]
    assert [(p["domain"], p["verdict"], p["allow"]) for p in policies] == [
        ("infrastructure", "ALLOW", True), ("canary", "DENY", False)]
    assert policies[1]["reasons"] == ["error rate 4.62% > limit 1.00%", "13 requests in the window (need 10)"]
    assert policies[1]["question"] == "pre_promote"


def test_a_stable_frame_has_one_track_no_canary_and_a_host_stats_error():
    view = model.frame_view(fixture("frame_stable.json"))
    assert view["weight"] == 0 and view["canary_version"] is None
    assert [t["name"] for t in view["tracks"]] == ["stable"] and view["split_text"] == "stable 100%"
    assert view["judged"] == "stable"
    assert view["host_stats"] == {"error": "df: cannot read /var/lib/docker"}
    assert view["policies"][0]["verdict"] == "DENY" and view["policies"][1]["reasons"] == []


def test_numbers_json_cannot_carry_become_null():
    frame = fixture("frame_canary.json")
    frame["tracks"]["canary"]["p99_latency_ms"] = float("nan")
    frame["error_rate"] = float("inf")
    view = strict_json(model.frame_view(frame))
    assert view["error_rate"] is None
    assert {t["name"]: t for t in view["tracks"]}["canary"]["p99_latency_ms"] is None


# ------------------------------------------------------------------- /api/state

def test_a_fresh_frame_is_ok_and_nothing_is_missing():
    doc = strict_json(model.state_document(snap(attempted_at=T0 + 10, frame=fixture("frame_canary.json"),
                                                frame_at=T0 + 10, target_state={"mode": "canary", "weight": 25}),
                                           tz=UTC))
    assert doc["ok"] is True and doc["stale"] is False and doc["missing"] is None
    assert doc["frame"]["weight"] == 25 and doc["frame_at"] == "2026-12-01T08:00:10Z"
    assert doc["host"] == "local" and doc["interval"] == 2.0 and doc["schema"] == model.SCHEMA


def test_a_failed_frame_after_a_good_one_says_since_when_and_why_and_keeps_the_old_frame():
    doc = strict_json(model.state_document(snap(
        attempted_at=T0 + 30, frame=fixture("frame_canary.json"), frame_at=T0 + 10,
        error="no app track answers on the admin listener; is the stack deployed? (inv deploy)",
        failing_since=T0 + 12), tz=UTC))
    assert doc["ok"] is False and doc["stale"] is True
    assert doc["missing"]["text"] == ("no data since 08:00:10: no app track answers on the admin listener; "
                                      "is the stack deployed? (inv deploy)")
    assert doc["missing"]["since"] == "2026-12-01T08:00:10Z"
    assert doc["frame"]["mode"] == "canary"  # shown greyed out, not dropped


def test_never_a_frame_counts_from_the_first_failure_in_the_viewers_time_zone():
    tz = timezone(timedelta(hours=2))
    doc = model.state_document(snap(attempted_at=T0 + 5, error="connection refused", failing_since=T0 + 1), tz=tz)
    assert doc["frame"] is None and doc["stale"] is False
    assert doc["missing"]["text"] == "no data since 10:00:01: connection refused"


def test_before_the_first_attempt_the_page_says_it_is_waiting():
    doc = model.state_document(snap(), tz=UTC)
    assert doc["ok"] is False and doc["frame"] is None
    assert doc["missing"]["text"] == "no data yet: waiting for the first status frame"


def test_errors_beside_the_frame_are_passed_on():
    doc = model.state_document(snap(attempted_at=T0, frame=fixture("frame_stable.json"), frame_at=T0,
                                    record_error="not kept for the charts: disk full",
                                    audit_error="history.jsonl: cannot use as the audit history",
                                    state_error="host unreachable"), tz=UTC)
    assert doc["ok"] is True
    assert doc["record_error"] == "not kept for the charts: disk full"
    assert doc["audit_error"].startswith("history.jsonl") and doc["state_error"] == "host unreachable"


# ------------------------------------------------------------------- audit events

def test_audit_events_newest_first_at_most_twenty_each_in_one_line():
    events = fixture("audit_events.json")
    view = model.audit_view(events * 5)
    assert len(view) == model.AUDIT_EVENTS
    assert view[0]["event_type"] == "something_new" and view[1]["event_type"] == "chaos"
    for row in view:
        assert "\n" not in row["summary"] and set(row) == {"timestamp", "event_type", "host", "actor", "summary", "level"}


def test_audit_summaries_say_what_happened():
    by_type: dict[str, dict] = {}
    for row in model.audit_view(fixture("audit_events.json")):
        by_type.setdefault(row["event_type"], row)  # the newest of each type
    assert by_type["policy_violation"]["summary"] == \
        "canary: deny (embedded) — error rate 4.62% > limit 1.00% (canary window)"
    assert by_type["policy_violation"]["level"] == "bad"
    assert by_type["policy_check"]["summary"] == "canary: allow (embedded) — error rate 0.00% <= 1.00%"
    assert by_type["policy_check"]["level"] == "good"
    assert by_type["policy_engine_failure"]["summary"] == "sidecar engine failed: no answer within 2s"
    assert by_type["traffic"]["summary"] == "stable 75% / canary 25% (rollout step 2/3)"
    assert by_type["mode_change"]["summary"] == "stable → canary (version 2.0.0)"
    assert by_type["deploy"]["summary"] == "changed stable 1.0.0 (embedded)"
    assert by_type["chaos"]["summary"] == "mode=error rate=0.5"
    assert by_type["something_new"]["summary"] == "answer=42 note=kept"


def test_a_long_summary_is_cut():
    event = {"event_type": "rollback", "data": {"from": "canary", "reason": "x" * 1000}}
    assert len(model.audit_summary(event)) == 240 and model.audit_summary(event).endswith("…")


# ------------------------------------------------------------------- rollout progress

def test_a_rollout_entry_in_the_target_state_is_shown_as_it_is():
    progress = model.rollout_progress({"mode": "canary", "weight": 25,
                                       "rollout": {"step": 2, "steps": 3, "weight": 25}}, [])
    assert progress == {"step": 2, "steps": 3, "weight": 25, "fraction": 0.6667, "source": "state",
                        "text": "rollout step 2/3 at 25%"}
    assert model.rollout_progress({"mode": "canary", "rollout": {"step": 3, "steps": 3, "active": False}}, []) is None


def test_a_rollout_step_is_inferred_from_the_state_and_the_last_traffic_move():
    events = fixture("audit_events.json")
    progress = model.rollout_progress({"mode": "canary", "weight": 25}, events, (10, 25, 50), host="local")
    assert progress["step"] == 2 and progress["steps"] == 3 and progress["source"] == "inferred"


def test_no_rollout_when_the_state_is_stable_or_it_was_rolled_back_or_canary_was_promoted_by_hand():
    events = fixture("audit_events.json")
    assert model.rollout_progress({"mode": "stable", "weight": 0}, events, (10, 25, 50)) is None
    rolled_back = events + [{"event_type": "rollback", "host": "local", "data": {"reason": "errors"}}]
    assert model.rollout_progress({"mode": "canary", "weight": 25}, rolled_back, (10, 25, 50), host="local") is None
    by_hand = events[:3]  # promote --mode canary: a traffic move that is no rollout step
    assert model.rollout_progress({"mode": "canary", "weight": 10}, by_hand, (10, 25, 50), host="local") is None


def test_the_state_document_carries_rollout_progress_for_its_host():
    doc = model.state_document(snap(attempted_at=T0, frame=fixture("frame_canary.json"), frame_at=T0,
                                    target_state={"mode": "canary", "weight": 25, "engine": "embedded", "x": 1},
                                    audit_events=fixture("audit_events.json")), tz=UTC)
    assert doc["rollout"]["text"] == "rollout step 2/3 at 25%"
    assert doc["target_state"] == {"mode": "canary", "weight": 25, "engine": "embedded"}
    assert doc["audit"][0]["event_type"] == "something_new"


# ------------------------------------------------------------------- /api/series

def test_series_are_aligned_columns_with_stable_and_canary_apart():
    s = strict_json(model.series_of(samples()))
    assert s["count"] == 4  # the torn line and the sample without a usable timestamp are left out
    assert s["t"] == [T0, T0 + 2, T0 + 4, T0 + 30]
    assert s["stable"]["req_per_s"] == [12.5, 12.0, 9.0, 9.5]
    assert s["canary"]["req_per_s"] == [None, None, 3.0, 3.5]  # the canary line starts when it ran
    assert s["canary"]["error_rate"] == [None, None, 0.0, 0.5]
    assert s["weight"] == [0, 0, 25, 25] and s["mode"] == ["stable", "stable", "canary", "canary"]
    assert (s["first"], s["last"]) == (T0, T0 + 30)
    for track in ("stable", "canary"):
        for f in model.CHART_FIELDS:
            assert len(s[track][f]) == len(s["t"])


def test_a_pause_longer_than_the_gap_breaks_the_lines():
    s = model.series_of(samples(), gap_seconds=10)
    assert s["count"] == 4 and len(s["t"]) == 5
    assert s["t"][3] == T0 + 5 and s["stable"]["p99_latency_ms"][3] is None and s["weight"][3] is None
    assert s["t"][4] == T0 + 30


def test_since_keeps_samples_at_or_after_it_in_time_order():
    rows = samples()
    s = model.series_of(list(reversed(rows)), since=T0 + 2)
    assert s["t"] == [T0 + 2, T0 + 4, T0 + 30] and s["since"] == T0 + 2
    empty = model.series_of(rows, since=T0 + 1000)
    assert empty["t"] == [] and empty["count"] == 0 and empty["last"] is None


def test_an_hour_of_samples_builds_quickly():
    import time

    one = samples()[3]
    hour = [dict(one, timestamp=model.iso(T0 + 2 * i)) for i in range(1800)]
    started = time.perf_counter()
    s = model.series_of(hour, since=T0, gap_seconds=6)
    took = time.perf_counter() - started
    assert s["count"] == 1800 and len(s["t"]) == 1800
    assert took < 0.5, f"series_of took {took:.3f}s for 1800 samples"


def test_timestamps_parse_with_or_without_milliseconds():
    assert model.epoch_of("2026-12-01T08:00:00Z") == T0
    assert model.epoch_of("2026-12-01T08:00:00.250Z") == T0 + 0.25
    assert model.epoch_of("yesterday") is None and model.epoch_of(None) is None
    assert model.clock_time(T0, UTC) == "08:00:00"


def test_the_server_refuses_any_address_but_loopback():
    from swiftlib.dashboard.server import make_server

    for address in ("0.0.0.0", "::", "192.0.2.1", "localhost"):
        with pytest.raises(UsageError, match="127.0.0.1 only"):
            make_server(None, port=0, host=address)  # refused before anything is bound
