"""Prometheus' histogram_quantile() for one set of classic buckets, in pure Python.

Mirrors `bucketQuantile` in Prometheus' promql/quantile.go and its documented rules:

- buckets are (upper bound, cumulative count); the last must be +Inf;
- linear interpolation inside the bucket the rank falls in, with 0 as the lower
  bound of the first bucket (when its upper bound is above 0, else that bound);
- a rank in the +Inf bucket returns the upper bound of the last finite bucket;
- counts are made monotonic as Prometheus does: a count within a relative 1e-12 of the one
  before it (floating-point noise from sums and rates, either way) is taken as equal to it, and a
  count that dips (a scrape racing an observation) is raised to it; neither moves the reference.

Where Prometheus answers NaN (no observations; q=0 with an empty first bucket) we
answer 0.0, resp. the lower bound of the first non-empty bucket, which is what the
status view and the policy input want; a quantile outside [0, 1] is a caller bug.
The classic cases of Prometheus' own test data (promql/promqltest/testdata/histograms.test) are
in tests/fixtures/metrics/prometheus_quantiles.yaml; tests/unit/test_metrics.py holds us to them.
"""
from __future__ import annotations

import math
import sys
from typing import Sequence

SMALL_DELTA = 1e-12  # Prometheus' smallDeltaTolerance: relative differences below it are float noise
MIN_NORMAL = sys.float_info.min  # the smallest positive normal float, as Go's almost.Equal uses


def almost_equal(a: float, b: float, epsilon: float = SMALL_DELTA) -> bool:
    """Equal up to a relative ``epsilon`` (absolute near zero), as Prometheus' util/almost.Equal."""
    if a == b:
        return True
    total, diff = abs(a) + abs(b), abs(a - b)
    if a == 0 or b == 0 or total < MIN_NORMAL:
        return diff < epsilon * MIN_NORMAL
    return diff / min(total, sys.float_info.max) < epsilon


def monotonic(counts: Sequence[float]) -> list[float]:
    """Cumulative counts made non-decreasing; noise-sized steps either way are flattened (pure)."""
    out = list(counts)
    reference = out[0]
    for i in range(1, len(out)):
        count = out[i]
        if count == reference:
            continue
        if count < reference or almost_equal(reference, count):
            out[i] = reference  # the reference stays: a dip or noise never becomes the new baseline
            continue
        reference = count
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The q-quantile (0 <= q <= 1) of observations in cumulative `buckets`.

    Raises ValueError when q is out of range or the buckets lack +Inf or any finite bound.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {q}")
    merged: dict[float, float] = {}
    for bound, count in buckets:  # equal bounds are summed, as Prometheus coalesces them
        merged[float(bound)] = merged.get(float(bound), 0.0) + float(count)
    ordered = sorted(merged.items())
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        raise ValueError("buckets must include the +Inf bucket")
    if len(ordered) < 2:
        raise ValueError("buckets need at least one finite upper bound besides +Inf")

    bounds = [b for b, _ in ordered]
    counts = monotonic([count for _, count in ordered])

    observations = counts[-1]
    if observations <= 0:
        return 0.0
    rank = q * observations
    # First finite bucket reaching the rank; for q=0 skip empty leading buckets
    # (Prometheus would divide 0 by 0 there).
    b = next(
        (i for i in range(len(bounds) - 1) if counts[i] >= rank and counts[i] > 0),
        len(bounds) - 1,
    )
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, in_bucket = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        in_bucket -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / in_bucket)
