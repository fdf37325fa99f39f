"""Status frames from a worker thread: Ctrl-C stops `inv status` even while a frame is being taken."""
from __future__ import annotations

import _thread
import signal
import threading
import time

import pytest

from swiftlib.errors import HealthCheckFailed
from swiftlib.observe.status_feed import frames


def test_frames_come_in_order_every_interval() -> None:
    count = iter(range(100))
    feed = frames("target", "engine", interval=0.01, take=lambda t, e: {"n": next(count), "t": t, "e": e})
    got = [next(feed) for _ in range(3)]
    feed.close()
    assert [f["n"] for f in got] == [0, 1, 2] and got[0]["t"] == "target" and got[0]["e"] == "engine"


def test_an_error_taking_a_frame_reaches_the_caller() -> None:
    def take(target, engine):
        raise HealthCheckFailed("admin port 127.0.0.1:8081 refused the connection")

    with pytest.raises(HealthCheckFailed, match="refused"):
        next(frames("t", "e", interval=0.01, take=take))


def test_ctrl_c_stops_the_watcher_while_a_frame_swallows_interrupts() -> None:
    # What Invoke's runner does with Ctrl-C during a command on the host: forward it and carry on.
    release = threading.Event()

    def stubborn_take(target, engine):
        while not release.is_set():
            try:
                release.wait(0.05)
            except KeyboardInterrupt:
                continue
        return {}

    # Ctrl-C as a user's terminal delivers it to Python's own handler, whatever an earlier test in this
    # process left installed (interrupt_main does nothing over SIG_IGN or SIG_DFL).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    backstop = threading.Timer(10, release.set)  # never hang: without the interrupt, a frame comes and the test fails
    timer.start()
    backstop.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            next(frames("t", "e", interval=1, take=stubborn_take))
    finally:
        release.set()
        timer.cancel()
        backstop.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 2.0
