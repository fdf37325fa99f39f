"""Running one hook: a real subprocess on the controller, bounded in time and output.

The hook runs as ``[path]`` (its own ``#!`` line picks the interpreter) with cwd = the
project directory, the environment from ``context.hook_env``, stdin from /dev/null (nothing
prompts) and stdout and stderr read through one pipe, so the kept tail (``output.OutputTail``)
has both in the order they were written. It runs in a session of its own: on timeout the whole
process group gets SIGTERM, and SIGKILL ``TERM_GRACE`` seconds later. A process a hook leaves
running in the background is not waited for: once the hook has exited, its output is read
for at most ``DRAIN_GRACE`` more seconds.

``run_hook`` never raises for the hook's own failure: it returns a ``HookResult``.
``run_pre_hook`` turns a failed pre hook into ``HookFailed`` (exit 7) so the command stops
before it changes anything; ``run_post_hook`` only reports, since the command already happened.
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import HookFailed
from .context import HookContext, Outcome, hook_env, hook_name
from .layout import directory_outside, hook_problem, hooks_location
from .output import OutputTail

DEFAULT_TIMEOUT = 300.0
TERM_GRACE = 2.0   # seconds between SIGTERM and SIGKILL when a hook times out
DRAIN_GRACE = 1.0  # seconds to keep reading after the hook exited, while a child still holds its output
_POLL = 0.05       # how often the wait notices that the hook exited
_READ = 65536

STATUSES = ("ok", "failed", "skipped")


@dataclass(frozen=True)
class HookResult:
    """One hook run (or the lack of one).

    ``exit_code`` is the hook's exit status when it exited by itself, None when it was not
    run, could not start, was killed by a signal or timed out (``detail`` says which).
    ``output_tail`` is safe to print as is (see ``output``).
    """

    hook: str
    path: str           # as the user names it: hooks/pre-deploy
    status: str         # ok | failed | skipped
    exit_code: int | None
    seconds: float
    output_tail: str = ""
    detail: str = ""    # "exited 3", "timed out after 300 s", "not present", ...
    timed_out: bool = False
    command: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_audit(self) -> dict[str, Any]:
        """The run as a JSON-able dict for the audit trail's ``hook`` event."""
        return {
            "hook": self.hook,
            "command": self.command,
            "path": self.path,
            "status": self.status,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out,
            "detail": self.detail,
            "output_tail": self.output_tail,
        }


