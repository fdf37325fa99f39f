"""Ctrl-C with several hosts in threads: every host stops at its next wait (swiftlib.interrupt)."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from swiftlib import interrupt
from swiftlib.remote.runner import run_on_hosts


@pytest.fixture(autouse=True)
def fresh():
    interrupt.clear()
    yield
    interrupt.clear()


@pytest.fixture(autouse=True)
def python_handles_sigint():
    """Ctrl-C as a terminal delivers it, to Python's own handler: a test run started in the background
    by a shell inherits SIGINT ignored, and Python then installs no handler of its own."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sleep_sleeps_when_nothing_is_requested():
    started = time.monotonic()
    interrupt.sleep(0.2)
    assert 0.15 <= time.monotonic() - started < 2


def test_a_request_from_another_thread_ends_a_sleep_at_once():
    threading.Timer(0.2, interrupt.request).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        interrupt.sleep(30)
    assert time.monotonic() - started < 5 and interrupt.requested()


def test_ctrl_c_in_the_main_thread_stops_every_host_of_a_parallel_batch_at_its_wait():
    stopped, finished = [], []

    def act(host):
        try:
            interrupt.sleep(30)  # an evaluation window
        except KeyboardInterrupt:
            stopped.append(host)
            raise
        finished.append(host)  # what happened before: the host went on to the end of its run
        return "changed"

    # Ctrl-C as the terminal delivers it: SIGINT to the process, handled in the main thread.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_on_hosts(["h1", "h2", "h3"], act)
    finally:
        timer.join()
    assert sorted(stopped) == ["h1", "h2", "h3"] and finished == []
    assert time.monotonic() - started < 10


def test_a_new_run_starts_uninterrupted():
    interrupt.request()
    assert run_on_hosts(["h1", "h2"], lambda h: interrupt.sleep(0.01) or "ok")["h1"].status == "ok"


def test_ctrl_c_while_a_command_runs_on_one_host_still_stops_the_run_at_its_next_wait():
    """Invoke's runner catches a Ctrl-C that lands while its command runs and only forwards it
    (as \\x03 on the command's stdin); the command ends, and without help the run went on."""
    from invoke import Context

    steps = []

    def act(host):
        Context().run("sleep 1", hide=True, in_stream=False)  # a docker command, say
        steps.append("command finished")
        interrupt.sleep(30)  # the next wait: a health poll or a window
        steps.append("went on")
        return "changed"

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_on_hosts(["h1"], act)
    finally:
        timer.join()
    assert steps == ["command finished"] and time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the run


def test_a_program_with_its_own_sigint_handler_keeps_it():
    def mine(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with interrupt.noticed():
            assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_wait_that_works_first_sleeps_only_what_is_left_and_works_once():
    now = [100.0]
    done: list[str] = []
    slept: list[float] = []

    def work() -> None:
        done.append("work")
        now[0] += 1.5  # the work took 1.5 s of the wait

    wait = interrupt.sleep_after(work, slept.append, clock=lambda: now[0])
    wait(4.0)
    wait(0.25)  # a later poll of the same wait (Prometheus' late scrapes): no work again
    assert done == ["work"] and slept == [2.5, 0.25]
    longer = interrupt.sleep_after(lambda: now.__setitem__(0, now[0] + 9), slept.append, clock=lambda: now[0])
    longer(4.0)
    assert slept[-1] == 0.0  # work longer than the wait: no sleep at all


def test_a_ctrl_c_during_the_work_of_a_wait_ends_the_wait():
    def pressed() -> None:
        raise KeyboardInterrupt

    slept: list[float] = []
    with pytest.raises(KeyboardInterrupt):
        interrupt.sleep_after(pressed, slept.append)(4.0)
    assert slept == []


def test_ctrl_c_while_a_command_is_being_started_lets_it_finish_and_stops_at_the_next_wait(tmp_path, monkeypatch):
    """A press that landed after the child was forked, before Invoke waited for it, escaped from the
    start: the run stopped (and its Ctrl-C note read the host) while the command went on unwatched."""
    import invoke.runners

    from swiftlib.host import Host

    forked = invoke.runners.Popen

    def pressed_once_forked(*args, **kwargs):
        process = forked(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode: inside Invoke's start-up
        return process

    monkeypatch.setattr(invoke.runners, "Popen", pressed_once_forked)
    done = tmp_path / "done"
    steps = []

    def act(host):
        Host.local().run(["sh", "-c", f"sleep 0.5; touch {done}"], timeout=10)  # a `docker stop`, say
        steps.append(f"command finished: {done.exists()}")
        interrupt.sleep(30)
        steps.append("went on")

    with pytest.raises(KeyboardInterrupt):
        run_on_hosts(["h1"], act)
    assert steps == ["command finished: True"]
    monkeypatch.undo()
    interrupt.clear()
    Host.local().run(["true"], timeout=10)  # nothing held over into the next command
    assert not interrupt.requested()
