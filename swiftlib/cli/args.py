"""Command-line plumbing shared by the tasks: flags, short forms, exit codes, unexpected errors.

Every lifecycle task takes the same host-selection flags (--hosts, --inventory,
--limit, --serial, ...). ``fleet_task`` adds them to a task's signature, so Invoke
parses and documents them, and hands the task one ``HostFlags`` instead of nine
parameters. ``number`` parses numeric flags so a bad value is a UsageError (exit 2).

Short flags are chosen here, once, for every task (``SHORT_FLAGS``); Invoke's automatic
ones (the first free letter of each name) are off, so a short form never depends on the
other flags of a task. They follow ansible-playbook where the meaning is the same;
``-h`` is always help; flags that weaken security or destroy something have no short
form at all (``NO_SHORT``).

``swift_task`` is Invoke's ``@task`` with those short forms, a ``--debug``/``-d`` flag
and the handling of unexpected exceptions (a bug, not a SwiftDeployError): one line
saying what happened and where the traceback was written, or the traceback itself with
``--debug`` (``inv --debug TASK`` and ``INVOKE_DEBUG=1`` work too); exit 1.
How the command line itself is parsed (exit 2 for an unknown task or flag) is the
`swiftdeploy` program's part (``program.py``).
Printing is limited to those two error paths (stderr).
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import os
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, fields
from typing import Any, Callable

from invoke import Exit, Task, task

from ..errors import SwiftDeployError, UsageError
from ..terminal import printable


@dataclass(frozen=True)
class HostFlags:
    """Which hosts a task acts on and how to reach them; defaults mean this machine."""

    hosts: str = ""
    inventory: str = ""
    limit: str = ""
    serial: str = ""
    max_fail_percentage: str = ""
    forks: str = ""
    accept_new_host_keys: bool = False
    connect_timeout: str = ""
    json: bool = False


HELP = {
    "manifest": "path to manifest.yaml",
    "hosts": "comma-separated [user@]host[:port] to act on over SSH (default: this machine)",
    "inventory": "inventory file (Ansible INI/YAML or SwiftDeploy YAML)",
    "limit": "Ansible host pattern selecting inventory hosts",
    "serial": "hosts per batch: N or N% (default: all at once)",
    "max-fail-percentage": "stop before the next batch when more than P% of a batch failed",
    "forks": "hosts acted on at the same time within a batch (default: 5, as Ansible's forks)",
    "accept-new-host-keys": "record unknown SSH host keys (changed keys are always refused)",
    "connect-timeout": "SSH connect timeout in seconds (default: deploy.connect_timeout_seconds)",
    "json": "print the results and recap as one JSON document",
    "debug": "on an unexpected error (a bug), print its traceback instead of writing it to a file",
}
# Tasks that watch one host (status, chaos) take no batch flags; their --json is their own.
SINGLE_HOST_SKIP = ("serial", "max_fail_percentage", "forks", "json")

# The only short forms, the same on every task that has the flag (long name -> letter).
SHORT_FLAGS = {
    "manifest": "m",
    "check": "C",            # ansible-playbook -C/--check
    "diff": "D",             # ansible-playbook -D/--diff
    "inventory": "i",        # ansible-playbook -i/--inventory
    "limit": "l",            # ansible-playbook -l/--limit
    "forks": "f",            # ansible-playbook -f/--forks
    "connect-timeout": "T",  # ansible-playbook -T/--timeout (the connection timeout)
    "hosts": "H",            # fab -H/--hosts
    "debug": "d",            # inv -d/--debug
}
# Never a short form: a typo must not weaken host-key checking or delete something.
NO_SHORT = ("accept-new-host-keys", "clean", "force", "release")
RESERVED = {"h": "help"}  # Invoke's: `inv TASK -h` shows the task's help
assert not set(SHORT_FLAGS) & set(NO_SHORT)
assert len(set(SHORT_FLAGS.values())) == len(SHORT_FLAGS) and not set(SHORT_FLAGS.values()) & set(RESERVED)


class SwiftTask(Task):
    """An Invoke task whose short flags come from ``SHORT_FLAGS`` only (none guessed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["auto_shortflags"] = False
        super().__init__(*args, **kwargs)

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(opts["names"][0])
        if short and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        return opts


# --debug of the running task; read by ``debugging()`` (the console's reporting uses it too).
_DEBUG: contextvars.ContextVar[bool] = contextvars.ContextVar("swiftdeploy_debug", default=False)


def _invoke_debug() -> bool:
    """`inv --debug TASK` / `inv -d TASK` (or INVOKE_DEBUG=1): Invoke turned its debug logging on."""
    return bool(os.environ.get("INVOKE_DEBUG")) or logging.getLogger("invoke").isEnabledFor(logging.DEBUG)


CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away


def stdout_gone() -> None:
    """The reader of stdout went away (`| head`): what is still printed goes nowhere, without errors."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def debugging() -> bool:
    return _DEBUG.get()


def save_traceback(text: str) -> str | None:
    """Write a traceback to a new private file in the system temp dir; its path, or None."""
    try:
        fd, path = tempfile.mkstemp(prefix="swiftdeploy-traceback-", suffix=".txt")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"time: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
            fh.write(f"command: {shlex.join(sys.argv)}\n\n{text}")
    except OSError:
        return None
    return path


def describe_unexpected(exc: BaseException) -> str:
    """``TypeError: message`` on one line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def report_unexpected(exc: BaseException, *, host: str | None = None) -> None:
    """Explain an unexpected exception on stderr: the traceback with --debug, else one line and a file."""
    where = f" on {host}" if host else ""
    text = "".join(traceback.format_exception(exc))
    if debugging():
        print(printable(text), end="", file=sys.stderr, flush=True)
        print(printable(f"ERROR: unexpected {describe_unexpected(exc)}{where} (traceback above)"),
              file=sys.stderr, flush=True)
        return
    path = save_traceback(text)
    if path is None:  # nowhere to write it: show it rather than lose it
        print(printable(text), end="", file=sys.stderr, flush=True)
        saved = "traceback above; the temp dir is not writable"
    else:
        saved = f"traceback written to {path}; --debug prints it"
    print(printable(f"ERROR: unexpected {describe_unexpected(exc)}{where} ({saved})"),
          file=sys.stderr, flush=True)


def swift_task(*, help: dict[str, str] | None = None, **task_kwargs: Any) -> Callable:  # noqa: A002
    """Decorate ``body(ctx, ...)`` as an Invoke task with SwiftDeploy's flags and error handling."""
    def decorate(body: Callable) -> Any:
        sig = inspect.signature(body)

        @functools.wraps(body)
        def wrapper(ctx: Any, *args: Any, debug: bool = False, **kwargs: Any) -> Any:
            token = _DEBUG.set(bool(debug) or _invoke_debug())
            try:
                return body(ctx, *args, **kwargs)
            except (Exit, KeyboardInterrupt):
                raise
            except BrokenPipeError:  # `| head`: the reader has what it wanted; end as a killed `cat` would
                stdout_gone()
                raise Exit(code=CLOSED_PIPE) from None
            except SwiftDeployError as exc:  # a task that did not map it itself: still no traceback
                print(printable(f"ERROR: {exc}"), file=sys.stderr, flush=True)
                raise Exit(code=exc.exit_code) from None
            except Exception as exc:
                report_unexpected(exc)
                raise Exit(code=1) from None
            finally:
                _DEBUG.reset(token)

        debug = inspect.Parameter("debug", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=bool)
        wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), debug])  # type: ignore[attr-defined]
        own = {"debug": HELP["debug"]}
        if "manifest" in sig.parameters:
            own["manifest"] = HELP["manifest"]
        return task(klass=SwiftTask, help={**own, **(help or {})}, **task_kwargs)(wrapper)

    return decorate


