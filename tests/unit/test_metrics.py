"""Scrape parsing and window math, driven by real prometheus_client scrapes.

Expected numbers are worked out by hand from the observations listed in
tests/fixtures/metrics/generate.py; the arithmetic is in the comments.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from swiftlib.errors import SwiftDeployError
from swiftlib.metrics.scrape import (DEFAULT_EXCLUDED_PATHS, MetricsUnavailable, Scrape, TrackScrape, WindowStats,
                                     histogram_quantile, parse_scrape, parse_track, track_window, window_stats)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "metrics"
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, math.inf)


def scrape(name: str, taken_at: float) -> Scrape:
    return parse_scrape((FIXTURES / name).read_text(), taken_at=taken_at, source=name)


# -- parse_scrape ---------------------------------------------------------------
def test_parse_reads_every_app_series_and_nothing_else() -> None:
    s = scrape("canary_t1.prom", 1060.0)
    assert dict(s.requests) == {
        ("GET", "/", "200"): 140.0,
        ("GET", "/", "500"): 40.0,
        ("GET", "/healthz", "200"): 32.0,
        ("GET", "/metrics", "200"): 7.0,
        ("POST", "/chaos", "200"): 1.0,
    }  # no _created samples, no python_gc/process series
    assert dict(s.buckets[("GET", "/")]) == dict(
        zip(BOUNDS, (120.0, 120.0, 180.0, 180.0, 180.0, 180.0, 180.0, 180.0, 180.0, 180.0, 180.0))
    )
    assert set(s.buckets) == {("GET", "/"), ("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/chaos")}
    assert s.duration_count[("GET", "/healthz")] == 32.0
    assert s.duration_sum[("GET", "/healthz")] == pytest.approx(20 * 0.001 + 12 * 1.5)
    assert (s.mode, s.chaos, s.uptime_seconds, s.taken_at) == (1, 2, 160.0, 1060.0)
    assert (s.mode_name, s.chaos_name) == ("canary", "error")


def test_parse_fresh_stable_app() -> None:
    s = scrape("fresh.prom", 5.0)
    assert (s.mode_name, s.chaos_name, s.uptime_seconds) == ("stable", "none", 3.2)
    assert dict(s.requests) == {("GET", "/healthz", "200"): 2.0}


def test_scrape_cannot_be_changed() -> None:
    s = scrape("canary_t0.prom", 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mode = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.requests[("GET", "/", "200")] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError):
        s.buckets[("GET", "/")][0.005] = 0.0  # type: ignore[index]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("nginx_502.html", "not Prometheus text format"),
        ("truncated.prom", "not Prometheus text format"),
        ("not_the_app.prom", "no app_mode, chaos_active, app_uptime_seconds"),
    ],
)
def test_unusable_scrapes_raise_metrics_unavailable(name: str, expected: str) -> None:
    with pytest.raises(MetricsUnavailable) as info:
        scrape(name, 1.0)
    assert expected in str(info.value)
    assert str(info.value).startswith(f"{name}: ")
    assert info.value.exit_code == 5
    assert isinstance(info.value, SwiftDeployError)


def test_empty_body_is_unavailable() -> None:
    with pytest.raises(MetricsUnavailable, match="/metrics: no app_mode"):
        parse_scrape("", taken_at=0.0)


def test_fractional_mode_is_rejected() -> None:
    text = "app_mode 0.5\nchaos_active 0\napp_uptime_seconds 1\n"
    with pytest.raises(MetricsUnavailable, match="app_mode must be a whole number"):
        parse_scrape(text, taken_at=0.0)


def test_request_sample_without_status_label_is_rejected() -> None:
    text = 'http_requests_total{method="GET",path="/"} 3\napp_mode 0\nchaos_active 0\napp_uptime_seconds 1\n'
    with pytest.raises(MetricsUnavailable, match="lacks a usable label"):
        parse_scrape(text, taken_at=0.0)


def test_multiprocess_gauges_take_the_largest_value() -> None:
    text = (
        'app_mode{pid="10"} 1\napp_mode{pid="11"} 1\nchaos_active{pid="10"} 0\n'
        'app_uptime_seconds{pid="10"} 40\napp_uptime_seconds{pid="11"} 42.5\n'
    )
    s = parse_scrape(text, taken_at=0.0)
    assert (s.mode, s.chaos, s.uptime_seconds) == (1, 0, 42.5)
    assert dict(s.requests) == {} and dict(s.buckets) == {}


# -- window_stats ---------------------------------------------------------------
def test_window_with_chaos_errors_mixed_in() -> None:
    w = window_stats(scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0))
    # 60 x 200 + 40 x 500 on "/"; /chaos, /healthz, /metrics left out.
    assert (w.requests, w.errors, w.window_seconds) == (100, 40, 60.0)
    assert w.error_rate == pytest.approx(0.4)
    assert w.req_per_s == pytest.approx(100 / 60)
    # buckets: 40 in (0, .005], 60 in (.01, .025]; rank 99 -> .01 + .015 * 59/60
    assert w.p99_latency_ms == pytest.approx(24.75)


def test_errors_of_every_status_and_path_add_up() -> None:
    def at(taken_at: float, count: int) -> Scrape:
        lines = [f'http_requests_total{{method="GET",path="{path}",status_code="{status}"}} {count}'
                 for path in ("/", "/api") for status in ("200", "500", "503")]
        return parse_scrape("\n".join(lines + ["app_mode 1", "chaos_active 0", f"app_uptime_seconds {taken_at}"]),
                            taken_at=taken_at)

    w = window_stats(at(100.0, 10), at(130.0, 25))
    assert (w.requests, w.errors) == (90, 60)  # 15 more of each of six series, four of them 5xx


def test_since_start_when_there_is_no_earlier_scrape() -> None:
    w = window_stats(None, scrape("canary_t1.prom", 1060.0))
    assert (w.requests, w.errors, w.window_seconds) == (180, 40, 160.0)
    assert w.error_rate == pytest.approx(40 / 180)
    assert w.req_per_s == pytest.approx(180 / 160)
    # 120 in (0, .005], 60 in (.01, .025]; rank 178.2 -> .01 + .015 * 58.2/60
    assert w.p99_latency_ms == pytest.approx(24.55)


def test_restarted_app_counts_from_zero() -> None:
    w = window_stats(scrape("canary_t1.prom", 1060.0), scrape("canary_t2_restarted.prom", 1090.0))
    # The 40 errors before the restart are gone with the old process.
    assert (w.requests, w.errors, w.error_rate, w.window_seconds) == (30, 0, 0.0, 30.0)
    assert w.req_per_s == pytest.approx(1.0)
    # 30 in (.05, .1]; rank 29.7 -> .05 + .05 * 29.7/30
    assert w.p99_latency_ms == pytest.approx(99.5)


def _hand_scrape(taken_at: float, uptime: float, ok: float, failed: float, buckets: dict[float, float]) -> Scrape:
    return Scrape(
        taken_at=taken_at, mode=1, chaos=2, uptime_seconds=uptime,
        requests={("GET", "/", "200"): ok, ("GET", "/", "503"): failed},
        buckets={("GET", "/"): buckets},
    )


def test_counter_reset_seen_per_series_like_prometheus() -> None:
    # Uptime went up (say a worker was replaced), yet the 200s counter dropped:
    # that series counts from zero, the 503s series increases normally.
    before = _hand_scrape(0.0, 100.0, ok=100, failed=10, buckets={0.1: 110, math.inf: 110})
    after = _hand_scrape(10.0, 110.0, ok=20, failed=15, buckets={0.1: 35, math.inf: 35})
    w = window_stats(before, after)
    assert (w.requests, w.errors) == (20 + 5, 5)
    # The histogram dropped too, so it counts from zero as a whole: 35 in (0, .1].
    assert w.p99_latency_ms == pytest.approx(0.1 * 0.99 * 1000)


def test_histogram_reset_is_judged_as_a_whole() -> None:
    # Only the 0.1 bucket dropped (20 -> 15). Bucket by bucket that would give
    # 15 (reset) under 0.1 but 5 under 1 and +Inf: not cumulative any more.
    before = _hand_scrape(0.0, 100.0, ok=30, failed=0, buckets={0.1: 20, 1.0: 30, math.inf: 30})
    after = _hand_scrape(10.0, 110.0, ok=35, failed=0, buckets={0.1: 15, 1.0: 35, math.inf: 35})
    w = window_stats(before, after)
    # after's own buckets: rank 34.65 -> .1 + .9 * (34.65 - 15) / 20
    assert w.p99_latency_ms == pytest.approx(1000 * (0.1 + 0.9 * 19.65 / 20))
    assert w.requests == 5


def test_uptime_going_back_means_every_series_restarted() -> None:
    # The new process already served more 200s (25) than the old one had (10):
    # per series that looks like +15, but uptime says all 25 are new.
    before = _hand_scrape(0.0, 500.0, ok=10, failed=4, buckets={0.1: 14, math.inf: 14})
    after = _hand_scrape(60.0, 30.0, ok=25, failed=0, buckets={0.1: 25, math.inf: 25})
    w = window_stats(before, after)
    assert (w.requests, w.errors, w.window_seconds) == (25, 0, 60.0)
    assert w.p99_latency_ms == pytest.approx(0.1 * 0.99 * 1000)


def test_new_series_and_requests_beyond_the_last_bucket() -> None:
    w = window_stats(scrape("slow_t0.prom", 50.0), scrape("slow_t1.prom", 80.0))
    # New: /version 5 x 200, /missing 2 x 404 (not an error); "/" 5 more, all at 7 s.
    assert (w.requests, w.errors, w.error_rate) == (12, 0, 0.0)
    assert w.req_per_s == pytest.approx(12 / 30)
    # rank 11.88 of 12 lands in +Inf: Prometheus answers the largest finite bound, 5 s.
    assert w.p99_latency_ms == pytest.approx(5000.0)


def test_excluded_paths_change_the_answer() -> None:
    t0, t1 = scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0)
    w = window_stats(t0, t1, exclude_paths=())
    assert (w.requests, w.errors) == (115, 40)  # + 1 /chaos, 12 /healthz, 2 /metrics
    # 43 <= .005, 103 <= .025, 115 <= 2 (slow probes); rank 113.85 -> 1 + 1 * 10.85/12
    assert w.p99_latency_ms == pytest.approx(1000 * (1 + 10.85 / 12))
    assert DEFAULT_EXCLUDED_PATHS == ("/healthz", "/metrics", "/chaos")


@pytest.mark.parametrize(
    "before, after, window",
    [
        (None, "fresh.prom", 3.2),  # only health probes since start
        ("canary_t0.prom", "canary_t0.prom", 30.0),  # the same numbers 30 s later
    ],
)
def test_zero_requests(before: str | None, after: str, window: float) -> None:
    first = scrape(before, 0.0) if before else None
    w = window_stats(first, scrape(after, window))
    assert w == WindowStats(requests=0, errors=0, error_rate=0.0, p99_latency_ms=0.0, req_per_s=0.0,
                            window_seconds=window)


def test_all_paths_excluded_means_no_requests() -> None:
    w = window_stats(None, scrape("canary_t1.prom", 0.0), exclude_paths=("/", "/healthz", "/metrics", "/chaos"))
    assert (w.requests, w.error_rate, w.p99_latency_ms) == (0, 0.0, 0.0)


def test_zero_uptime_gives_zero_rate() -> None:
    after = Scrape(taken_at=0.0, mode=0, chaos=0, uptime_seconds=0.0, requests={("GET", "/", "200"): 3})
    assert window_stats(None, after).req_per_s == 0.0


@pytest.mark.parametrize("gap", [0.0, -5.0])
def test_after_must_be_later_than_before(gap: float) -> None:
    t0 = scrape("canary_t0.prom", 1000.0)
    with pytest.raises(ValueError, match="must be later"):
        window_stats(t0, scrape("canary_t1.prom", 1000.0 + gap))


def test_to_dict_is_the_policy_input() -> None:
    w = window_stats(scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0))
    assert w.to_dict() == {
        "requests": 100, "errors": 40, "error_rate": w.error_rate, "p99_latency_ms": w.p99_latency_ms,
        "req_per_s": w.req_per_s, "window_seconds": 60.0,
    }


# -- histogram_quantile -----------------------------------------------------------
INF = math.inf


@pytest.mark.parametrize(
    "q, buckets, expected",
    [
        # rank on a bucket boundary answers that bucket's upper bound
        (0.5, [(0.1, 50), (0.25, 100), (INF, 100)], 0.1),
        # linear interpolation inside a bucket: 1 + (2 - 1) * (15 - 10) / 20
        (0.5, [(1, 10), (2, 30), (INF, 30)], 1.25),
        # all in the first bucket: its lower bound is 0
        (0.99, [(0.005, 10), (0.01, 10), (INF, 10)], 0.005 * 0.99),
        # rank in +Inf: the largest finite upper bound
        (0.99, [(0.5, 1), (1, 2), (INF, 10)], 1.0),
        (0.5, [(0.5, 1), (1, 2), (INF, 10)], 1.0),
        # no observations: 0.0 (Prometheus: NaN)
        (0.99, [(0.1, 0), (1, 0), (INF, 0)], 0.0),
        # a single observation is interpolated in its bucket like any other: 0.5 + 0.5 * 0.99
        (0.99, [(0.5, 0), (1, 1), (INF, 1)], 0.995),
        # q = 1 is the top of the highest non-empty finite bucket
        (1.0, [(1, 10), (2, 30), (INF, 30)], 2.0),
        # q = 0 starts at the first non-empty bucket
        (0.0, [(1, 0), (2, 5), (INF, 5)], 1.0),
        # a first bucket with a bound <= 0 answers that bound
        (0.2, [(-1, 5), (1, 10), (INF, 10)], -1.0),
        # order does not matter; equal bounds are merged
        (0.5, [(INF, 30), (2, 30), (1, 10)], 1.25),
        (0.5, [(1, 4), (1, 6), (2, 30), (INF, 30)], 1.25),
        # a dip in the cumulative counts is evened out: 5, 4, 10 becomes 5, 5, 10,
        # so rank 6 is 1 of the 5 in (2, 3] (not 2 of 6)
        (0.6, [(1, 5), (2, 4), (3, 10), (INF, 10)], 2.2),
        # float noise (as increase() leaves it) is no step at all, either way (Prometheus >= 2.54)
        (0.5, [(0.1, 10), (0.2, 10.000000000000002), (0.5, 20), (INF, 20.000000000000004)], 0.1),
        (0.5, [(1, 10), (2, 9.999999999999998), (3, 30), (INF, 30)], 2.25),
    ],
)
def test_histogram_quantile(q: float, buckets: list[tuple[float, float]], expected: float) -> None:
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


PROMETHEUS_CASES = yaml.safe_load((Path(__file__).resolve().parents[1] / "fixtures" / "metrics" /
                                   "prometheus_quantiles.yaml").read_text())["cases"]


@pytest.mark.parametrize("case", PROMETHEUS_CASES, ids=[c["name"] for c in PROMETHEUS_CASES])
def test_histogram_quantile_answers_as_prometheus_does_on_its_own_test_data(case) -> None:
    buckets = [(INF if bound == "inf" else float(bound), float(count)) for bound, count in case["buckets"]]
    for q, expected in case["answers"].items():
        assert histogram_quantile(float(q), buckets) == pytest.approx(expected, rel=1e-9, abs=1e-12), (q, expected)


@pytest.mark.parametrize(
    "q, buckets, message",
    [
        (1.5, [(1, 1), (INF, 1)], "between 0 and 1"),
        (-0.1, [(1, 1), (INF, 1)], "between 0 and 1"),
        (0.5, [(1, 1), (2, 2)], r"\+Inf"),
        (0.5, [], r"\+Inf"),
        (0.5, [(INF, 3)], "finite"),
    ],
)
def test_histogram_quantile_rejects_bad_input(q: float, buckets: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        histogram_quantile(q, buckets)


# -- track_window: every task of a swarm service ---------------------------------
def track(taken_at: float, **tasks: str) -> TrackScrape:
    return parse_track({where: (FIXTURES / name).read_text() for where, name in tasks.items()}, taken_at=taken_at)


def test_a_tracks_window_sums_each_tasks_own_increase() -> None:
    one = window_stats(scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0))
    two = track_window(track(1000.0, a="canary_t0.prom", b="canary_t0.prom"),
                       track(1060.0, a="canary_t1.prom", b="canary_t1.prom"))
    assert (two.requests, two.errors, two.window_seconds) == (2 * one.requests, 2 * one.errors, 60.0)
    assert two.error_rate == pytest.approx(one.error_rate)
    assert two.p99_latency_ms == pytest.approx(one.p99_latency_ms)  # the same latencies, twice as many


def test_a_task_new_since_the_start_counts_from_zero_and_a_gone_one_no_longer_counts() -> None:
    before = track(1000.0, a="canary_t0.prom", gone="canary_t0.prom")
    after = track(1060.0, a="canary_t1.prom", new="canary_t1.prom")
    both = track_window(before, after)
    alone = window_stats(scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0))
    whole_life = window_stats(None, scrape("canary_t1.prom", 1060.0))
    assert both.requests == alone.requests + whole_life.requests
    assert both.errors == alone.errors + whole_life.errors


def test_a_restarted_task_counts_from_zero_on_its_own() -> None:
    before = track(1000.0, a="canary_t1.prom", b="canary_t0.prom")
    after = track(1060.0, a="canary_t2_restarted.prom", b="canary_t1.prom")
    restarted = window_stats(scrape("canary_t1.prom", 1000.0), scrape("canary_t2_restarted.prom", 1060.0))
    steady = window_stats(scrape("canary_t0.prom", 1000.0), scrape("canary_t1.prom", 1060.0))
    assert track_window(before, after).requests == restarted.requests + steady.requests


def test_a_track_with_no_task_answering_is_unavailable() -> None:
    with pytest.raises(MetricsUnavailable, match="no task"):
        parse_track({}, taken_at=1.0)
    with pytest.raises(MetricsUnavailable, match=r"10\.0\.1\.7"):
        parse_track({"10.0.1.7": "<html>502</html>"}, taken_at=1.0)
