"""The terminal's side of a run: step lines as they happen, the PLAY RECAP, --json, the exit code.

A SwiftDeployError becomes its exit code (README, Exit codes); Ctrl-C is 130; an unexpected
exception (a bug) is exit 1 and is re-raised after the recap for the task wrapper to explain.
A host's unexpected exception is explained here, after the recap.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, NoReturn

from invoke import Exit

from ..cli.args import describe_unexpected, report_unexpected, stdout_gone
from ..errors import SwiftDeployError, UsageError
from ..results import Reporter
from ..terminal import printable


def emit(line: str) -> None:
    """One line of a run's output. If its reader went away (`| head`) the run goes on, unprinted:
    a deploy never stops half way because nobody reads its lines any more."""
    try:
        print(printable(line), flush=True)
    except BrokenPipeError:
        stdout_gone()


def err(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def fail_usage(message: str) -> NoReturn:
    err(f"ERROR: {message}")
    raise Exit(code=UsageError.exit_code)


@contextmanager
def reporting(json_out: bool = False) -> Iterator[Reporter]:
    """A Reporter for one run; the PLAY RECAP however the run ends, then Exit with the run's code."""
    reporter = Reporter(emit, quiet=json_out)
    code, error, unexpected = 0, None, None
    try:
        yield reporter
    except SwiftDeployError as exc:
        code = exc.exit_code
        if not reporter.results or reporter.results[-1].status not in ("failed", "unreachable"):
            error = str(exc)  # no step reported it: say it here (and in the JSON document)
            err(f"ERROR: {exc}")
    except KeyboardInterrupt:
        err("interrupted")
        code, error = 130, "interrupted"
    except Exception as exc:  # noqa: BLE001 - a bug: the recap first, then the task wrapper explains it
        code, error, unexpected = 1, f"unexpected {describe_unexpected(exc)}", exc
    recap_code = reporter.finish()
    code = code or recap_code
    if json_out:
        print(reporter.to_json(exit_code=code, error=error), flush=True)
    for host, bug in reporter.unexpected:
        report_unexpected(bug, host=host)
    if unexpected is not None:
        raise unexpected
    if code:
        raise Exit(code=code)
