"""--serial / --max-fail-percentage semantics (Ansible's), and the multi-host runner."""
from __future__ import annotations

import threading
import time

import pytest
import yaml

from swiftlib.errors import HostUnreachable, PolicyDenied, UsageError
from swiftlib.remote.batches import parse_max_fail_percentage, parse_serial, plan_batches, should_stop
from swiftlib.remote.runner import Outcome, run_on_hosts
from tests.conftest import REPO

FIXTURES = REPO / "tests/fixtures/remote"
BATCHES = yaml.safe_load((FIXTURES / "batches.yaml").read_text())
HOSTS = [f"h{i}" for i in range(1, 7)]


@pytest.mark.parametrize("case", BATCHES, ids=lambda c: f"{c['hosts']}-{c['serial']}")
def test_plan_batches(case: dict) -> None:
    hosts = HOSTS[: case["hosts"]]
    batches = plan_batches(hosts, case["serial"])
    assert [len(b) for b in batches] == case["sizes"]
    assert [h for b in batches for h in b] == hosts  # every host once, in order


@pytest.mark.parametrize("value", yaml.safe_load((FIXTURES / "serial_invalid.yaml").read_text()))
def test_serial_refused(value) -> None:
    with pytest.raises(UsageError, match="--serial"):
        plan_batches(HOSTS, value)


def test_parse_serial_normalises() -> None:
    assert parse_serial(" 25 % ") == "25%"
    assert parse_serial("3") == 3
    assert parse_serial(None) is None


@pytest.mark.parametrize("value,expected", [(None, None), ("", None), ("0", 0.0), ("33.3", 33.3), (50, 50.0), ("20%", 20.0)])
def test_parse_max_fail_percentage(value, expected) -> None:
    assert parse_max_fail_percentage(value) == expected


@pytest.mark.parametrize("value", ["-1", "101", "half"])
def test_parse_max_fail_percentage_refuses(value) -> None:
    with pytest.raises(UsageError, match="--max-fail-percentage"):
        parse_max_fail_percentage(value)


@pytest.mark.parametrize("statuses,pct,stop", [
    (["ok", "failed"], 50, False),          # 50% is not MORE than 50%
    (["ok", "failed"], 49, True),
    (["ok", "ok", "unreachable"], 33, True),  # unreachable counts as failed
    (["ok", "ok", "unreachable"], 34, False),
    (["ok", "changed"], 0, False),
    (["ok", "failed"], 0, True),
    (["failed", "failed"], 100, False),     # nothing is more than 100%
    (["failed", "unreachable"], None, True),  # default: stop when the whole batch failed
    (["failed", "ok"], None, False),
    ([], 0, False),
])
def test_should_stop(statuses, pct, stop) -> None:
    assert should_stop([Outcome(s) for s in statuses], pct) is stop
    assert should_stop(statuses, pct) is stop


def test_runner_serial_one_stops_after_failed_batch() -> None:
    ran: list[str] = []

    def fn(host: str) -> str:
        ran.append(host)
        if host == "h2":
            raise PolicyDenied("infrastructure gate said no")
        return "changed"

    out = run_on_hosts(HOSTS[:4], fn, serial=1, max_fail_percentage=0)
    assert ran == ["h1", "h2"]
    assert [out[h].status for h in HOSTS[:4]] == ["changed", "failed", "skipped", "skipped"]
    assert out["h2"].exit_code == 3 and "gate said no" in out["h2"].msg
    assert "batch 2 had 1 of 1 hosts fail" in out["h3"].msg


def test_runner_fifty_percent_batches_run_in_parallel() -> None:
    barrier = threading.Barrier(2, timeout=5)  # both hosts of a batch must be in fn at once

    def fn(host: str) -> str:
        barrier.wait()
        return "ok"

    batches: list[list[str]] = []
    out = run_on_hosts(HOSTS[:4], fn, serial="50%", on_batch=lambda n, hs: batches.append(list(hs)))
    assert batches == [["h1", "h2"], ["h3", "h4"]]
    assert {o.status for o in out.values()} == {"ok"}
    assert [out[h].batch for h in HOSTS[:4]] == [1, 1, 2, 2]


def test_runner_unreachable_host_does_not_stop_others() -> None:
    def fn(host: str) -> str:
        if host == "h2":
            raise HostUnreachable("connection refused", host=host)
        if host == "h3":
            raise KeyError("a bug")  # not a SwiftDeployError: still contained to h3
        time.sleep(0.05)
        return "changed"

    out = run_on_hosts(HOSTS[:4], fn, serial=None)
    assert [out[h].status for h in HOSTS[:4]] == ["changed", "unreachable", "failed", "changed"]
    assert out["h2"].exit_code == 6 and isinstance(out["h2"].error, HostUnreachable)
    assert out["h3"].exit_code == 1 and "KeyError" in out["h3"].msg


def test_runner_max_fail_percentage_lets_a_tolerable_batch_pass() -> None:
    def fn(host: str) -> str:
        if host == "h1":
            raise PolicyDenied("no")
        return "ok"

    out = run_on_hosts(HOSTS[:6], fn, serial=3, max_fail_percentage=34)
    assert [o.status for o in out.values()] == ["failed", "ok", "ok", "ok", "ok", "ok"]
    out = run_on_hosts(HOSTS[:6], fn, serial=3, max_fail_percentage=33)
    assert [o.status for o in out.values()] == ["failed", "ok", "ok", "skipped", "skipped", "skipped"]


def test_runner_sequential_mode_and_names() -> None:
    class H:
        def __init__(self, name: str) -> None:
            self.name = name

    order: list[str] = []
    out = run_on_hosts([H("a"), H("b")], lambda h: order.append(h.name), parallel=False)
    assert order == ["a", "b"] and list(out) == ["a", "b"]
    assert out["a"].status == "ok" and out["a"].value is None
    with pytest.raises(ValueError, match="unique"):
        run_on_hosts(["a", "a"], lambda h: "ok")
