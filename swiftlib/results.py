"""Ansible-shaped results: one line per step and host, and a PLAY RECAP.

Pure formatting and bookkeeping; the CLI decides where the lines go. A run collects
``StepResult``s, prints them as they happen (``TASK [name]`` / ``ok: [host]`` ...)
and ends with a recap whose counts and exit code follow the README (Exit codes).
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .errors import SwiftDeployError

STATUSES = ("ok", "changed", "failed", "skipped", "unreachable")


@dataclass
class StepResult:
    task: str
    host: str
    status: str  # one of STATUSES
    msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, "host": self.host, "status": self.status, "msg": self.msg}
        if self.data:
            out["data"] = self.data
        if self.exit_code:
            out["exit_code"] = self.exit_code
        return out


def failed(task: str, host: str, error: SwiftDeployError, **data: Any) -> StepResult:
    status = "unreachable" if error.exit_code == 6 else "failed"
    return StepResult(task, host, status, error.message, dict(data), error.exit_code)


def task_header(task: str, width: int = 80) -> str:
    head = f"TASK [{task}] "
    return head + "*" * max(3, width - len(head))


def _payload(payload: dict[str, Any]) -> str:
    """JSON as Ansible's default callback prints it: sorted keys, non-ASCII kept."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def format_result(result: StepResult) -> str:
    """One Ansible-style line (plus indented detail lines) for a result."""
    host = result.host
    if result.status == "unreachable":
        payload = {"msg": result.msg, "unreachable": True, "changed": False}
        return f"fatal: [{host}]: UNREACHABLE! => {_payload(payload)}"
    if result.status == "failed":
        # Ansible's shape for a failed task (``failed: [h] =>`` is its per-loop-item line).
        payload = {"msg": result.msg, "changed": False, "exit_code": result.exit_code}
        return f"fatal: [{host}]: FAILED! => {_payload(payload)}"
    label = "skipping" if result.status == "skipped" else result.status  # Ansible's word
    line = f"{label}: [{host}]"
    return f"{line} => {result.msg}" if result.msg else line


@dataclass
class Recap:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)

    def add(self, result: StepResult) -> None:
        row = self.counts.setdefault(result.host, {s: 0 for s in STATUSES})
        row[result.status] += 1
        if result.status == "changed":
            row["ok"] += 1  # as in Ansible: ok counts every task that succeeded, changed or not
        if result.exit_code and not self.exit_codes.get(result.host):
            self.exit_codes[result.host] = result.exit_code

    def exit_code(self) -> int:
        """The run's exit code: the most telling of the hosts' codes (unreachable first)."""
        codes = set(self.exit_codes.values())
        for code in (6, 4, 3, 2, 7, 5, 1):
            if code in codes:
                return code
        return 0

    def lines(self) -> list[str]:
        out = ["PLAY RECAP " + "*" * 69]
        for host in sorted(self.counts):  # Ansible sorts the recap by host name
            c = self.counts[host]
            out.append(
                f"{host:<26} : ok={c['ok']:<4} changed={c['changed']:<4} unreachable={c['unreachable']:<4} "
                f"failed={c['failed']:<4} skipped={c['skipped']:<4} rescued=0    ignored=0   "
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {host: dict(c) for host, c in self.counts.items()}


class Reporter:
    """Streams results as Ansible does and keeps the recap. ``emit`` receives text lines."""

    def __init__(self, emit: Callable[[str], None], *, quiet: bool = False) -> None:
        self.emit = emit
        self.quiet = quiet
        self.recap = Recap()
        self.results: list[StepResult] = []
        self._last_task: str | None = None
        self._lock = threading.Lock()  # hosts of a batch record from their own threads
        self._held: dict[str, list[tuple[StepResult, list[str]]]] = {}
        # Unexpected exceptions (bugs) a host ran into, kept with their tracebacks for the CLI.
        self.unexpected: list[tuple[str, BaseException]] = []

    def hold(self, host: str) -> None:
        """Keep ``host``'s lines until ``release(host)``: parallel hosts print as whole blocks."""
        with self._lock:
            self._held.setdefault(host, [])

    def release(self, host: str) -> None:
        with self._lock:
            for result, detail in self._held.pop(host, []):
                self._print(result, detail)

    def record(self, result: StepResult, detail: Iterable[str] = ()) -> StepResult:
        with self._lock:
            self.results.append(result)
            self.recap.add(result)
            if result.host in self._held:
                self._held[result.host].append((result, list(detail)))
            else:
                self._print(result, detail)
        return result

    @contextmanager
    def failing_as(self, task: str, host: str) -> Iterator[None]:
        """A SwiftDeployError raised inside is recorded as ``task``'s failure on ``host``, then raised: the
        output names the step, not the run as a whole."""
        try:
            yield
        except SwiftDeployError as exc:
            self.record(failed(task, host, exc))
            raise

    def _print(self, result: StepResult, detail: Iterable[str]) -> None:
        if self.quiet:
            return
        if result.task != self._last_task:
            self.emit("")
            self.emit(task_header(result.task))
            self._last_task = result.task
        self.emit(format_result(result))
        for line in detail:
            self.emit(line)

    def unexpected_error(self, host: str, error: BaseException) -> None:
        """Keep a host's unexpected exception; its result line is recorded as any failure is."""
        with self._lock:
            self.unexpected.append((host, error))

    def note(self, text: str) -> None:
        if not self.quiet:
            self.emit(text)

    def finish(self) -> int:
        """Print what was held and the PLAY RECAP (none when no host ran a step: a usage error
        before any host has only its message, as ansible-playbook's "ERROR!"); the run's exit code."""
        for host in list(self._held):
            self.release(host)
        if not self.quiet and self.recap.counts:
            self.emit("")
            for line in self.recap.lines():
                self.emit(line)
        return self.recap.exit_code()

    def to_json(self, *, exit_code: int | None = None, error: str | None = None) -> str:
        """The run as one document; ``error`` is a failure no step reported (e.g. a bad manifest)."""
        doc: dict = {
            "results": [r.to_dict() for r in self.results],
            "recap": self.recap.to_dict(),
            "exit_code": self.recap.exit_code() if exit_code is None else exit_code,
        }
        if error:
            doc["error"] = error
        return json.dumps(doc, indent=2)
