"""Ctrl-C for hosts acted on in worker threads.

Python delivers Ctrl-C (SIGINT) to the main thread only. With several hosts in a batch, each
host runs in a thread of its own (`remote.runner`), so without help a Ctrl-C would only stop
the main thread from waiting, while every host went on to the end of its run: a rollout would
still promote. `remote.runner` calls `request()` when the main thread is interrupted; the long
waits of a run (the evaluation windows, where nearly all of its time goes) sleep through
`sleep()`, which raises KeyboardInterrupt in the host's thread at once, so each host stops at
a wait, as the run on one host stops when Ctrl-C lands in its main thread. Quick steps in
flight finish first, so a host is never left between two halves of a traffic move.

A press that lands while a command runs is caught by Invoke's runner, which only forwards it
to the command (as a ``\x03`` on its stdin) and goes on: the run would never stop. Inside
`noticed()` the main thread's SIGINT handler also calls `request()`, so the next wait stops
the run even then. A press that lands while Invoke starts a local command, before it waits for
it, is held until that wait (`hold`, `release`: `host`'s runner calls them), which forwards it
the same way: raised there, it left the command running on unwatched (a `docker stop` went on
after the Ctrl-C note had said the container runs).
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_requested = threading.Event()
_held = {"on": False, "pressed": False}  # a command starting on the main thread (`hold`)


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


def sleep_after(work: Callable[[], None], sleep: Callable[[float], None] = sleep,
                clock: Callable[[], float] = time.monotonic) -> Callable[[float], None]:
    """A sleep that does ``work`` first (on its first call only), then sleeps what is left of the time
    asked: a wait that passes anyway (a canary's window) does what the run needs after it."""
    pending = [work]

    def sleeper(seconds: float) -> None:
        if pending:
            started = clock()
            pending.pop()()
            seconds -= clock() - started
        sleep(max(0.0, seconds))
    return sleeper


def _on_sigint(signum: int, frame: Any) -> None:
    request()
    if _held["on"]:
        _held["pressed"] = True
        return
    raise KeyboardInterrupt


def hold() -> None:
    """A command is being started on the main thread: a Ctrl-C now waits for `release()`."""
    if threading.current_thread() is threading.main_thread():
        _held["on"] = True


def release() -> None:
    """The command's start is over: a Ctrl-C held since `hold()` is raised now (in its wait, which
    forwards it to the command as it does any Ctrl-C that lands there)."""
    if threading.current_thread() is not threading.main_thread():
        return
    pressed, _held["on"], _held["pressed"] = _held["pressed"], False, False
    if pressed:
        raise KeyboardInterrupt


@contextmanager
def noticed() -> Iterator[None]:
    """Every Ctrl-C during the block is `request()`ed as well as raised (see the module docstring).

    Only from the main thread and only over Python's own handler: a program that installed
    its own SIGINT handler keeps it.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
