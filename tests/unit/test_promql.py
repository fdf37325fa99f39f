"""swiftlib.metrics.promql: the canary window's PromQL and the reading of Prometheus' answers.

The fixtures in tests/fixtures/prometheus/ are real answers of Prometheus' query API
(Debian's prometheus 2.42 scraping the app's tracks), recorded by record.py there: a canary
under traffic with 30% chaos errors, stable beside it, a track that is not running (empty
vectors), a canary after traffic stopped (zero and NaN), and a malformed query (HTTP 400).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from swiftlib.errors import MetricsSourceError, PolicyEngineError
from swiftlib.metrics.promql import duration, last_scrape_query, query_url, single_value, window_queries, window_stats

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prometheus"
URL = "http://127.0.0.1:9090"


def load(case: str) -> dict:
    return json.loads((FIXTURES / f"{case}.json").read_text())


def values_of(doc: dict) -> dict[str, float | None]:
    return {name: single_value(a["http_status"], json.dumps(a["answer"]), query=a["query"], url=URL)
            for name, a in doc["answers"].items()}


def stats_of(case: str):
    doc = load(case)
    return window_stats(values_of(doc), doc["window_seconds"], track=doc["track"], url=URL)


def test_the_queries_select_the_track_and_leave_out_the_probe_paths():
    q = window_queries("canary", 60)
    sel = '{track="canary",path!~"/healthz|/metrics|/chaos"}'
    assert q["requests"] == f"sum(increase(http_requests_total{sel}[60s]))"
    assert q["errors"] == ('sum(increase(http_requests_total{track="canary",path!~"/healthz|/metrics|/chaos",'
                           'status_code=~"5.."}[60s])) or vector(0)')
    assert q["p99"] == f"histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket{sel}[60s])))"


@pytest.mark.parametrize("case", ["canary_under_load", "stable_under_load", "track_not_running", "canary_idle"])
def test_the_recorded_queries_are_the_ones_the_code_builds(case):
    doc = load(case)
    built = window_queries(doc["track"], doc["window_seconds"])
    assert {name: a["query"] for name, a in doc["answers"].items()} == built


def test_durations_and_tracks():
    assert (duration(60), duration(4), duration(4.5), duration(0.25)) == ("60s", "4s", "4500ms", "250ms")
    for bad in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError):
            duration(bad)
    with pytest.raises(ValueError, match="unknown track"):
        window_queries('canary"} or vector(1) #', 60)


def test_the_last_scrape_question_takes_the_slowest_of_the_judged_tracks():
    assert last_scrape_query() == 'min(timestamp(up{track=~"canary|stable"}))'
    assert last_scrape_query(("canary",)) == 'min(timestamp(up{track=~"canary"}))'
    with pytest.raises(ValueError, match="unknown track"):
        last_scrape_query(("canary", '.*"}) or vector(1e12) #'))


def test_the_query_url_is_encoded_and_carries_the_window_end():
    url = query_url(URL + "/", 'sum(x{track="canary"})', 1796135782.8431)
    assert url == (f"{URL}/api/v1/query?query=sum%28x%7Btrack%3D%22canary%22%7D%29&time=1796135782.843")


def test_a_canary_under_traffic_with_errors():
    stats = stats_of("canary_under_load")
    assert (stats.requests, stats.errors) == (168, 57)  # 167.78 and 56.67: increase() extrapolates
    assert stats.error_rate == pytest.approx(57 / 168)
    assert stats.p99_latency_ms == pytest.approx(4.95)  # 99% into the 0-5 ms bucket, as histogram_quantile
    assert (stats.window_seconds, stats.req_per_s) == (10, pytest.approx(16.8))


def test_stable_without_5xx_series_has_zero_errors_not_missing_data():
    stats = stats_of("stable_under_load")
    assert (stats.requests, stats.errors, stats.error_rate) == (134, 0, 0.0)


def test_a_track_with_series_but_no_traffic_in_the_window_is_zero_not_empty():
    stats = stats_of("canary_idle")
    assert (stats.requests, stats.errors, stats.error_rate, stats.p99_latency_ms) == (0, 0, 0.0, 0.0)  # NaN p99 -> 0


def test_an_empty_result_fails_closed_naming_prometheus_and_what_is_missing():
    doc = load("track_not_running")
    with pytest.raises(MetricsSourceError) as info:
        window_stats(values_of(doc), doc["window_seconds"], track="next", url=URL)
    err = info.value
    assert isinstance(err, PolicyEngineError) and err.exit_code == 4 and err.reason == "empty_result"
    assert URL in err.message and "no requests or p99 samples for the next track" in err.message


def test_an_api_error_fails_closed_with_prometheus_own_words():
    a = load("bad_query")["answers"]["requests"]
    assert a["http_status"] == 400
    with pytest.raises(MetricsSourceError) as info:
        single_value(a["http_status"], json.dumps(a["answer"]), query=a["query"], url=URL)
    assert info.value.reason == "api_error" and info.value.exit_code == 4
    assert "HTTP 400, bad_data" in info.value.message and "unclosed left parenthesis" in info.value.message


@pytest.mark.parametrize("body, reason", [
    ("<html>502 Bad Gateway</html>", "bad_answer"),
    ('{"status": "success", "data": {"resultType": "matrix", "result": []}}', "bad_answer"),
    ('{"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}, {"value": [1, "2"]}]}}',
     "bad_answer"),
    ('{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}', "bad_answer"),
    ('{"status": "error", "errorType": "timeout", "error": "query timed out"}', "api_error"),
    ("[1, 2]", "api_error"),
])
def test_answers_that_are_not_one_number_fail_closed(body, reason):
    with pytest.raises(MetricsSourceError) as info:
        single_value(200, body, query="q", url=URL)
    assert info.value.reason == reason and URL in info.value.message


def test_an_infinite_p99_is_not_a_number_the_policy_can_judge():
    with pytest.raises(MetricsSourceError, match="infinite p99"):
        window_stats({"requests": 5.0, "errors": 0.0, "p99": math.inf}, 10, track="canary", url=URL)
