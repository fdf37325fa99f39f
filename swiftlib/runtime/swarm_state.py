"""A swarm service's state, read from the docker CLI's JSON (pure).

``docker service inspect`` gives the service (its spec, its mode, how its last update went);
``docker inspect`` of its task IDs gives the tasks (desired and current state, the spec each task
runs, the error of a failed one). From both:

    state        the lifecycle's words for a service: running healthy | running starting | exited none | absent
    progress     whether an update (or a first start) has converged, failed, or is still going

A task with a healthcheck stays ``starting`` until the check passes, so a ``running`` task is a
healthy one. A task "runs the current spec" when its container spec (image, environment, labels)
and force-update counter are the service's: right after `docker stack deploy` the old tasks still
run, and only this tells them apart from the new ones.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

UPDATING = ("updating", "rollback_started")
ROLLED_BACK = ("rollback_completed", "rollback_paused")
STOPPED = ("paused",)


@dataclass(frozen=True)
class Progress:
    done: bool
    failed: str = ""   # why it will not converge (Swarm rolled the update back, tasks keep failing)
    said: str = ""     # where it stands, in words (the last observation of a timeout)


def _container_spec(spec: Mapping[str, Any]) -> tuple:
    container = spec.get("ContainerSpec") or {}
    return (str(container.get("Image", "")).split("@", 1)[0], sorted(container.get("Env") or []),
            sorted((container.get("Labels") or {}).items()), spec.get("ForceUpdate", 0))


def wanted_replicas(service: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> int:
    mode = (service.get("Spec") or {}).get("Mode") or {}
    if "Replicated" in mode:
        return int((mode["Replicated"] or {}).get("Replicas") or 0)
    # global: one task per eligible node; the orchestrator has made the ones it wants
    return len({t.get("NodeID") for t in tasks if t.get("DesiredState") == "running"})


def current(service: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The tasks meant to run that run the service's current spec."""
    wanted = _container_spec((service.get("Spec") or {}).get("TaskTemplate") or {})
    return [t for t in tasks if t.get("DesiredState") == "running" and _container_spec(t.get("Spec") or {}) == wanted]


def _running(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]


def update_state(service: Mapping[str, Any]) -> tuple[str, str]:
    status = service.get("UpdateStatus") or {}
    return str(status.get("State") or ""), str(status.get("Message") or "")


def state(service: Mapping[str, Any] | None, tasks: Sequence[Mapping[str, Any]]) -> str:
    """`running healthy` when every wanted replica runs healthy on the current spec and no update is
    under way; `running starting` while some task runs; `exited none` with none running; `absent`."""
    if not service:
        return "absent"
    replicas = wanted_replicas(service, tasks)
    meant = [t for t in tasks if t.get("DesiredState") == "running"]
    running_now = _running(meant)
    if not running_now:
        return "exited none"
    update, _ = update_state(service)
    if update not in UPDATING and replicas and len(_running(current(service, tasks))) >= replicas:
        return "running healthy"
    return "running starting"


def last_error(tasks: Sequence[Mapping[str, Any]]) -> str:
    """The newest task error (a task that failed, was rejected or never got healthy), "" when none."""
    failed = [t for t in tasks if (t.get("Status") or {}).get("Err")]
    if not failed:
        return ""
    newest = max(failed, key=lambda t: str((t.get("Status") or {}).get("Timestamp", "")))
    status = newest.get("Status") or {}
    return f"{status.get('State', 'failed')}: {status.get('Err')}"


def runs_file_spec(service: Mapping[str, Any], section: Mapping[str, Any]) -> bool:
    """Whether the service's spec has the image and environment of its stack-file ``section``: after Swarm
    rolled an update back, the service runs its previous spec again, and only this says the update failed."""
    container = ((service.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    env = section.get("environment") or {}
    wanted_env = sorted(f"{k}={v}" for k, v in env.items()) if isinstance(env, dict) else sorted(map(str, env))
    return (str(container.get("Image", "")).split("@", 1)[0] == str(section.get("image", ""))
            and sorted(container.get("Env") or []) == wanted_env)


def progress(service: Mapping[str, Any] | None, tasks: Sequence[Mapping[str, Any]],
             section: Mapping[str, Any] | None = None) -> Progress:
    """Whether the service has converged on its stack-file ``section``; failed when Swarm rolled the update
    back or paused it (a rollback status left from an earlier deploy does not count once the spec is the file's)."""
    if not service:
        return Progress(False, said="the service does not exist")
    update, message = update_state(service)
    if section is not None and update in ROLLED_BACK and runs_file_spec(service, section):
        update = ""  # an old rollback: this deploy asks for the spec the service already runs
    if update in ROLLED_BACK or update in STOPPED:
        why = message or update
        error = last_error(tasks)
        return Progress(False, failed=f"Swarm {update.replace('_', ' ')}: {why}" + (f" (last task {error})" if error else ""))
    replicas = wanted_replicas(service, tasks)
    healthy = len(_running(current(service, tasks)))
    meant = [t for t in tasks if t.get("DesiredState") == "running"]
    said = f"{healthy}/{replicas} tasks healthy on the current spec"
    if update:
        said += f", update {update}"
    error = last_error(tasks)
    if error:
        said += f"; last task {error}"
    done = update not in UPDATING and replicas > 0 and healthy >= replicas and len(meant) == healthy
    return Progress(done, said=said)


def task_addresses(tasks: Sequence[Mapping[str, Any]], network: str) -> list[str]:
    """The address on ``network`` of each running task meant to run (sorted)."""
    found = []
    for t in tasks:
        if t.get("DesiredState") != "running" or (t.get("Status") or {}).get("State") != "running":
            continue
        for attachment in t.get("NetworksAttachments") or []:
            if ((attachment.get("Network") or {}).get("Spec") or {}).get("Name") == network:
                found += [str(a).split("/", 1)[0] for a in attachment.get("Addresses") or []]
    return sorted(found)


def spec_hashes(stack: Mapping[str, Any]) -> dict[str, str]:
    """{service: digest of its section} of a parsed stack file: a changed section is a changed service."""
    services = stack.get("services") or {}
    return {name: hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
            for name, spec in services.items()}


def parse_json_list(text: str) -> list[dict[str, Any]]:
    """`docker inspect` output (a JSON array, then anything; empty output for none) -> list of objects."""
    text = text.strip()
    if not text:
        return []
    data, _ = json.JSONDecoder().raw_decode(text)  # the first array: a missing object adds a second, `[]`
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def stale_secrets(stack: Mapping[str, Any], existing: Sequence[str]) -> list[str]:
    """The stack's swarm secrets (``existing``: the names carrying its namespace label) that its file no longer
    names: values replaced since (a changed value is a new secret), or secrets dropped from the manifest."""
    current = {str(spec.get("name", key)) for key, spec in (stack.get("secrets") or {}).items() if isinstance(spec, dict)}
    return sorted(name for name in existing if name not in current)
