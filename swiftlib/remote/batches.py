"""Ansible's ``serial`` and ``max_fail_percentage``, as pure functions.

``plan_batches(hosts, serial)``: None, 0 or ``"0"`` -> one batch of every host;
``N`` -> batches of N; ``"N%"`` -> batches of int(N% of the hosts), at least 1; a
list such as ``[1, "50%"]`` -> batch sizes in turn, the last one repeating
(Ansible's ``serial: [1, 5, "20%"]``).

``should_stop(outcomes, max_fail_percentage)``: after a batch, stop when the
share of its hosts that failed or were unreachable is GREATER than P percent.
Without P, stop only when every host of the batch failed (Ansible's default).

``parse_forks(value)``: ``--forks``, how many hosts of a batch are acted on at the same
time (Ansible's ``forks``); ``DEFAULT_FORKS`` (5, Ansible's default) when not given. A
batch larger than that runs as a sliding window: a host starts when another finishes.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence, TypeVar

from ..errors import UsageError

T = TypeVar("T")
Serial = int | str | None
_SERIAL = re.compile(r"^\s*(\d+)\s*(%?)\s*$")
FAILED = ("failed", "unreachable")
DEFAULT_FORKS = 5  # Ansible's default forks


def parse_serial(value: Serial) -> int | str | None:
    """Validate one ``--serial`` value: an int, ``"N"`` or ``"N%"``; returns int or "N%"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise UsageError(f"--serial: expected N or N%, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UsageError(f"--serial: must not be negative, got {value}")
        return value
    m = _SERIAL.match(str(value))
    if not m:
        raise UsageError(f"--serial: expected a number of hosts (2) or a percentage (50%), got {value!r}")
    return f"{int(m.group(1))}%" if m.group(2) else int(m.group(1))


def batch_size(serial: int | str, total: int) -> int:
    """Hosts per batch for one serial value (0 means all of them)."""
    if isinstance(serial, str):  # "N%": Ansible's pct_to_int, floor with a minimum of 1
        size = int(int(serial[:-1]) / 100.0 * total) or 1
    else:
        size = serial
    return total if size <= 0 else size


def plan_batches(hosts: Sequence[T], serial: Serial | Sequence[Serial] = None) -> list[list[T]]:
    """Split ``hosts`` (in order) into the batches a run goes through."""
    items = list(hosts)
    if not items:
        return []
    values = list(serial) if isinstance(serial, (list, tuple)) else [serial]
    if not values:
        values = [None]
    parsed = [parse_serial(v) for v in values]
    batches: list[list[T]] = []
    index = 0
    while index < len(items):
        value = parsed[min(len(batches), len(parsed) - 1)]
        size = len(items) if value is None else batch_size(value, len(items))
        batches.append(items[index:index + size])
        index += size
    return batches


def parse_max_fail_percentage(value: Any) -> float | None:
    """``--max-fail-percentage``: None or a number 0-100."""
    if value is None or value == "":
        return None
    try:
        number = float(str(value).rstrip("%"))
    except ValueError:
        raise UsageError(f"--max-fail-percentage: expected a number 0-100, got {value!r}") from None
    if not 0 <= number <= 100:
        raise UsageError(f"--max-fail-percentage: expected a number 0-100, got {value!r}")
    return number


def parse_forks(value: Any) -> int:
    """``--forks``: a whole number >= 1; ``DEFAULT_FORKS`` when not given (None or "")."""
    if value is None or value == "":
        return DEFAULT_FORKS
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise UsageError(f"--forks: expected a whole number of hosts >= 1, got {value!r}")
    return int(text)


def _status(outcome: Any) -> str:
    return outcome if isinstance(outcome, str) else outcome.status


def should_stop(batch_results: Iterable[Any], max_fail_percentage: float | None) -> bool:
    """True when the run must not go on to the next batch.

    ``batch_results``: this batch's outcomes (objects with ``.status``) or statuses.
    """
    statuses = [_status(r) for r in batch_results]
    if not statuses:
        return False
    failed = sum(1 for s in statuses if s in FAILED)
    if max_fail_percentage is None:
        return failed == len(statuses)
    return failed / len(statuses) > max_fail_percentage / 100.0
