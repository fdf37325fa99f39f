"""Render the generated files into the target's project directory.

A render that changes files is audited, and the files are never left changed without
their audit record: the new files are written, then the ``render`` event is appended,
and if that append fails (a history that is a directory, a link, unwritable ...) every
file written is put back as it was (or removed again when it did not exist) before the
error is raised. A failing render then changes nothing, as a failing pre-flight does.
Restoring may itself fail (the host went away); the error then names the files left changed.
"""
from __future__ import annotations

from ..errors import SwiftDeployError
from ..manifest.model import Manifest
from ..render import FileChange, compare, render_all
from ..results import Reporter, StepResult
from ..workspace import inside
from . import secret_files
from .context import Options, Project, Target
from .engine_choice import EngineChoice


def rendered_files(project: Project, target: Target, engine: EngineChoice, *, bridge: bool = False,
                   manifest: Manifest | None = None) -> dict[str, str]:
    """What this target's files would be (``manifest``: another version of its manifest, e.g. a mode switch)."""
    if engine.include_opa:
        # The OPA sidecar bind-mounts opa.policies_dir: refuse one a symlink leads out of the project.
        inside(str(project.root), target.manifest.opa.policies_dir)
    return render_all(manifest or target.manifest, project.templates_dir, include_opa=engine.include_opa,
                      bridge=bridge, secrets_label=secret_files.label(project, target),
                      project_dir=target.project_dir)


def _restore(target: Target, old: dict[str, str | None]) -> list[str]:
    """Put ``old`` back (None: remove the file); the names that could not be restored."""
    left = []
    for name, text in old.items():
        try:
            if text is None:
                target.workspace.remove(name)
            else:
                target.workspace.write(name, text)
        except (SwiftDeployError, OSError):
            left.append(name)
    return left


def render(project: Project, target: Target, reporter: Reporter, engine: EngineChoice, opts: Options,
           files: dict[str, str] | None = None) -> StepResult:
    """Write docker-compose.yml and nginx.conf where they differ; `changed` if any did."""
    files = files if files is not None else rendered_files(project, target, engine)
    before = {name: target.workspace.read(name) for name in files}
    changes: list[FileChange] = [compare(name, before[name], text) for name, text in files.items()]
    changed = [c.name for c in changes if c.status == "changed"]
    verb = "would change" if opts.check else "changed"
    msg = f"{verb}: {', '.join(changed)}" if changed else "up to date: " + ", ".join(files)
    detail = [c.diff.rstrip("\n") for c in changes if c.diff] if opts.diff else []
    data = {"files": {c.name: c.status for c in changes}, "engine": engine.engine, "check": opts.check}
    if opts.diff:
        data["diffs"] = {c.name: c.diff for c in changes if c.diff}
    if not opts.check and changed:
        written: dict[str, str | None] = {}
        try:
            for name in changed:
                written[name] = before[name]
                target.workspace.write(name, files[name])
            project.audit.append("render", {k: v for k, v in data.items() if k != "diffs"}, host=target.name)
        except BaseException as exc:
            left = _restore(target, written)
            if left and isinstance(exc, SwiftDeployError):
                exc.message += f"; could not restore {', '.join(left)}: it is changed and not audited"
            raise
    result = StepResult("render", target.name, "changed" if changed else "ok", msg, data)
    return reporter.record(result, detail)
