"""Steps that start, recreate and remove containers with docker compose."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from .. import commands
from ..errors import PreflightFailed
from ..render import COMPOSE_FILE, NGINX_FILE, PROMETHEUS_FILE
from ..tracks import SERVICES, TRAFFIC_FILE, container_name
from ..results import Reporter, StepResult
from . import ownership, secret_files
from .admin_access import ACCESS_FILE
from .certificates import GENERATED as CERTIFICATE_FILES
from .maintenance import MAINTENANCE_FILE
from ..observe.canary_window import SCRAPES_FILES, forget
from .context import STATE_FILE, Options, Project, Target


def snapshot(target: Target) -> dict[str, str]:
    """Container name -> "id state" for this stack (to tell ok from changed)."""
    return target.runtime.snapshot()


def expected_containers(target: Target, services: Sequence[str] = ()) -> list[str]:
    """Container names the rendered compose file defines (for the named services, or all)."""
    import yaml

    try:
        defined = yaml.safe_load(target.workspace.read(COMPOSE_FILE) or "") or {}
    except yaml.YAMLError:
        defined = {}
    m = target.manifest
    # The manifest's own names (a --check before the first deploy has no file; a stack file names no containers).
    names = {service: container_name(m, name) for name, service in SERVICES.items()}
    names.update(nginx=m.nginx.container_name, opa=m.opa.container_name,
                 prometheus=m.metrics.prometheus.container_name)
    defined_names = {name: spec.get("container_name") or names.get(name, name)
                     for name, spec in (defined.get("services") or {}).items() if isinstance(spec, dict)}
    wanted = services or (list(defined_names) if defined_names else ["app", "nginx"])
    return [defined_names.get(s) or names[s] for s in wanted if s in defined_names or s in ("app", "nginx")]


def bind_sources(compose_text: str, services: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(files, directories) the compose file bind-mounts from the project directory (pure).

    The generated files (nginx.conf, prometheus.yml) are files, the traffic split's file comes
    with its directory; every other bind source (nginx.d, the policies) is a directory.
    """
    import yaml

    defined = (yaml.safe_load(compose_text or "") or {}).get("services") or {}
    files, dirs = [], []
    for name, spec in defined.items():
        if services and name not in services:
            continue
        for volume in spec.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith("./"):
                continue  # a named volume
            source = source[2:].rstrip("/")
            if source in (NGINX_FILE, PROMETHEUS_FILE):
                files.append(source)
            else:
                dirs.append(source)
                if source == TRAFFIC_FILE.split("/")[0]:
                    files.append(TRAFFIC_FILE)
    return sorted(set(files)), sorted(set(dirs))


def require_bind_sources(target: Target, reporter: Reporter, services: Sequence[str], task: str) -> None:
    """Every file and directory the containers mount is there as such, or nothing starts (exit 2).

    Docker creates a missing bind source as an empty directory: nginx would get a directory
    for its configuration and never start, taking the public port down with it.
    """
    files, dirs = bind_sources(target.workspace.read(COMPOSE_FILE) or "", services)
    with ThreadPoolExecutor(max_workers=max(1, len(files) + len(dirs))) as pool:  # over SSH, a round trip each
        resolved = list(pool.map(target.workspace.path, files + dirs))
    out = target.host.run(commands.missing_paths(resolved[:len(files)], resolved[len(files):]), check=False).stdout
    missing = [line.strip() for line in out.splitlines() if line.strip()]
    if missing:
        msg = (f"{', '.join(missing)} missing or of the wrong kind (the compose file mounts "
               f"{'it' if len(missing) == 1 else 'them'} into the containers); nothing was started: run "
               "`inv render` (or deploy again) to write the files")
        reporter.record(StepResult(task, target.name, "failed", msg, {"missing": missing}, PreflightFailed.exit_code))
        raise PreflightFailed(msg, host=target.name)


def _diff_summary(before: dict[str, str], after: dict[str, str]) -> tuple[list[str], list[str]]:
    """(started or recreated, removed) between two snapshots (pure)."""
    started = sorted(name for name in after if before.get(name) != after[name])
    return started, sorted(set(before) - set(after))


