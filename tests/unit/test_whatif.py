"""swiftlib.policy.whatif: --set changes an input by key path; --explain shows input, values and limits.

Decisions come from the real embedded engine on the project's policies."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.errors import UsageError
from swiftlib.policy import EmbeddedEngine
from swiftlib.policy.inputs import canary_input
from swiftlib.policy.whatif import apply_sets, explain, parse_set

POLICIES = Path(__file__).resolve().parents[2] / "policies"
LIMITS = {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "evaluation_window_seconds": 30.0, "min_requests": 20}
CLEAN = canary_input({"error_rate": 0.0, "p99_latency_ms": 12.0, "requests": 400, "window_seconds": 30.0}, LIMITS)


@pytest.mark.parametrize("text, path, value", [
    ("metrics.error_rate=0.02", ("metrics", "error_rate"), 0.02),
    ("metrics.requests=5", ("metrics", "requests"), 5),
    ("baseline.note=slow disk", ("baseline", "note"), "slow disk"),
    ('limits.max_p99_latency_ms="500"', ("limits", "max_p99_latency_ms"), "500"),
])
def test_parse_set(text, path, value):
    assert parse_set(text) == (path, value)


@pytest.mark.parametrize("text", ["metrics.error_rate", "=1", "metrics..x=1", "context=pre_deploy"])
def test_a_bad_set_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_set(text)


def test_apply_sets_changes_a_copy():
    changed = apply_sets(CLEAN, ["metrics.error_rate=0.02", "baseline.error_rate=0.0"])
    assert changed["metrics"]["error_rate"] == 0.02 and changed["baseline"] == {"error_rate": 0.0}
    assert CLEAN["metrics"]["error_rate"] == 0.0 and "baseline" not in CLEAN


def test_a_what_if_deny_is_explained_with_values_and_limits():
    changed = apply_sets(CLEAN, ["metrics.error_rate=0.02"])
    decision = EmbeddedEngine(POLICIES).decide("canary", changed).to_dict()
    assert decision["allow"] is False
    text = "\n".join(explain("canary", changed, decision))
    assert '"error_rate": 0.02' in text  # the exact input document
    assert "metrics.error_rate = 0.02   (limits.max_error_rate = 0.01)" in text
    assert "failed conditions:" in text and "error rate 2.00% exceeds the maximum 1.00%" in text
    assert EmbeddedEngine(POLICIES).decide("canary", CLEAN).allow is True
