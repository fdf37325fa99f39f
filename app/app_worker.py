"""gunicorn's gthread worker noticing SIGTERM at once (gunicorn.conf.py's ``post_worker_init``).

gunicorn 20.1 (Debian 12's, in the offline base image) waits up to 1 s on its sockets before it
looks whether SIGTERM asked it to stop, so every `docker stop` of the app (a canary removed, a
stable replaced) took about half a second more than its requests needed. The worker already has
a pipe that every signal writes to (``signal.set_wakeup_fd``; gunicorn's sync worker waits on it):
with that pipe in the gthread poller, the signal wakes the wait too. Newer gunicorn wakes its loop
on its own, and the pipe changes nothing there. The shutdown itself stays gunicorn's: requests in
flight are answered first.

Once that shutdown is over, the worker process still spent about 60 ms tearing down its interpreter
(Flask, the metrics registry, the thread pool) before the master could see it go: `end_at_once` ends
it there (gunicorn.conf.py's ``worker_exit``), but only after a clean stop, so a worker that failed to
boot still exits with the code that tells the master to give up. The master, stopping, looks for
its workers' exit every 0.1 s: `leave_with_last_worker` (``child_exit``) ends it as soon as the last
one is reaped, when nothing is left for its own shutdown to do.
"""
from __future__ import annotations

import logging
import os
import selectors
import sys
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


def end_at_once(worker: Any) -> bool:
    """In the worker's process, after gunicorn stopped it cleanly (it exits with ``SystemExit(0)``, which
    ``worker_exit`` runs under): flush the logs and end the process without the interpreter's teardown.
    False, and nothing done, for any other exit (a boot or load failure's code must reach the master)."""
    leaving = sys.exc_info()[1]
    if getattr(worker, "pid", None) != os.getpid() or not isinstance(leaving, SystemExit) \
            or leaving.code not in (0, None):
        return False
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or gone: nothing left to lose
            pass
    os._exit(0)


def leave_with_last_worker(server: Any) -> bool:
    """In the master, as a worker is reaped: once a stop (SIGTERM) has closed the listeners and no worker
    is left, log what gunicorn logs and exit 0 now rather than at the next tick of its 0.1 s wait.

    Only when the rest of gunicorn's shutdown has nothing to do (no pid file, no dirty arbiter) and the
    stop is not a failure's (a ``HaltServer`` carries the master's exit code): False, nothing done, else.
    """
    failing = sys.exc_info()[1]  # the exception the master is handling under this signal, if any
    if server.LISTENERS or server.WORKERS or getattr(server, "pidfile", None) is not None \
            or getattr(server, "dirty_arbiter_pid", 0) \
            or (failing is not None and not isinstance(failing, (StopIteration, KeyboardInterrupt))):
        return False
    server.log.info("Shutting down: %s", server.master_name)
    raise SystemExit(0)
