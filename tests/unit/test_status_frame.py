"""The text `inv status` prints for one frame (lifecycle.status.format_frame, pure)."""
from __future__ import annotations

import copy

from swiftlib.observe.status import format_frame


def track(mode: str, **numbers) -> dict:
    base = {"mode": mode, "chaos": "none", "req_per_s": 12.5, "error_rate": 0.0, "p99_latency_ms": 8.0,
            "requests": 50, "window_seconds": 4.0, "uptime_seconds": 61.0}
    return {**base, **numbers}


FRAME = {
    "timestamp": "2026-12-02T01:00:00Z", "host": "local", "mode": "canary", "version": "1.0.0",
    "canary_version": "2.0.0", "weight": 10, "split": {"stable": 90, "canary": 10},
    "tracks": {"stable": track("stable"), "canary": track("canary", chaos="error 0.5", error_rate=0.48, requests=25)},
    "engine": "embedded", "metrics_source": "scrape",
    "policies": [
        {"domain": "infrastructure", "allow": True, "reasons": ["infrastructure policy passed"]},
        {"domain": "canary", "allow": False, "reasons": ["error rate 48.00% exceeds the maximum 1.00%"]},
    ],
}


def test_a_frame_shows_versions_the_split_each_track_and_each_decision():
    text = format_frame(FRAME)
    assert "1.0.0  (canary 2.0.0)" in text and "stable 90% / canary 10%" in text
    lines = text.splitlines()
    canary = next(line for line in lines if line.startswith("canary "))
    assert "error 0.5" in canary and "48.00%" in canary and "25 in 4s" in canary
    assert "policies (embedded engine):" in lines
    assert "  DENY  canary: error rate 48.00% exceeds the maximum 1.00%" in lines
    assert "  ALLOW infrastructure: infrastructure policy passed" in lines


def test_with_the_prometheus_source_the_frame_says_what_its_decisions_are_judged_on():
    frame = copy.deepcopy(FRAME)
    frame["metrics_source"] = "prometheus"
    assert "policies (embedded engine, on the numbers above; `inv promote` asks Prometheus):" in format_frame(frame)


def test_with_prometheus_answering_the_frame_says_its_numbers_are_the_gates():
    frame = copy.deepcopy(FRAME)
    frame.update(metrics_source="prometheus", numbers_from="prometheus")
    assert "policies (embedded engine, on Prometheus' numbers, as the gate reads them):" in format_frame(frame)
    frame.update(numbers_from="scrape", numbers_note="Prometheus did not answer: connection refused")
    assert ("policies (embedded engine, on the numbers above (Prometheus did not answer: connection refused); "
            "`inv promote` asks Prometheus):") in format_frame(frame)


def test_a_frame_recorded_before_the_source_was_kept_still_formats():
    frame = copy.deepcopy(FRAME)
    del frame["metrics_source"]
    assert "policies (embedded engine):" in format_frame(frame)


def test_a_track_that_should_answer_but_does_not_is_a_row_of_its_own():
    """A stuck canary used to vanish from the table (and the frame said mode stable)."""
    frame = copy.deepcopy(FRAME)
    del frame["tracks"]["canary"]
    frame["missing_tracks"] = {"canary": "does not answer (10% of the traffic goes to it)"}
    row = next(line for line in format_frame(frame).splitlines() if line.startswith("canary "))
    assert "MISSING" in row and "10% of the traffic goes to it" in row


def test_which_tracks_should_answer():
    from swiftlib.observe.status import expected_tracks

    assert expected_tracks("stable", {"stable": 100}) == ["stable"]
    assert expected_tracks("canary", {"stable": 100}) == ["stable", "canary"]  # started, no share yet
    assert expected_tracks("stable", {"stable": 70, "canary": 30}) == ["stable", "canary"]  # the split says so
    assert expected_tracks("canary", {"canary": 100}) == ["stable", "canary"]