def describe_changes(started: Sequence[str], removed: Sequence[str]) -> str:
    """How `up` says what it did (pure): a service the compose file dropped is removed, not started."""
    parts = ([f"started/recreated: {', '.join(started)}"] if started else []) + \
            ([f"removed: {', '.join(removed)}"] if removed else [])
    return "; ".join(parts) or "all containers already up to date"


def outdated(target: Target, compose_text: str, running: Sequence[str], skip: Sequence[str] = ()) -> list[str]:
    """The running containers that ``compose_text`` (what a run would write) describes otherwise: compose
    would recreate them (a changed nginx.conf or proxy timeout recreates nginx, for one). ``skip``:
    services another step replaces (a deploy replaces app tracks blue/green before `up`)."""
    import yaml

    try:
        defined = (yaml.safe_load(compose_text) or {}).get("services") or {}
    except yaml.YAMLError:
        return []
    wanted = target.runtime.config_hashes("*", compose_text)
    stale = []
    for service, spec in defined.items():
        name = spec.get("container_name", service) if isinstance(spec, dict) else service
        if name not in running or service not in wanted or service in skip:
            continue
        if target.runtime.running_hash(name) != wanted[service].strip():
            stale.append(name)
    return sorted(stale)


def up(project: Project, target: Target, reporter: Reporter, opts: Options,
       services: Sequence[str] = (), task: str = "up", compose_text: str | None = None,
       replaced_before: Sequence[str] = ()) -> StepResult:
    """`docker compose up -d` (all services, or the named ones); changed if a container changed.

    ``compose_text``: in check mode, the compose file the run would write, so what compose would
    recreate is said too, not only what it would start (``replaced_before``: services an earlier
    step of the run replaces, so `up` would find them current).
    """
    before = snapshot(target)
    if opts.check:
        running = [n for n in expected_containers(target, services) if before.get(n, "").endswith(" running")]
        missing = [n for n in expected_containers(target, services) if n not in running]
        stale = outdated(target, compose_text, running, replaced_before) if compose_text else []
        said = "; ".join(([f"would start: {', '.join(missing)}"] if missing else []) +
                         ([f"would recreate: {', '.join(stale)}"] if stale else []))
        if said:
            return reporter.record(StepResult(task, target.name, "changed", said,
                                              {"check": True, "containers": missing, "recreated": stale}))
        return reporter.record(StepResult(task, target.name, "ok", "check mode: all containers running",
                                          {"check": True}))
    if not services or any(s not in ("nginx", "opa", "prometheus") for s in services):
        secret_files.place(project, target, reporter, opts)  # an app track may start: its secrets first
    require_bind_sources(target, reporter, services, task)
    if not services and not target.runtime.pending(before):  # compose would find every container current
        return reporter.record(StepResult(task, target.name, "ok", describe_changes([], []),
                                          {"step": task, "services": "all", "containers": [], "removed": []}))
    target.runtime.up(services)
    after = snapshot(target)
    started, removed = _diff_summary(before, after)
    touched = started + removed
    status = "changed" if touched else "ok"
    msg = describe_changes(started, removed)
    data = {"step": task, "services": list(services) or "all", "containers": started, "removed": removed}
    if touched:
        project.audit.append("up", data, host=target.name)
    return reporter.record(StepResult(task, target.name, status, msg, data))


def restart_stopped_nginx(project: Project, target: Target, reporter: Reporter, opts: Options) -> StepResult | None:
    """Start nginx again when it does not run (killed, crashed, or its container removed while stable's is
    there); None when it runs or the stack was never created (a first deploy creates it with the stack).

    Every track's health and every traffic move go through nginx, so no step can proceed without it;
    with the public port down there is no traffic left to protect. --no-deps: the app tracks stay as they are.
    """
    name = target.manifest.nginx.container_name
    state = target.runtime.state(name)
    if state.startswith("running") or (
            state == "absent" and target.runtime.state(container_name(target.manifest, "stable")) == "absent"):
        return None
    if opts.check:
        return reporter.record(StepResult("start nginx", target.name, "changed", f"would start {name} ({state})"))
    require_bind_sources(target, reporter, ["nginx"], "start nginx")
    target.runtime.start_service("nginx")
    project.audit.append("up", {"step": "start nginx", "services": ["nginx"], "containers": [name],
                                "was": state}, host=target.name)
    return reporter.record(StepResult("start nginx", target.name, "changed", f"{name} was {state}; started again"))


