"""The deploy lock: one mutating run per target host at a time.

The lock lives ON the target, in its project directory (``.swiftdeploy/lock.json``),
so every controller (laptops, CI runners) sees the same one. It is taken
atomically by writing the holder record to a temp file and hard-linking it to the
lock name: ``ln`` fails when the name exists, and readers never see a half-written
record. The same shell commands run through ``Host.local()`` with a LocalWorkspace,
so local runs are locked the same way.

A second run is refused at once (LockHeld) with the holder, the command, the age
and how to release. A lock is *stale* when
- it was taken on this controller (same host name) by a process that is gone
  (pid not running, or the pid now belongs to a process started at another time), or
- it is older than the TTL (default one hour: a deploy, even with a canary
  window, takes minutes; a lock that old was left by a crashed or killed run).
Stale locks are never broken silently (two runs racing to break one could both
win); ``release()`` removes a stale lock, ``release(force=True)`` any lock.
"""
from __future__ import annotations

import getpass
import json
import os
import posixpath
import secrets
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Callable

from ..errors import CommandFailed, LockHeld, SwiftDeployError
from ..host import Host
from ..workspace import Workspace

LOCK_FILE = ".swiftdeploy/lock.json"
DEFAULT_TTL = 3600.0
_HELD = 75  # exit code of the acquire script when the lock file already exists

