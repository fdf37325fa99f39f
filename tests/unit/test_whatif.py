"""swiftlib.policy.whatif: --set changes an input by key path; --explain shows input, values and limits.

Decisions come from the real embedded engine on the project's policies."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.errors import UsageError
from swiftlib.policy import EmbeddedEngine
from swiftlib.policy.inputs import canary_input
from swiftlib.policy.inputs import normalised
from swiftlib.policy.whatif import apply_sets, explain, fresh_input, parse_set

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


@pytest.mark.parametrize("text, said", [
    ("metric.error_rate=0.02", "no field metric.error_rate; did you mean metrics.error_rate?"),
    ("metrics.eror_rate=0.02", "did you mean metrics.error_rate?"),
    ("stats.cpu_load=7.5", "no field stats.cpu_load"),  # an infrastructure field on a canary input
    ("limits=1", "no field limits"),  # a whole section, not a field
])
def test_a_field_the_input_does_not_have_is_refused_naming_the_fields_it_has(text, said):
    with pytest.raises(UsageError, match="the policy input has no field") as exc:
        apply_sets(CLEAN, [text])
    assert said in str(exc.value) and "metrics.error_rate" in str(exc.value)


def test_an_infrastructure_input_takes_its_own_fields_and_has_no_baseline():
    infra = {"context": "pre_deploy", "limits": {"max_cpu_load": 8.0, "min_disk_free_gb": 5.0},
             "stats": {"cpu_load": 0.5, "disk_free_gb": 80.0}}
    assert apply_sets(infra, ["stats.cpu_load=7.5"])["stats"]["cpu_load"] == 7.5
    with pytest.raises(UsageError, match="did you mean stats.cpu_load"):
        apply_sets(infra, ["host.cpu_load=7.5"])
    with pytest.raises(UsageError, match="no field baseline.error_rate"):
        apply_sets(infra, ["baseline.error_rate=0"])


def test_a_what_if_deny_is_explained_with_values_and_limits():
    changed = apply_sets(CLEAN, ["metrics.error_rate=0.02"])
    decision = EmbeddedEngine(POLICIES).decide("canary", changed).to_dict()
    assert decision["allow"] is False
    text = "\n".join(explain("canary", changed, decision))
    assert '"error_rate": 0.02' in text  # the exact input document
    assert "metrics.error_rate = 0.02   (limits.max_error_rate = 0.01)" in text
    assert "failed conditions:" in text and "error rate 2.00% exceeds the maximum 1.00%" in text
    assert EmbeddedEngine(POLICIES).decide("canary", CLEAN).allow is True


def test_a_what_if_with_no_earlier_decision_is_answered_when_the_values_make_a_whole_input():
    sets = ["metrics.error_rate=0.5", "metrics.requests=100", "metrics.p99_latency_ms=5", "metrics.window_seconds=30"]
    document = normalised("canary", fresh_input("canary", "pre_promote", LIMITS, sets))
    assert document == canary_input({"error_rate": 0.5, "requests": 100, "p99_latency_ms": 5.0, "window_seconds": 30.0},
                                    LIMITS)
    assert isinstance(document["metrics"]["p99_latency_ms"], float)  # shaped as a measured input is
    decision = EmbeddedEngine(POLICIES).decide("canary", document)
    assert not decision.allow and any("error rate" in reason for reason in decision.reasons)


def test_a_what_if_with_no_earlier_decision_names_every_missing_field():
    with pytest.raises(UsageError) as info:
        fresh_input("infrastructure", "pre_deploy", {"min_disk_free_gb": 1.0, "max_cpu_load": 2.0},
                    ["stats.disk_free_gb=0.1", "stats.cpu_load=9"])
    assert "--set does not give stats.cpu_count, stats.mem_available_mb; set them too" in info.value.message
    assert "run `inv opa-check --context pre_deploy` once" in info.value.message


def test_a_deny_for_too_few_requests_says_what_traffic_the_window_needs():
    from swiftlib.lifecycle.gates import traffic_advice

    advice = traffic_advice({"requests": 0, "window_seconds": 60.0}, 20, 10)
    assert "the canary gets 10% of the public requests and saw 0.0 req/s" in advice
    assert "send at least 3.3 req/s to the public port while it is measured" in advice  # 20 in 60 s at 10%
    assert "no public request goes to the canary" in traffic_advice({"requests": 3, "window_seconds": 30.0}, 20, 0)
    assert traffic_advice({"requests": 25, "window_seconds": 60.0}, 20, 10) == ""  # enough: nothing to add


@pytest.mark.parametrize("text", ["metrics.error_rate=abc", "limits.max_error_rate=true", "baseline.requests=\"5\"",
                                  "metrics.error_rate=NaN", "metrics.p99_latency_ms=Infinity", "baseline.error_rate=-Infinity",
                                  "metrics.requests=1e999"])
def test_a_what_if_that_puts_text_where_a_number_goes_is_bad_input_not_a_deny(text):
    with pytest.raises(UsageError, match="is a finite number \\(or null to leave it out\\)"):
        apply_sets(CLEAN, [text])
    assert apply_sets(CLEAN, ["metrics.error_rate=null"])["metrics"]["error_rate"] is None  # the missing-field case
