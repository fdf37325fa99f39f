"""The canary window as PromQL, and Prometheus' query API answers read into `WindowStats` (pure).

With ``metrics.source: prometheus`` the gate asks the stack's Prometheus (which scrapes every
app track with a ``track`` label) the same three questions the scrape source answers from two
scrapes, over the same window and with the same probe paths left out:

    requests  sum(increase(http_requests_total{track="canary",path!~"..."}[60s]))
    errors    the same with status_code=~"5..", or 0 when no 5xx series exists
    p99       histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket{...}[60s])))

Answers come from ``GET /api/v1/query?query=...&time=...`` (instant vectors). An API error or
an empty vector for requests or p99 is `MetricsSourceError`: no data is not zero traffic, and
the gate fails closed on it. No HTTP here; `lifecycle/prometheus_window.py` asks.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping
from urllib.parse import urlencode

from ..errors import MetricsSourceError
from .scrape import DEFAULT_EXCLUDED_PATHS, DURATION, REQUESTS, WindowStats
from ..tracks import TRACKS

QUERY_PATH = "/api/v1/query"
QUANTILE = 0.99
QUESTIONS = ("requests", "errors", "p99")


def duration(seconds: float) -> str:
    """A PromQL range: whole seconds as `60s`, anything finer in milliseconds (`4500ms`)."""
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValueError(f"a window must be a positive number of seconds, got {seconds}")
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def _selector(track: str, *extra: str) -> str:
    if track not in TRACKS:  # the only value pasted into a query: refuse anything else
        raise ValueError(f"unknown track {track!r}; expected one of {', '.join(TRACKS)}")
    # RE2 alternatives of plain paths; none has a regex or PromQL string metacharacter.
    probes = "|".join(DEFAULT_EXCLUDED_PATHS)
    return "{" + ",".join([f'track="{track}"', f'path!~"{probes}"', *extra]) + "}"


def window_queries(track: str, window_seconds: float) -> dict[str, str]:
    """The three PromQL expressions for one track's window, keyed by QUESTIONS."""
    rng = duration(window_seconds)
    every = _selector(track)
    failed = _selector(track, 'status_code=~"5.."')
    return {
        "requests": f"sum(increase({REQUESTS}{every}[{rng}]))",
        # No 5xx series at all means no errors, not missing data.
        "errors": f"sum(increase({REQUESTS}{failed}[{rng}])) or vector(0)",
        "p99": f"histogram_quantile({QUANTILE}, sum by (le) (increase({DURATION}_bucket{every}[{rng}])))",
    }


def last_scrape_query(tracks: tuple[str, ...] = ("canary", "stable")) -> str:
    """When Prometheus last scraped the slowest of ``tracks`` (unix time; a down target counts:
    it was tried). A scrape's samples carry its start time and land when it ends, so once this
    reaches a window's end every sample inside that window is in."""
    for track in tracks:
        _selector(track)  # the same guard as the window queries
    return f'min(timestamp(up{{track=~"{"|".join(tracks)}"}}))'


def query_url(base_url: str, query: str, at: float) -> str:
    """GET URL of an instant query evaluated at unix time ``at``."""
    return f"{base_url.rstrip('/')}{QUERY_PATH}?{urlencode({'query': query, 'time': f'{at:.3f}'})}"


def single_value(status: int, body: str, *, query: str, url: str) -> float | None:
    """The value of a one-sample instant vector; None for an empty vector. Raises on anything else."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        raise MetricsSourceError(
            f"Prometheus at {url} answered HTTP {status} with a body that is not JSON ({body[:80]!r}); "
            "is something other than Prometheus listening on metrics.prometheus.port?", reason="bad_answer",
        ) from None
    if not isinstance(answer, Mapping) or answer.get("status") != "success":
        said = answer.get("error", "no error text") if isinstance(answer, Mapping) else "not an object"
        kind = answer.get("errorType", "?") if isinstance(answer, Mapping) else "?"
        raise MetricsSourceError(f"Prometheus at {url} refused the query {query!r}: HTTP {status}, {kind}: {said}",
                                 reason="api_error")
    data = answer.get("data")
    if not isinstance(data, Mapping) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        raise MetricsSourceError(f"Prometheus at {url} answered {query!r} without an instant vector",
                                 reason="bad_answer")
    result = data["result"]
    if not result:
        return None
    if len(result) != 1:
        raise MetricsSourceError(f"Prometheus at {url} answered {query!r} with {len(result)} series, expected one",
                                 reason="bad_answer")
    try:
        return float(result[0]["value"][1])  # "NaN" and "+Inf" parse too
    except (KeyError, IndexError, TypeError, ValueError):
        raise MetricsSourceError(f"Prometheus at {url} answered {query!r} with a sample that has no number",
                                 reason="bad_answer") from None


def window_stats(values: Mapping[str, float | None], window_seconds: float, *, track: str, url: str) -> WindowStats:
    """One track's window from the three answers (as `single_value` returned them)."""
    requests, errors, p99 = (values.get(q) for q in QUESTIONS)
    missing = [q for q, v in (("requests", requests), ("p99", p99)) if v is None]
    if missing:
        raise MetricsSourceError(
            f"Prometheus at {url} has no {' or '.join(missing)} samples for the {track} track in the last "
            f"{window_seconds:g}s (empty result): the track got no traffic Prometheus saw, or was not scraped "
            "twice in the window; failing closed", reason="empty_result",
        )
    n_requests = round(requests)  # increase() extrapolates to the window's edges: not whole numbers
    n_errors = min(round(errors or 0.0), n_requests)
    # NaN: no observation in the window, which quantile.py (the scrape source) answers as 0.
    p99_ms = 0.0 if math.isnan(p99) else p99 * 1000.0
    if math.isinf(p99_ms):
        raise MetricsSourceError(f"Prometheus at {url} gave an infinite p99 for the {track} track",
                                 reason="bad_answer")
    return WindowStats(
        requests=n_requests,
        errors=n_errors,
        error_rate=n_errors / n_requests if n_requests else 0.0,
        p99_latency_ms=p99_ms,
        req_per_s=n_requests / window_seconds,
        window_seconds=window_seconds,
    )