# $1 lock dir, $2 temp file, $3 lock file, $4 record. `ln` is the atomic test-and-set.
_ACQUIRE = (
    'mkdir -p -- "$1" && printf "%s\\n" "$4" > "$2" || exit 1\n'
    'if ln -- "$2" "$3" 2>/dev/null; then rm -f -- "$2"; exit 0; fi\n'
    'rm -f -- "$2"; cat -- "$3" 2>/dev/null; exit ' + str(_HELD)
)
# $1 lock file, $2 token: remove only the lock we mean (not one taken since).
_RELEASE = 'grep -qF -- "$2" "$1" 2>/dev/null || exit 0; rm -f -- "$1"'


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int, started: str | None) -> bool:
    """True when process ``pid`` runs on this machine and (if known) started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    current = _process_start(pid)
    return started is None or current is None or current == started


@dataclass(frozen=True)
class LockInfo:
    holder: str  # user@controller
    controller: str
    pid: int
    time: str  # ISO 8601, UTC
    command: str
    message: str = ""
    token: str = ""
    pid_start: str | None = None

    @classmethod
    def new(cls, command: str, message: str = "") -> "LockInfo":
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        controller = socket.gethostname()
        return cls(holder=f"{user}@{controller}", controller=controller, pid=os.getpid(),
                   time=_now().isoformat(timespec="seconds").replace("+00:00", "Z"), command=command,
                   message=message, token=secrets.token_hex(8), pid_start=_process_start(os.getpid()))

    @classmethod
    def from_json(cls, text: str) -> "LockInfo":
        """Parse a lock record; an unreadable one is still a lock (held by "unknown")."""
        try:
            data = json.loads(text)
            return cls(holder=str(data["holder"]), controller=str(data.get("controller", "")),
                       pid=int(data.get("pid", 0)), time=str(data.get("time", "")),
                       command=str(data.get("command", "")), message=str(data.get("message", "")),
                       token=str(data.get("token", "")), pid_start=data.get("pid_start"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(holder="unknown", controller="", pid=0, time="", command="",
                       message=f"unreadable lock record: {text[:80]!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def age_seconds(self, now: datetime | None = None) -> float | None:
        try:
            taken = datetime.fromisoformat(self.time)
        except ValueError:
            return None
        return ((now or _now()) - taken).total_seconds()

    def stale_reason(self, *, ttl: float = DEFAULT_TTL, now: datetime | None = None,
                     this_controller: str | None = None,
                     alive: Callable[[int, str | None], bool] = pid_alive) -> str | None:
        """Why this lock looks abandoned, or None when its holder may still be running."""
        if self.controller and self.controller == (this_controller or socket.gethostname()):
            if self.pid and not alive(self.pid, self.pid_start):
                return f"process {self.pid} on {self.controller} is no longer running"
        age = self.age_seconds(now)
        if age is not None and age > ttl:
            return f"taken {_duration(age)} ago, longer than the {_duration(ttl)} lock TTL"
        return None

    def describe(self, now: datetime | None = None) -> str:
        age = self.age_seconds(now)
        since = f" since {self.time} ({_duration(age)} ago)" if age is not None else ""
        what = f" for `{self.command}`" if self.command else ""
        note = f": {self.message!r}" if self.message else ""
        return f"{self.holder} (pid {self.pid}){since}{what}{note}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Lock:
    """A held lock; ``release()`` (or leaving the ``with`` block) gives it back."""

    def __init__(self, host: Host, workspace: Workspace, info: LockInfo) -> None:
        self.host, self.workspace, self.info = host, workspace, info
        self.held = True

    def release(self) -> None:
        if self.held:
            _remove(self.host, self.workspace, self.info.token)
            self.held = False

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.release()
        except SwiftDeployError:
            if exc is None:
                raise  # otherwise keep the error that ended the run; the lock shows up as stale


def _remove(host: Host, workspace: Workspace, token: str) -> None:
    host.run(["sh", "-c", _RELEASE, "sh", workspace.path(LOCK_FILE), token])


def acquire(host: Host, workspace: Workspace, command: str, message: str = "", *,
            ttl: float = DEFAULT_TTL) -> Lock:
    """Take the deploy lock on ``host`` or raise LockHeld (with ``.info`` and ``.stale``) at once."""
    info = LockInfo.new(command, message)
    path = workspace.path(LOCK_FILE)
    tmp = f"{path}.{info.token}.tmp"
    for _ in range(3):  # the holder may release between our `ln` and `cat`: try again
        result = host.run(["sh", "-c", _ACQUIRE, "sh", posixpath.dirname(path), tmp, path, info.to_json()], check=False)
        if result.ok:
            return Lock(host, workspace, info)
        if result.exited != _HELD:
            raise CommandFailed(f"take deploy lock {path}", result.exited, result.stderr, host=host.name,
                                hint="check that the login user may write the project directory")
        if result.stdout.strip():
            raise held_error(host, LockInfo.from_json(result.stdout), ttl=ttl)
    raise CommandFailed(f"take deploy lock {path}", None, "the lock file exists but cannot be read",
                        host=host.name, hint=f"inspect {path} and remove it if it is not a deploy lock")


def held_error(host: Host, info: LockInfo, *, ttl: float = DEFAULT_TTL) -> LockHeld:
    stale = info.stale_reason(ttl=ttl)
    if stale:
        advice = f"It looks stale ({stale}): release it with `inv lock --release`, then run again."
    else:
        advice = ("Wait for that run to finish. See it with `inv lock --status`; if that run is gone, release "
                  "it with `inv lock --release` (`inv lock --release --force` while it still looks alive).")
    error = LockHeld(f"deploy lock is held by {info.describe()}. {advice}", host=host.name)
    error.info = info  # type: ignore[attr-defined]
    error.stale = stale  # type: ignore[attr-defined]
    return error


def status(host: Host, workspace: Workspace) -> LockInfo | None:
    """The current lock on ``host``, or None when it is free."""
    text = workspace.read(LOCK_FILE)
    return LockInfo.from_json(text) if text is not None and text.strip() else None


def release(host: Host, workspace: Workspace, force: bool = False, *, ttl: float = DEFAULT_TTL) -> LockInfo | None:
    """Remove the lock if it is stale, ours, or ``force``; return what was removed (None: was free).

    Raises LockHeld when another run that still looks alive holds it and not ``force``.
    """
    info = status(host, workspace)
    if info is None:
        return None
    ours = info.controller == socket.gethostname() and info.pid == os.getpid()
    if not (force or ours or info.stale_reason(ttl=ttl)):
        raise LockHeld(f"deploy lock is held by {info.describe()}, which still looks alive; wait for it, or "
                       "release it anyway with `inv lock --release --force` if you know that run is gone",
                       host=host.name)
    if info.token:
        _remove(host, workspace, info.token)
    else:  # an unreadable record has no token to match
        workspace.remove(LOCK_FILE)
    return info
