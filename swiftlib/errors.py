"""One exception tree for everything SwiftDeploy can refuse or fail at.

Each class carries the process exit code the CLI returns for it (README, Exit codes), so
the command line (`swiftlib.run.console`) maps any error to an exit code in one place.

    SwiftDeployError                 1  unexpected failure
    ├── ConfigError                  2  invalid manifest, inventory or arguments
    │   ├── ManifestError                 (carries the key path)
    │   ├── InventoryError                (carries file and line)
    │   ├── UsageError                    (bad CLI arguments)
    │   └── PreflightFailed               (a pre-flight check did not pass)
    ├── CommandFailed                1  a command on a host failed
    ├── LockHeld                     1  another run holds the deploy lock
    ├── PolicyDenied                 3  the policy engine said no
    ├── PolicyEngineError            4  no usable decision (fail closed)
    │   └── MetricsSourceError            the gate's metrics source (Prometheus) gave no usable numbers
    ├── HealthCheckFailed            5  health or verification failed after acting
    ├── HostUnreachable              6  could not connect to a host
    └── HookFailed                   7  a pre-command hook failed or timed out; nothing was changed

Library code raises these (translating third-party errors with ``raise X from exc``);
it never prints and never exits.
"""
from __future__ import annotations

from typing import Any, Sequence


class SwiftDeployError(Exception):
    """Root of every error SwiftDeploy raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host

    def __str__(self) -> str:
        return f"[{self.host}] {self.message}" if self.host else self.message


class ConfigError(SwiftDeployError):
    """Input the user gave us is wrong: fix the file or the arguments."""

    exit_code = 2


class ManifestError(ConfigError):
    """The manifest is missing, unreadable or invalid.

    ``problems`` lists every ``"key.path: expected ..., got ..."`` line found, so one
    run reports all of them rather than the first.
    """

    def __init__(self, problems: Sequence[str] | str, *, path: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        if len(self.problems) == 1:
            text = f"{where}{self.problems[0]}"
        else:
            text = f"{where}{len(self.problems)} problems\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(text)


class InventoryError(ConfigError):
    """An inventory file is malformed or names something that does not exist."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path or ""
        if path and line:
            where = f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(ConfigError):
    """Command-line arguments that cannot work together or are out of range."""


class PreflightFailed(ConfigError):
    """One or more pre-flight checks failed; nothing was started."""

    def __init__(self, message: str, *, checks: Sequence[Any] = (), host: str | None = None) -> None:
        super().__init__(message, host=host)
        self.checks = list(checks)


class CommandFailed(SwiftDeployError):
    """A command run on a host failed.

    ``exited`` is its exit status when it exited non-zero, or None when there is no such
    status to report (it timed out, was killed, could not be reached, or its output was
    wrong although it exited 0): the message then says "failed", never "exited 0" or
    "exited -1". A negative status (killed by a signal, or no status over SSH) says so.
    """

    exit_code = 1

    def __init__(
        self,
        command: str,
        exited: int | None,
        stderr: str = "",
        *,
        host: str | None = None,
        hint: str = "",
    ) -> None:
        self.command = command
        self.exited = exited
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-5:]
        detail = ("\n    " + "\n    ".join(tail)) if tail else ""
        extra = f"\n  {hint}" if hint else ""
        if exited is None or exited == 0:
            what = "failed"
        elif exited < 0:  # subprocess: killed by signal -N; SSH: no exit status came back
            what = f"failed without an exit status ({exited}: killed, or the connection was cut)"
        else:
            what = f"exited {exited}"
        super().__init__(f"`{_shown(command)}` {what}{detail}{extra}", host=host)


def _shown(command: str, most: int = 160) -> str:
    """A command as an error names it: a multi-line script by its first line (the rest is ours, not news)."""
    first = command.strip().splitlines()[0] if command.strip() else command
    return first if first == command.strip() and len(first) <= most else first[:most].rstrip() + " …"


class LockHeld(SwiftDeployError):
    """Another run holds the deploy lock on this host."""

    exit_code = 1


class PolicyDenied(SwiftDeployError):
    """The policy engine answered, and the answer was no."""

    exit_code = 3

    def __init__(self, message: str, *, decision: Any = None, host: str | None = None) -> None:
        super().__init__(message, host=host)
        self.decision = decision


class PolicyEngineError(SwiftDeployError):
    """The policy engine could not give a usable decision; we fail closed."""

    exit_code = 4

    def __init__(self, message: str, *, reason: str = "engine_error", host: str | None = None) -> None:
        super().__init__(message, host=host)
        self.reason = reason


class MetricsSourceError(PolicyEngineError):
    """Prometheus, as the canary gate's metrics source, gave no usable numbers: unreachable, an API
    error, or an empty result. The gate cannot judge, so it fails closed like an engine failure (4).

    ``reason``: ``unreachable``, ``not_ready``, ``api_error``, ``bad_answer`` or ``empty_result``.
    """


class HealthCheckFailed(SwiftDeployError):
    """The stack was changed but did not become healthy in time."""

    exit_code = 5


class HostUnreachable(SwiftDeployError):
    """An SSH connection to a host could not be made."""

    exit_code = 6


class HookFailed(SwiftDeployError):
    """A pre-command hook (``hooks/pre-deploy`` ...) failed or timed out, so the command
    stopped before changing anything.

    ``exited`` is the hook's exit status (None when it was killed, timed out or could not
    start: ``detail`` says which); ``output`` is the tail of its output, already bounded and
    escaped by the caller; ``result`` is the hook run itself, for the audit trail.
    """

    exit_code = 7
    OUTPUT_LINES = 25  # a backstop: hooks.output already keeps 20 lines and a note of what it left out

    def __init__(
        self,
        hook: str,
        exited: int | None,
        output: str = "",
        *,
        detail: str = "",
        path: str | None = None,
        result: Any = None,
        host: str | None = None,
    ) -> None:
        self.hook = hook
        self.exited = exited
        self.output = output
        self.detail = detail
        self.path = path
        self.result = result
        what = detail or (f"exited {exited}" if exited is not None else "failed")
        where = f" ({path})" if path and path != hook else ""
        lines = output.splitlines()[-self.OUTPUT_LINES:]
        shown = ("\n  its last output:\n    " + "\n    ".join(lines)) if lines else ""
        super().__init__(f"hook {hook}{where} {what}; the command stopped before changing anything{shown}",
                         host=host)