def leftovers(target: Target) -> list[str]:
    """Containers, network and volume of this project still present on the host.

    Only objects carrying this project's compose label count: a network or volume of the same
    name that someone else created is not ours to report or remove.
    """
    m = target.manifest
    found = [f"container {n}" for n in target.runtime.containers()]
    if ownership.owned(target, "network", m.network.name):
        found.append(f"network {m.network.name}")
    if ownership.owned(target, "volume", m.logs_volume):
        found.append(f"volume {m.logs_volume}")
    return found


# Files SwiftDeploy writes into a project directory (`--clean` removes them).
GENERATED = (COMPOSE_FILE, NGINX_FILE, PROMETHEUS_FILE, STATE_FILE, ".swiftdeploy/scrapes.json", *SCRAPES_FILES,
             f".swiftdeploy/preflight/{COMPOSE_FILE}", f".swiftdeploy/preflight/{NGINX_FILE}",
             TRAFFIC_FILE, f".swiftdeploy/preflight/{TRAFFIC_FILE}", ACCESS_FILE, MAINTENANCE_FILE,
             # The certificate stays across a plain teardown (an ACME CA limits how often it reissues).
             *CERTIFICATE_FILES)


def teardown(project: Project, target: Target, reporter: Reporter, opts: Options, *, clean: bool) -> StepResult:
    """Remove containers, network and volume; with clean also the generated files."""
    present = leftovers(target)
    generated = [n for n in GENERATED if target.workspace.read(n) is not None]
    if opts.check:
        would = present + ([f"file {n}" for n in generated] if clean else [])
        status = "changed" if would else "ok"
        return reporter.record(StepResult("teardown", target.name, status,
                                          "would remove: " + ", ".join(would) if would else "nothing to remove"))
    if present:
        target.runtime.down(with_file=target.workspace.read(COMPOSE_FILE) is not None)
        # Compose leaves a network/volume alone when the file no longer names it (a renamed one);
        # removed by name only when it carries this project's label (leftovers counted only those).
        m = target.manifest
        if f"network {m.network.name}" in present:
            target.runtime.remove_network(m.network.name)
        if f"volume {m.logs_volume}" in present:
            target.runtime.remove_volume(m.logs_volume)
        for track_name in ("stable", "canary"):  # the next deploy's containers count from zero
            forget(target, track_name)
        # The admin access rule names the network's gateway: a new network may have another one.
        target.workspace.remove(ACCESS_FILE)
    removed_secrets = [f"secret {name}" for name in secret_files.remove_all(target)]  # never left behind
    removed_files = [n for n in generated if clean and target.workspace.remove(n)]
    if clean and target.host.is_remote:
        # Only the policies SwiftDeploy uploaded there (and the directories they leave empty);
        # locally they are the user's source and stay. Refuses the project directory itself.
        if target.workspace.remove_tree(target.policies_subdir):
            removed_files.append(f"{target.policies_subdir}/")
    remaining = leftovers(target)
    if remaining:
        msg = "still present after teardown: " + ", ".join(remaining)
        reporter.record(StepResult("teardown", target.name, "failed", msg, {}, 1))
        from ..errors import CommandFailed

        raise CommandFailed("docker compose down", None, msg, host=target.name)
    changed = present + removed_secrets + [f"file {n}" for n in removed_files]
    data = {"removed": changed, "clean": clean}
    project.audit.append("teardown", data, host=target.name)
    msg = "removed: " + ", ".join(changed) if changed else "nothing to remove"
    return reporter.record(StepResult("teardown", target.name, "changed" if changed else "ok", msg, data))
