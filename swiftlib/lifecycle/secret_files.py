"""The app's secrets on the target: one 0400 file each, which compose mounts at /run/secrets/<NAME>.

Values are read on the controller once per run and target (`values`), reach the host only through
its workspace (over the SSH session for a remote host) and are named everywhere else by a keyed
fingerprint: the compose label that makes a changed value recreate the app tracks (blue/green, so
no request is dropped), the host state, and the `secrets` audit event that says which secret changed.
A file is replaced by a new one (never rewritten in place), so a running track keeps the value it
started with until it is replaced. `teardown` removes the files.
"""
from __future__ import annotations

from ..results import Reporter, StepResult
from ..secretstore import fingerprints, sources
from .context import Options, Project, Target

SECRETS_DIR = ".swiftdeploy/secrets"
APP_UID = 10001  # the app image's user (templates/docker-compose.yml.j2)
STATE_KEY = "secrets"  # host state: {name: fingerprint} of the values on the host


def path_of(name: str) -> str:
    return f"{SECRETS_DIR}/{name}"


def values(project: Project, target: Target) -> dict[str, str]:
    """Every secret's value for this target, read once per run (SecretError, exit 2, before any change)."""
    if target.secret_values is None:
        target.secret_values = sources.resolve(target.manifest.secrets, project.root)
    return target.secret_values


def current_fingerprints(project: Project, target: Target) -> dict[str, str]:
    if not target.manifest.secrets:
        return {}
    key = fingerprints.key()
    return {name: fingerprints.fingerprint(key, name, value) for name, value in values(project, target).items()}


def label(project: Project, target: Target) -> str:
    """The compose label of the app tracks: changes when any value does ("" without secrets)."""
    found = current_fingerprints(project, target)
    return fingerprints.combined(found) if found else ""


def place(project: Project, target: Target, reporter: Reporter, opts: Options) -> StepResult | None:
    """Put every secret's file on the target before an app track starts; audit which ones changed."""
    wanted = current_fingerprints(project, target)
    state = target.read_state().get(STATE_KEY)
    placed = state if isinstance(state, dict) else {}
    # The host state says what is placed (teardown clears it with the files): no value is read back.
    changed = sorted(n for n, fp in wanted.items() if placed.get(n) != fp)
    removed = sorted(set(placed) - set(wanted))
    if not changed and not removed:
        return None
    if opts.check:
        return reporter.record(StepResult("secrets", target.name, "changed",
                                          f"would place {', '.join(changed) or 'nothing'}"
                                          + (f" and remove {', '.join(removed)}" if removed else ""), {"check": True}))
    for name in changed:
        target.workspace.write_private(path_of(name), values(project, target)[name], APP_UID)
    for name in removed:
        target.workspace.remove(path_of(name))
    target.write_state(**{STATE_KEY: wanted})
    data = {"changed": changed, "removed": removed, "fingerprints": {n: wanted[n] for n in changed}}
    project.audit.append("secrets", data, host=target.name)
    said = ", ".join([f"{n} placed" for n in changed] + [f"{n} removed" for n in removed])
    return reporter.record(StepResult("secrets", target.name, "changed", f"{said} (values not shown)", data))


def remove_all(target: Target) -> list[str]:
    """Remove every secret file this host holds (teardown); the names removed."""
    state = target.read_state().get(STATE_KEY)
    names = set(state if isinstance(state, dict) else {}) | {s.name for s in target.manifest.secrets}
    gone = [name for name in sorted(names) if target.workspace.remove(path_of(name))]
    if gone or names:
        target.write_state(**{STATE_KEY: None})
    return gone
