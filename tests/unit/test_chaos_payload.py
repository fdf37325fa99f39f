"""lifecycle.chaos.chaos_payload: the CLI's chaos flags become a body the app accepts, or exit 2 naming the flag."""
from __future__ import annotations

import pytest

from swiftlib.errors import UsageError
from swiftlib.lifecycle.chaos import chaos_payload


@pytest.mark.parametrize("mode, rate, duration, body", [
    ("error", 0.5, None, {"mode": "error", "rate": 0.5}),
    ("error", 1.0, None, {"mode": "error", "rate": 1.0}),
    ("slow", None, 10.0, {"mode": "slow", "duration": 10.0}),
    ("slow", None, 0.0, {"mode": "slow", "duration": 0.0}),
    ("recover", None, None, {"mode": "recover"}),
])
def test_flags_become_the_body(mode, rate, duration, body):
    assert chaos_payload(mode, rate=rate, duration=duration) == body


@pytest.mark.parametrize("mode, rate, duration, message", [
    ("error", 1.5, None, "--rate: expected a share of the requests from 0 to 1, got 1.5"),
    ("slow", None, 1e9, "--duration: expected seconds from 0 to 10, got 1e+09"),
    ("slow", None, 10.5, "--duration: expected seconds from 0 to 10, got 10.5"),
    ("error", None, None, "--rate is required with --mode error"),
    ("slow", None, None, "--duration is required with --mode slow"),
    ("explode", None, None, "--mode: expected one of slow, error, recover"),
])
def test_out_of_bounds_or_missing_flags_are_refused_before_asking_the_app(mode, rate, duration, message):
    with pytest.raises(UsageError) as info:
        chaos_payload(mode, rate=rate, duration=duration)
    assert message in str(info.value) and info.value.exit_code == 2
