"""Chaos injection: the request model, its validation and the per-process switch.

Pure logic apart from the lock; the Flask wiring (which routes are affected,
sleeping, answering 500) lives in app.py.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

ALLOWED_MODES = ["slow", "error", "recover"]
UNSUPPORTED_MODE = "unsupported chaos mode"
BAD_DURATION = "duration must be a non-negative number"
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
        if not _is_number(duration) or duration < 0:
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
    runs one worker with several threads (see gunicorn.conf.py).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = OFF

    @property
    def state(self) -> ChaosState:
        with self._lock:
            return self._state

    def set(self, state: ChaosState) -> None:
        with self._lock:
            self._state = state
