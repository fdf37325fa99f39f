"""`swiftdeploy`: SwiftDeploy's tasks as a program of their own (Invoke's `Program`, as Fabric ships `fab`).

What it adds to Invoke's parsing, for scripts that act on exit codes:

- any error on the command line (an unknown task or flag, a missing value) exits 2, as bad
  input does everywhere in SwiftDeploy; Invoke's own programs exit 1;
- Invoke's core flags go before the task name: after it only the task's own flags (and
  ``-h``/``--help``) are taken, so the short forms a task takes are exactly those its
  ``--help`` lists (Invoke would read ``swiftdeploy deploy -e`` as ``--echo deploy``: a real
  deploy for someone who meant a flag of deploy).

`inv` (the checkout's tasks.py) and `fab` (fabfile.py) load the same tasks under Invoke's and
Fabric's own rules.
"""
from __future__ import annotations

from typing import Any, NoReturn

from invoke import Exit, Program
from invoke.exceptions import ParseError

from ..errors import UsageError

NAME = "swiftdeploy"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("swiftdeploy")
    except Exception:  # noqa: BLE001 - not installed as a distribution: run from the checkout
        return "unknown"


def _refuse(message: str, context: Any = None) -> NoReturn:
    name = getattr(context, "name", None)
    see = f"`{NAME} {name} --help` lists its flags" if name else f"`{NAME} --list` lists the tasks"
    raise Exit(message=f"ERROR: {message} ({see})", code=UsageError.exit_code)


class SwiftDeployProgram(Program):
    """Invoke's Program with the tasks bundled and the parsing rules above."""

    def print_version(self) -> None:
        self.version = _version()  # asked only here: reading the installed metadata costs 20-40 ms per start
        super().print_version()

    def parse_core(self, argv: Any) -> None:
        try:
            super().parse_core(argv)
        except ParseError as exc:
            _refuse(str(exc), exc.context)

    def parse_collection(self) -> None:
        try:
            super().parse_collection()
        except ParseError as exc:
            _refuse(str(exc), exc.context)

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            _refuse(str(exc), exc.context)
        # Core flags Invoke found among a task's flags (it takes them anywhere); only help may be there.
        for arg in self.core_via_tasks.args.values():
            if arg.got_value and arg.name != "help":
                task = self.tasks[0].name if self.tasks else None
                flag = f"--{arg.name}"
                _refuse(f"{flag} is not a flag of {task}: it is a core flag, which goes before the task name",
                        self.tasks[0] if self.tasks else None)

    def parse_cleanup(self) -> None:
        try:
            super().parse_cleanup()
        except ParseError as exc:
            _refuse(str(exc), exc.context)


def program() -> SwiftDeployProgram:
    from . import tasks

    return SwiftDeployProgram(name="SwiftDeploy", binary=NAME, binary_names=[NAME], namespace=tasks.ns)


def main() -> None:
    program().run()