def run_hook(
    hook: str,
    context: HookContext,
    *,
    hooks_dir: str | os.PathLike[str],
    root: str | os.PathLike[str],
    outcome: Outcome | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> HookResult:
    """Run ``hook`` of ``context.command`` if it is present; ``skipped`` when it is not.

    ``hooks_dir`` is relative to ``root`` (the project directory, also the hook's cwd);
    ``base_env`` defaults to this process's environment. A hook file that cannot run (see
    ``layout``) gives a ``failed`` result naming the problem. ValueError for arguments that
    do not fit together (a post hook without ``outcome``, a hook of another command, a
    timeout that is not positive).
    """
    if not timeout > 0:
        raise ValueError(f"hook timeout must be a positive number of seconds, got {timeout!r}")
    env = hook_env(hook, context, outcome, base=os.environ if base_env is None else base_env)
    directory, shown_dir = hooks_location(hooks_dir, root)
    shown = os.path.join(shown_dir, hook)
    problem = hook_problem(directory, hook, shown)
    escape = directory_outside(directory, shown_dir, root) if problem is not None else None
    if escape:
        return HookResult(hook, shown, "failed", None, 0.0, detail=escape, command=context.command)
    if problem is None:
        return HookResult(hook, shown, "skipped", None, 0.0, detail="not present", command=context.command)
    if problem:  # the hook file changed since validate_hooks, or was never validated
        detail = problem.removeprefix(f"{shown}: ")
        return HookResult(hook, shown, "failed", None, 0.0, detail=detail, command=context.command)
    return _execute(hook, shown, os.path.join(directory, hook), context.command,
                    cwd=os.fspath(root), env=env, timeout=timeout)


def run_pre_hook(
    context: HookContext,
    *,
    hooks_dir: str | os.PathLike[str],
    root: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> HookResult:
    """Run ``pre-<command>``; HookFailed (exit 7) when it fails or times out, else its result."""
    result = run_hook(hook_name("pre", context.command), context, hooks_dir=hooks_dir, root=root,
                      timeout=timeout, base_env=base_env)
    if result.failed:
        raise HookFailed(result.hook, result.exit_code, result.output_tail, detail=result.detail,
                         path=result.path, result=result)
    return result


def run_post_hook(
    context: HookContext,
    outcome: Outcome,
    *,
    hooks_dir: str | os.PathLike[str],
    root: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT,
    base_env: Mapping[str, str] | None = None,
) -> HookResult:
    """Run ``post-<command>`` told ``outcome``; a failure is in the result, never raised."""
    return run_hook(hook_name("post", context.command), context, hooks_dir=hooks_dir, root=root,
                    outcome=outcome, timeout=timeout, base_env=base_env)


def _execute(hook: str, shown: str, path: str, command: str, *, cwd: str, env: Mapping[str, str],
             timeout: float) -> HookResult:
    tail = OutputTail()
    start = time.monotonic()
    try:
        proc = subprocess.Popen([path], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    except OSError as exc:
        return HookResult(hook, shown, "failed", None, time.monotonic() - start,
                          detail=_start_error(exc, cwd), command=command)
    assert proc.stdout is not None
    timed_out = False
    try:
        timed_out = _pump(proc, tail, start + timeout)
    finally:
        if proc.poll() is None:  # interrupted (Ctrl-C, an error): never leave the hook running
            _stop_group(proc)
        proc.stdout.close()
    seconds = time.monotonic() - start
    code = proc.returncode
    if timed_out:
        return HookResult(hook, shown, "failed", None, seconds, tail.text(),
                          f"timed out after {timeout:g} s and was stopped", True, command)
    if code < 0:
        return HookResult(hook, shown, "failed", None, seconds, tail.text(), f"killed by {_signal_name(-code)}",
                          command=command)
    return HookResult(hook, shown, "ok" if code == 0 else "failed", code, seconds, tail.text(), f"exited {code}",
                      command=command)


def _pump(proc: subprocess.Popen[bytes], tail: OutputTail, deadline: float) -> bool:
    """Read the hook's output until it ends; True when the deadline passed and the hook was stopped."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    drain_until: float | None = None
    eof = False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not eof:
            now = time.monotonic()
            if drain_until is None:
                if proc.poll() is not None:
                    drain_until = now + DRAIN_GRACE
                elif now >= deadline:
                    _stop_group(proc)
                    _drain(fd, tail, time.monotonic() + DRAIN_GRACE, selector)
                    return True
            elif now >= drain_until:
                return False
            limit = deadline if drain_until is None else drain_until
            if selector.select(max(0.0, min(_POLL, limit - now))):
                eof = _read(fd, tail)
    try:  # the output ended, but the hook may still run (it closed its stdout)
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        return True
    return False


def _drain(fd: int, tail: OutputTail, until: float, selector: selectors.BaseSelector) -> None:
    """What the stopped hook wrote last, for a moment at most."""
    while (left := until - time.monotonic()) > 0:
        if selector.select(left) and _read(fd, tail):
            return


def _read(fd: int, tail: OutputTail) -> bool:
    """One read into ``tail``; True at end of output."""
    try:
        chunk = os.read(fd, _READ)
    except BlockingIOError:
        return False
    if not chunk:
        return True
    tail.feed(chunk)
    return False


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the hook's process group, SIGKILL it after ``TERM_GRACE``, and reap the hook.

    The group is signalled while the hook is not yet reaped (``WNOWAIT``), so its id cannot
    have been reused by an unrelated process.
    """
    _signal_group(proc.pid, signal.SIGTERM)
    end = time.monotonic() + TERM_GRACE
    while time.monotonic() < end and not _exited(proc.pid):
        time.sleep(0.02)
    _signal_group(proc.pid, signal.SIGKILL)  # also what the hook left behind in its group
    proc.wait()


def _exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _start_error(exc: OSError, cwd: str) -> str:
    if exc.errno == errno.ENOEXEC:
        return "could not start: not a program the system can run (does a script begin with a #! line?)"
    if exc.errno == errno.ENOENT and not os.path.isdir(cwd):
        return f"could not start: the project directory {cwd} does not exist"
    if exc.errno == errno.ENOENT:
        return "could not start: its #! line names an interpreter that does not exist"
    return f"could not start: {exc.strerror or exc}"
