"""Run a command's lifecycle hooks around it: pre-hook before anything changes, post-hook after.

Hooks run once per command on the controller (not per host). A failing pre-hook stops the
command before any host is touched (HookFailed, exit 7); a failing post-hook is reported but
cannot undo what already happened. Every hook that ran is audited as a `hook` event. Check mode
runs no hooks: they may have effects of their own.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

from ..errors import HookFailed, SwiftDeployError
from ..hooks import HookResult, Outcome, new_context, run_post_hook, run_pre_hook, validate_hooks
from ..results import Reporter, StepResult
from .context import Project

INTERRUPTED = 130  # 128 + SIGINT, the exit code `reporting` gives an interrupted run


def _record(project: Project, reporter: Reporter, result: HookResult) -> None:
    """Audit and show a hook that ran. A post-hook's failure is shown but keeps the command's exit code."""
    if result.status == "skipped":
        return
    project.audit.append("hook", result.to_audit())
    said = f"exited {result.exit_code}"
    message = f"{result.hook} {said}" + (f": {result.detail}" if result.detail and result.detail != said else "")
    if result.failed:
        message += "; the command itself already finished, its outcome stands"
    reporter.record(StepResult(f"hook {result.hook}", "local", "failed" if result.failed else "ok", message,
                               {"output": result.output_tail}))


def _decision(reporter: Reporter, code: int) -> str:
    if code == 3:
        return "deny"
    allowed = any(r.task.startswith("policy:") and r.status == "ok" for r in reporter.results)
    return "allow" if allowed else "none"


@contextmanager
def hooked(project: Project, command: str, hosts: Sequence[str], reporter: Reporter, *,
           check: bool = False, mode: str | None = None) -> Iterator[None]:
    if check:
        yield
        return
    m = project.manifest
    validate_hooks(m.hooks_dir, root=project.root)
    context = new_context(command, hosts, version=m.services.version, mode=mode or m.services.mode)
    try:
        _record(project, reporter, run_pre_hook(context, hooks_dir=m.hooks_dir, root=project.root))
    except HookFailed as exc:
        if exc.result is not None:
            project.audit.append("hook", exc.result.to_audit())
        reporter.record(StepResult(f"hook pre-{command}", "local", "failed", exc.message, {}, exc.exit_code))
        raise
    code = 0
    try:
        yield
    except SwiftDeployError as exc:
        code = exc.exit_code
        raise
    except KeyboardInterrupt:  # Ctrl-C: the post-hook sees the shell's 130, as the caller's exit code is
        code = INTERRUPTED
        raise
    except BaseException:
        code = 1
        raise
    finally:
        code = code or reporter.recap.exit_code()
        outcome = Outcome(code, _decision(reporter, code))
        _record(project, reporter, run_post_hook(context, outcome, hooks_dir=m.hooks_dir, root=project.root))
