"""The files in `nginx.d/` that change while nginx runs, applied without dropping a request.

`traffic.conf` (the split), `admin-access.conf` (who reaches the admin listener) and
`maintenance.conf` (the public port's 503) live in the directory nginx has mounted. A change is
written atomically, checked with `nginx -t` inside the running container (the old content goes
back when nginx refuses it: a file nginx would not load is never left behind) and applied with a
graceful reload: new workers serve from then on, the old ones finish the requests they hold. With
``drain`` the call waits until every pre-reload worker is gone, so nothing is still in flight to
what the old file named. A stopped nginx reads the file when it starts. The check, the reload and
the first look at the old workers are one call of the runtime (`nginx_apply`; one exec on compose).

The host's state records each file's digest once nginx serves it (after the reload): a run stopped
between writing a file and the reload left nginx on the old text, and only the state tells that
apart from a file nginx already serves (`serves`).
"""
from __future__ import annotations

import hashlib
import time

from ..errors import CommandFailed, HealthCheckFailed
from .context import Target

DRAIN_GRACE_SECONDS = 10.0  # beyond nginx.proxy_timeout, the longest a proxied request can take
DRAIN_LOOK_SECONDS = 2.0  # one look waits this long at most for the old workers to go (a Ctrl-C ends it)
APPLIED_KEY = "nginx_applied"  # in the host's state: include file -> digest of the text nginx serves


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _applied(target: Target) -> dict[str, str]:
    value = target.read_state().get(APPLIED_KEY)
    return value if isinstance(value, dict) else {}


def serves(target: Target, name: str, text: str) -> bool:
    """Whether nginx serves ``text`` from ``name``: the file holds it and the apply that wrote it finished
    (a file written by a run stopped before its reload is not served yet, whatever the file says)."""
    return target.workspace.read(name) == text and _applied(target).get(name) == digest(text)


def served_before(target: Target, name: str) -> bool:
    """Whether an apply of ``name`` ever finished here (a first deploy's nginx started with the rendered file)."""
    return name in _applied(target)


def _record(target: Target, name: str, text: str | None) -> None:
    applied = _applied(target)
    if text is None:
        applied.pop(name, None)
    else:
        applied[name] = digest(text)
    target.write_state(**{APPLIED_KEY: applied})


def nginx_running(target: Target) -> bool:
    return target.runtime.state(target.manifest.nginx.container_name).startswith("running")


def check_and_reload(target: Target, *, drain: bool, clock=time.monotonic) -> tuple[int, str, float]:
    """`nginx -t` in the running nginx and, when it accepts the config, a graceful reload; with ``drain``
    the call returns once every worker from before the reload is gone. Returns nginx -t's exit status
    and what it said, and the seconds from the check until the old workers were gone (0.0 without)."""
    start = clock()
    applied = target.runtime.nginx_apply(DRAIN_LOOK_SECONDS if drain else None)
    if applied.tested != 0 or not drain:
        return applied.tested, applied.said, 0.0
    deadline = start + target.manifest.nginx.proxy_timeout + DRAIN_GRACE_SECONDS
    left = set(applied.left)
    while left:
        if clock() >= deadline:
            raise CommandFailed("nginx reload", None, f"old workers {sorted(left)} still serve requests",
                                host=target.name, hint="a request is stuck; check the app, then re-run")
        left = target.runtime.nginx_workers_left(left, wait=min(DRAIN_LOOK_SECONDS, max(0.0, deadline - clock())))
    return 0, applied.said, round(clock() - start, 2)


def apply(target: Target, name: str, text: str | None, *, running: bool | None = None,
          drain: bool = False) -> float | None:
    """Make ``name`` hold ``text`` (None: remove it) and the running nginx serve it.

    Returns the seconds until the old workers had finished (0.0 without ``drain``), or None when nginx
    does not run. ``running``: the caller already asked.
    """
    old = target.workspace.read(name)
    if text is None:
        target.workspace.remove(name)
    else:
        target.workspace.write(name, text)
    if not (nginx_running(target) if running is None else running):
        _record(target, name, text)  # nginx reads the file as it starts
        return None
    exited, said, drained = check_and_reload(target, drain=drain)
    if exited != 0:
        if old is None:
            target.workspace.remove(name)
        else:
            target.workspace.write(name, old)
        if not nginx_running(target):  # it died under the check (`docker exec`: "is not running")
            container = target.manifest.nginx.container_name
            raise HealthCheckFailed(f"{name} was not applied: nginx ({container}) stopped while it was checked; "
                                    "run the command again (it starts nginx again)", host=target.name)
        raise CommandFailed("nginx -t", exited, said, host=target.name)
    _record(target, name, text)
    return drained
