"""Waiting for /healthz against a real server on loopback: until healthy, until the deadline, or until
what answers it is known to be gone for good."""
from __future__ import annotations

import pytest

from swiftlib.errors import HealthCheckFailed
from swiftlib.lifecycle.health import wait_healthy
from tests.unit.test_http import server  # noqa: F401 - fixture: a real server on loopback


@pytest.fixture
def url(server: str) -> str:  # noqa: F811
    return f"{server}/down"  # answers 503 "GET /down"


class Clock:
    """Time that passes only when the wait sleeps."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1


def test_an_unhealthy_answer_is_polled_until_the_deadline(url):
    clock = Clock()
    with pytest.raises(HealthCheckFailed, match=r"not healthy after 30s; last saw: HTTP 503: GET /down"):
        wait_healthy(url, deadline_seconds=30, clock=clock, sleep=clock.sleep, ended=lambda: None)
    assert clock.sleeps == 60  # every 0.5 s


def test_a_wait_ends_at_once_when_what_answers_has_ended_for_good(url):
    clock, asked = Clock(), []

    def ended() -> str | None:
        asked.append(clock.now)
        return "sd-app has exited with code 137 (killed) and Docker will not restart it" if len(asked) == 3 else None

    with pytest.raises(HealthCheckFailed) as caught:
        wait_healthy(url, deadline_seconds=30, clock=clock, sleep=clock.sleep, ended=ended)
    assert caught.value.message == (f"{url} not healthy: sd-app has exited with code 137 (killed) and Docker "
                                    "will not restart it; last saw: HTTP 503: GET /down")
    assert asked == [0.0, 0.5, 1.0] and clock.sleeps == 2  # asked after each unhealthy answer, then no more waiting
