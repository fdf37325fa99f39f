"""The dashboard's one worker: every ``interval`` seconds, a status frame and what goes with it.

Only this loop touches the target and the policy engine (one worker thread; over SSH the
target's connection is not shared between threads). Each tick takes a frame
(``lifecycle.status.take_frame``), keeps it in the metrics history for the charts (never in
the audit trail), reads the target's state and the audit trail's newest events (read-only),
and publishes an immutable ``Snapshot`` the HTTP threads serve. A tick that fails keeps the
last good frame and records why, so the page can say since when data is missing; nothing a
tick meets ends the loop except Ctrl-C (KeyboardInterrupt) or the stop event.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from typing import Any, Callable

from ..metrics import history as metrics_history
from ..errors import SwiftDeployError
from ..observe.status import take_frame
from .model import Snapshot

AUDIT_TAIL = 200  # events kept from the trail: enough for the newest 20 and a rollout's last moves


def describe_error(exc: BaseException) -> str:
    """A one-line reason for the page: our own message, else the exception's type and text."""
    if isinstance(exc, SwiftDeployError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split()) or type(exc).__name__


class Sampler:
    def __init__(self, project: Any, target: Any, engine: Any, *, interval: float,
                 clock: Callable[[], float] = time.time,
                 take: Callable[[Any, Any], dict[str, Any]] = take_frame,
                 record: Callable[..., None] = metrics_history.record) -> None:
        self.project, self.target, self.engine = project, target, engine
        self.interval = float(interval)
        self._clock, self._take, self._record = clock, take, record
        self._lock = threading.Lock()
        self._audit_key: tuple[int, int, int] | None = None
        self._audit_cache: list[dict[str, Any]] = []
        self.crashed: BaseException | None = None
        self._snapshot = Snapshot(host=target.name, interval=self.interval, started_at=clock(),
                                  canary_steps=tuple(target.manifest.canary.steps))

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def _publish(self, snap: Snapshot) -> None:
        with self._lock:
            self._snapshot = snap

    def tick(self) -> Snapshot:
        """Take one frame (or learn why not) and publish what the page shows."""
        snap = self.snapshot()
        now = self._clock()
        changes: dict[str, Any] = {"attempted_at": now}
        try:
            frame = self._take(self.target, self.engine)
        except Exception as exc:  # noqa: BLE001 - the page must say why, whatever it was
            changes.update(error=describe_error(exc),
                           failing_since=snap.failing_since if snap.error is not None else now)
        else:
            changes.update(frame=frame, frame_at=now, error=None, failing_since=None, record_error=None)
            try:
                self._record(self.project.root, self.target.name, frame)  # charts, not the audit trail
            except (OSError, SwiftDeployError, ValueError) as exc:
                changes["record_error"] = f"not kept for the charts: {describe_error(exc)}"
        try:
            changes.update(target_state=dict(self.target.read_state()), state_error=None)
        except Exception as exc:  # noqa: BLE001 - a host that went away keeps its last known state
            changes["state_error"] = describe_error(exc)
        try:
            changes.update(audit_events=self._audit_tail(), audit_error=None)
        except Exception as exc:  # noqa: BLE001
            changes["audit_error"] = describe_error(exc)
        snap = replace(self.snapshot(), **changes)
        self._publish(snap)
        return snap

    def _audit_tail(self) -> list[dict[str, Any]]:
        """The trail's newest events, read again only when the file changed (read-only)."""
        log = self.project.audit
        try:
            st = os.stat(log.path)
        except FileNotFoundError:
            self._audit_key, self._audit_cache = None, []
            return []
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._audit_key:
            self._audit_cache = log.read(skip_unreadable=True)[-AUDIT_TAIL:]
            self._audit_key = key
        return self._audit_cache

    def run(self, stop: threading.Event) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set.

        A tick already turns every failure to take a frame into the page's "no data since";
        anything else that escapes (a bug) is kept in ``crashed`` for ``serve`` to raise.
        """
        try:
            while not stop.is_set():
                started = time.monotonic()
                self.tick()
                stop.wait(max(0.05, self.interval - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that called serve
            self.crashed = exc
