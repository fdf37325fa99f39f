"""gunicorn's gthread worker noticing SIGTERM at once (gunicorn.conf.py's ``post_worker_init``).

gunicorn 20.1 (Debian 12's, in the offline base image) waits up to 1 s on its sockets before it
looks whether SIGTERM asked it to stop, so every `docker stop` of the app (a canary removed, a
stable replaced) took about half a second more than its requests needed. The worker already has
a pipe that every signal writes to (``signal.set_wakeup_fd``; gunicorn's sync worker waits on it):
with that pipe in the gthread poller, the signal wakes the wait too. Newer gunicorn wakes its loop
on its own, and the pipe changes nothing there. The shutdown itself stays gunicorn's: requests in
flight are answered first.
"""
from __future__ import annotations

import os
import selectors
from typing import Any


def wake_on_signals(worker: Any) -> bool:
    """Register the worker's signal pipe in its poller; False for a worker without either (sync, gevent)."""
    poller, pipe = getattr(worker, "poller", None), getattr(worker, "PIPE", None)
    if not isinstance(poller, selectors.BaseSelector) or not pipe:
        return False
    try:
        poller.register(pipe[0], selectors.EVENT_READ, _drain)
    except KeyError:  # registered already: woken as it is
        pass
    return True


def _drain(fd: int) -> None:
    """Empty the pipe (non-blocking, as gunicorn opens it), so the next wait does not wake for nothing."""
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass
