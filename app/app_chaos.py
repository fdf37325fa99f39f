"""Chaos injection: the request model, its validation and the per-process switch.

Pure logic apart from the lock; the Flask wiring (which routes are affected,
sleeping, answering 500) lives in app.py.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable

ALLOWED_MODES = ["slow", "error", "recover"]
UNSUPPORTED_MODE = "unsupported chaos mode"
MAX_SLOW_SECONDS = 10  # bounded: a longer hold would outlast gunicorn's timeout and proxies' patience
BAD_DURATION = f"duration must be a number of seconds from 0 to {MAX_SLOW_SECONDS}"
BAD_RATE = "rate must be a number between 0 and 1"

# Values of the chaos_active gauge.
GAUGE_CODES = {"off": 0, "slow": 1, "error": 2}


class ChaosRequestError(ValueError):
    """A POST /chaos body that cannot be applied; ``body`` is the JSON error answer."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["error"])
        self.body = body


@dataclass(frozen=True)
class ChaosState:
    """What chaos is active: ``mode`` is "off", "slow" or "error"."""

    mode: str = "off"
    duration: float = 0.0
    rate: float = 0.0

    @property
    def gauge_code(self) -> int:
        return GAUGE_CODES[self.mode]

    def should_fail(self, draw: float) -> bool:
        """True when a request must fail; ``draw`` is uniform in [0, 1)."""
        return self.mode == "error" and draw < self.rate


OFF = ChaosState()


def _is_number(value: object) -> bool:
    # bool is an int subclass, and JSON bodies may carry NaN/Infinity: refuse all three.
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def parse_chaos_request(body: object) -> ChaosState:
    """Turn a decoded JSON body into the state to switch to, or raise ChaosRequestError."""
    mode = body.get("mode") if isinstance(body, dict) else None
    if mode == "recover":
        return OFF
    if mode == "slow":
        duration = body.get("duration")  # type: ignore[union-attr]
        if not _is_number(duration) or not 0 <= duration <= MAX_SLOW_SECONDS:
            raise ChaosRequestError({"error": BAD_DURATION})
        return ChaosState(mode="slow", duration=duration)
    if mode == "error":
        rate = body.get("rate")  # type: ignore[union-attr]
        if not _is_number(rate) or not 0 <= rate <= 1:
            raise ChaosRequestError({"error": BAD_RATE})
        return ChaosState(mode="error", rate=rate)
    raise ChaosRequestError({"error": UNSUPPORTED_MODE, "allowed_modes": list(ALLOWED_MODES)})


def answer_for(state: ChaosState) -> dict[str, Any]:
    """The 200 body POST /chaos returns after switching to ``state``."""
    if state.mode == "slow":
        return {"status": "chaos activated", "mode": "slow", "duration": state.duration}
    if state.mode == "error":
        return {"status": "chaos activated", "mode": "error", "rate": state.rate}
    return {"status": "recovered", "mode": "off"}


class ChaosSwitch:
    """The process-wide chaos state, shared by gunicorn's threads.

    State lives in memory, so each worker *process* would have its own: gunicorn
    runs one worker with several threads (see gunicorn.conf.py). Slow chaos holds
    at most ``slow_slots`` requests at once, and a new state (recover) releases the
    ones held at once, so a saturated canary can always be recovered.
    """

    def __init__(self, slow_slots: int = 1) -> None:
        self._changed = threading.Condition()
        self._state = OFF
        self._slots = threading.BoundedSemaphore(max(1, slow_slots))

    @property
    def state(self) -> ChaosState:
        with self._changed:
            return self._state

    def set(self, state: ChaosState) -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def hold(self, state: ChaosState, sleep: Callable[[float], None] | None = None) -> bool:
        """Hold the calling request for ``state.duration`` (False when every slot is taken: not held).

        Without ``sleep`` the hold ends early when the state changes.
        """
        if not self._slots.acquire(blocking=False):
            return False
        try:
            if sleep is not None:
                sleep(state.duration)
            else:
                with self._changed:
                    self._changed.wait_for(lambda: self._state is not state, timeout=state.duration)
        finally:
            self._slots.release()
        return True
