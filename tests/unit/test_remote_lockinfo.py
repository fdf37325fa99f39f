"""Deploy lock records: staleness rules and messages (pure; the lock itself is tested for real
in tests/integration/test_remote_lock.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from swiftlib.remote.lock import LockInfo, pid_alive

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def info(**kw) -> LockInfo:
    base = dict(holder="alice@laptop", controller="laptop", pid=4242, time="2024-05-01T11:55:00Z",
                command="deploy", message="release 1.2", token="t0k")
    base.update(kw)
    return LockInfo(**base)


def test_round_trip_and_describe() -> None:
    lock = info()
    assert LockInfo.from_json(lock.to_json()) == lock
    assert lock.describe(NOW) == "alice@laptop (pid 4242) since 2024-05-01T11:55:00Z (5m ago) for `deploy`: 'release 1.2'"


def test_dead_process_on_this_controller_is_stale() -> None:
    lock = info()
    reason = lock.stale_reason(now=NOW, this_controller="laptop", alive=lambda pid, start: False)
    assert reason == "process 4242 on laptop is no longer running"
    assert lock.stale_reason(now=NOW, this_controller="laptop", alive=lambda pid, start: True) is None


def test_other_controller_is_judged_by_age_only() -> None:
    lock = info(controller="ci-runner")
    never = lambda pid, start: False  # noqa: E731 - must not be consulted for another machine
    assert lock.stale_reason(now=NOW, this_controller="laptop", alive=never) is None
    later = NOW + timedelta(hours=2)
    assert lock.stale_reason(now=later, this_controller="laptop", alive=never) == \
        "taken 2h05m ago, longer than the 60m lock TTL"
    assert lock.stale_reason(now=later, ttl=3 * 3600, this_controller="laptop", alive=never) is None


def test_unreadable_record_is_still_a_lock() -> None:
    lock = LockInfo.from_json("{not json")
    assert lock.holder == "unknown" and "unreadable lock record" in lock.message
    assert lock.stale_reason(now=NOW, this_controller="laptop") is None


def test_new_records_this_process() -> None:
    import os

    lock = LockInfo.new("promote", "to stable")
    assert lock.pid == os.getpid() and lock.holder.endswith("@" + lock.controller)
    assert len(lock.token) == 16 and lock.time.endswith("Z")
    assert pid_alive(lock.pid, lock.pid_start)
    assert not pid_alive(lock.pid, "1")  # same pid, other start time: a reused pid