def fleet_task(*, single: bool = False, help: dict[str, str] | None = None, **task_kwargs: Any) -> Callable:  # noqa: A002
    """Decorate ``body(ctx, hosts: HostFlags, **own_flags)`` as an Invoke task with the host flags."""
    def decorate(body: Callable) -> Any:
        params = list(inspect.signature(body).parameters.values())
        ctx_param, own = params[0], params[2:]
        own_names = {p.name for p in own}
        shared = [f for f in fields(HostFlags)
                  if f.name not in own_names and not (single and f.name in SINGLE_HOST_SKIP)]

        @functools.wraps(body)
        def wrapper(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            flags = HostFlags(**{f.name: kwargs.pop(f.name) for f in shared if f.name in kwargs},
                              **({"json": kwargs["json"]} if "json" in own_names and "json" in kwargs else {}))
            return body(ctx, flags, *args, **kwargs)

        extra = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.type)
                 for f in shared]
        # --manifest, then the shared flags, then the task's own (the order of `inv TASK --help`).
        first = [p for p in own if p.name == "manifest"]
        rest = [p for p in own if p.name != "manifest"]
        wrapper.__signature__ = inspect.Signature([ctx_param, *first, *extra, *rest])  # type: ignore[attr-defined]
        wanted = {name.replace("-", "_") for name in HELP} & ({f.name for f in shared} | own_names)
        merged = {k: v for k, v in HELP.items() if k.replace("-", "_") in wanted}
        return swift_task(help={**merged, **(help or {})}, **task_kwargs)(wrapper)

    return decorate


def number(flag: str, text: str, *, minimum: float = 0.0) -> float | None:
    """Parse a numeric flag ("" means not given) or raise UsageError naming it."""
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a number, got {text!r}") from None
    if value != value or value < minimum:
        raise UsageError(f"{flag}: expected a number >= {minimum:g}, got {text!r}")
    return value


def port_number(flag: str, text: str) -> int:
    """A TCP port 0-65535 (0: the system picks a free one) or UsageError naming the flag."""
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise UsageError(f"{flag}: expected a port number 0-65535, got {text!r}")
    return int(text)
