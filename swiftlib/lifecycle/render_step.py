"""Render the generated files into the target's project directory."""
from __future__ import annotations

from ..render import FileChange, compare, render_all
from ..results import Reporter, StepResult
from ..workspace import inside
from .context import Options, Project, Target
from .engine_choice import EngineChoice


def rendered_files(project: Project, target: Target, engine: EngineChoice, *, bridge: bool = False) -> dict[str, str]:
    if engine.include_opa:
        # The OPA sidecar bind-mounts opa.policies_dir: refuse one a symlink leads out of the project.
        inside(str(project.root), target.manifest.opa.policies_dir)
    return render_all(target.manifest, project.templates_dir, include_opa=engine.include_opa, bridge=bridge)


def render(project: Project, target: Target, reporter: Reporter, engine: EngineChoice, opts: Options,
           files: dict[str, str] | None = None) -> StepResult:
    """Write docker-compose.yml and nginx.conf where they differ; `changed` if any did."""
    files = files if files is not None else rendered_files(project, target, engine)
    changes: list[FileChange] = [compare(name, target.workspace.read(name), text) for name, text in files.items()]
    changed = [c.name for c in changes if c.status == "changed"]
    if not opts.check:
        for name in changed:
            target.workspace.write(name, files[name])
    verb = "would change" if opts.check else "changed"
    msg = f"{verb}: {', '.join(changed)}" if changed else "up to date: " + ", ".join(files)
    detail = [c.diff.rstrip("\n") for c in changes if c.diff] if opts.diff else []
    data = {"files": {c.name: c.status for c in changes}, "engine": engine.engine, "check": opts.check}
    if opts.diff:
        data["diffs"] = {c.name: c.diff for c in changes if c.diff}
    result = StepResult("render", target.name, "changed" if changed else "ok", msg, data)
    if not opts.check and changed:
        project.audit.append("render", {k: v for k, v in data.items() if k != "diffs"}, host=target.name)
    return reporter.record(result, detail)
