"""gunicorn's gthread worker, stopping as soon as it is told to (gunicorn.conf.py names it).

gunicorn 20.1 (Debian 12's, in the offline base image) waits up to 1 s on its sockets before it
looks whether SIGTERM asked it to stop, so every `docker stop` of the app (a canary removed, a stable
replaced) took about half a second more than its requests needed. Newer gunicorn wakes its own loop;
this does the same on any version: a pipe in the worker's poller, written to by the signal handler.
In-flight requests still finish (gunicorn's graceful shutdown is unchanged).
"""
from __future__ import annotations

import os
import selectors

from gunicorn.workers.gthread import ThreadWorker


class PromptStopWorker(ThreadWorker):
    _wake_read: int | None = None
    _wake_write: int | None = None

    def run(self) -> None:
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        self.poller.register(self._wake_read, selectors.EVENT_READ, self._woken)
        super().run()

    def _woken(self, fd: int) -> None:
        try:
            os.read(fd, 512)
        except BlockingIOError:
            pass

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        if self._wake_write is not None:
            try:
                os.write(self._wake_write, b"x")
            except OSError:  # the pipe is full: the loop is awake already
                pass
