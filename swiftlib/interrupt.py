"""Ctrl-C for hosts acted on in worker threads.

Python delivers Ctrl-C (SIGINT) to the main thread only. With several hosts in a batch, each
host runs in a thread of its own (`remote.runner`), so without help a Ctrl-C would only stop
the main thread from waiting, while every host went on to the end of its run: a rollout would
still promote. `remote.runner` calls `request()` when the main thread is interrupted; the long
waits of a run (the evaluation windows, where nearly all of its time goes) sleep through
`sleep()`, which raises KeyboardInterrupt in the host's thread at once, so each host stops at
a wait, as the run on one host stops when Ctrl-C lands in its main thread. Quick steps in
flight finish first, so a host is never left between two halves of a traffic move.
"""
from __future__ import annotations

import threading

_requested = threading.Event()


def request() -> None:
    """Ctrl-C was pressed: every wait from now on raises KeyboardInterrupt."""
    _requested.set()


def clear() -> None:
    """A new run starts (a process may run several, as the tests do)."""
    _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def sleep(seconds: float) -> None:
    """`time.sleep` that ends early with KeyboardInterrupt once `request()` is called (in any thread)."""
    if _requested.wait(max(0.0, seconds)):
        raise KeyboardInterrupt
