"""`inv lock`: show or remove a host's deploy lock, as one reported step per host."""
from __future__ import annotations

from ..remote import lock as deploy_lock
from ..results import Reporter, StepResult
from .context import Target


def show(target: Target, reporter: Reporter) -> StepResult:
    """Who holds the lock (ok either way); a stale one says how to remove it."""
    info = deploy_lock.status(target.host, target.workspace)
    if info is None:
        return reporter.record(StepResult("lock status", target.name, "ok", "free: no deploy lock held"))
    stale = info.stale_reason()
    note = f"; looks stale ({stale}): `inv lock --release` with the same host flags removes it" if stale else ""
    return reporter.record(StepResult("lock status", target.name, "ok", f"held by {info.describe()}{note}",
                                      {"holder": info.holder, "pid": info.pid, "time": info.time,
                                       "command": info.command, "message": info.message, "stale": stale}))


def release(target: Target, reporter: Reporter, *, force: bool) -> StepResult:
    """Remove the lock when it is stale or ours (any lock with ``force``); `LockHeld` otherwise."""
    info = deploy_lock.release(target.host, target.workspace, force=force)
    if info is None:
        return reporter.record(StepResult("lock release", target.name, "ok", "no deploy lock was held"))
    return reporter.record(StepResult("lock release", target.name, "changed", f"released the lock of {info.describe()}"))
