"""Status frames taken in a worker thread, so Ctrl-C always reaches the one watching.

Over SSH a frame runs commands on the host; a Ctrl-C that arrives while one runs is caught
by Invoke's runner (it forwards the interrupt to the command and carries on), so a loop that
takes frames in the main thread may never stop. Here one daemon thread takes the frames
(it alone touches the target and the engine) and the caller only waits on a queue, where
KeyboardInterrupt always lands. An error taking a frame is handed over and re-raised.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator

from .status import take_frame


def frames(target: Any, engine: Any, *, interval: float,
           take: Callable[[Any, Any], dict[str, Any]] = take_frame) -> Iterator[dict[str, Any]]:
    """Yield a frame every ``interval`` seconds until the caller stops iterating (or Ctrl-C)."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                item: tuple[str, Any] = ("frame", take(target, engine))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                item = ("error", exc)
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.25)
                    break
                except queue.Full:
                    continue
            if item[0] == "error":
                return
            stop.wait(interval)

    worker = threading.Thread(target=work, name="swiftdeploy-status-frames", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = handoff.get(timeout=0.25)  # short waits: Ctrl-C is handled between them
            except queue.Empty:
                continue
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
