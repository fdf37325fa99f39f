"""Run one command of the table on its targets: the one way every entry point runs a command.

    before (validate) → load the project → the audit trail writable (a writer) → pre-hook
      → on each target: deploy lock (a writer) → policies and images shipped → the flow
      → post-hook (it sees the run's exit code)

A Ctrl-C on a host prints what it left there (`Command.note`) and goes on to stop the run. The
results and the exit code are in ``reporter``; presenting them (terminal, recap, JSON, Ansible's
result) is the caller's part.
"""
from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import SwiftDeployError
from ..lifecycle.context import Project, Target
from ..lifecycle.fleet import FleetOptions, TargetSpec, run_fleet
from ..results import Reporter
from ..terminal import printable
from ..workspace import Remembering
from .table import COMMANDS, Command, Request


def _locked_files() -> frozenset[str]:
    """Read again and again by the steps of one run: its state, the traffic split and the compose file
    (imported here: `render` brings jinja2, which a command that changes nothing never needs)."""
    from ..lifecycle.context import STATE_FILE
    from ..render import COMPOSE_FILE
    from ..tracks import TRAFFIC_FILE

    return frozenset({STATE_FILE, TRAFFIC_FILE, COMPOSE_FILE})


def to_stderr(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def run(name: str, request: Request, manifest: str | Path,
        specs: Sequence[TargetSpec] | Callable[[Project], Sequence[TargetSpec]],
        reporter: Reporter, options: FleetOptions = FleetOptions(), *, local_ctx: Any = None,
        on_note: Callable[[str], None] = to_stderr, first: Callable[[Project, Target], None] | None = None) -> None:
    """Run command ``name`` as ``request`` asks on every target.

    ``specs`` may be a callable of the project (read after the manifest loaded); ``first`` looks at each target
    before the flow acts on it, inside its lock (the Ansible plugin's --diff reads the files there).
    """
    from ..lifecycle.hook_runs import hooked

    command = COMMANDS[name]
    if command.before is not None:
        command.before(Path(manifest), reporter)
    project = Project.load(manifest)
    targets = list(specs(project) if callable(specs) else specs)
    if command.changes(request):  # before the pre-hooks too: their runs are recorded there
        project.audit.ensure_writable()
    around = (hooked(project, name, [s.name for s in targets], reporter, check=request.check,
                     mode=command.hook_mode(request) or None) if command.hooks else nullcontext())
    with around:
        run_fleet(project, targets, _acting(command, request, on_note, first), reporter, options,
                  lock_command=command.lock_name(request), lock_message=request.message, check=request.check,
                  local_ctx=local_ctx, prepare=command.ships)


def _acting(command: Command, request: Request, on_note: Callable[[str], None],
            first: Callable[[Project, Target], None] | None):
    """The command's flow on one target; on Ctrl-C, its note (what it left on that host) first."""
    def act(project: Project, target: Target, reporter: Reporter) -> Any:
        if first is not None:
            first(project, target)
        workspace = target.workspace
        if command.lock_name(request) is not None:  # under the deploy lock: what it reads stays as it wrote it
            target.workspace = Remembering(workspace, _locked_files())
        try:
            return command.act(project, target, reporter, request)
        except KeyboardInterrupt:
            if command.note is not None:
                # The manifest as it is on disk: the press may have landed between an edit and the
                # in-memory copy catching up, and the note must say what is there.
                try:
                    target.manifest = target.manifest_from(project.reload())
                except (SwiftDeployError, OSError):
                    pass
                on_note(command.note(target, request))
            raise
        finally:
            target.workspace = workspace

    return act
