"""What `docker compose up -d --remove-orphans` of every service would do, decided as compose decides
it (pure): compose recreates a container when its config-hash label differs from the service's hash
or its image label from the image's ID, starts one that is not running and removes a container of
the project that no service names. When none of that holds, `up` would change nothing, and a run
can say so after three quick reads instead of a compose round (about four times as long).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
IMAGE_LABEL = "com.docker.compose.image"  # the image ID a container was created from (compose v2)
INSPECT_FORMAT = ("{{.Name}}|{{.State.Status}}|" f'{{{{index .Config.Labels "{CONFIG_HASH_LABEL}"}}}}|'
                  f'{{{{index .Config.Labels "{IMAGE_LABEL}"}}}}')
# INSPECT_FORMAT and the health (as a container's state is told: `running healthy`, `exited none`).
LOOK_FORMAT = INSPECT_FORMAT + "|{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}"


@dataclass(frozen=True)
class Planned:
    """A service of the compose file: the one container it names and the image it runs."""

    container: str
    image: str


@dataclass(frozen=True)
class Observed:
    """A container as the engine has it."""

    status: str
    config_hash: str
    image_id: str
    health: str = "none"  # read with LOOK_FORMAT only

    @property
    def identity(self) -> str:
        """As ``identities`` gives a service's: what the container was created from."""
        return f"{self.config_hash} {self.image_id}".rstrip()


def parse_looks(text: str, containers: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``LOOK_FORMAT`` lines -> each of ``containers``: (its state, what it was created from); a container
    that printed no line is ``("absent", "")``."""
    found = parse_observed(text)
    return {name: (f"{seen.status} {seen.health}", seen.identity) if (seen := found.get(name)) else ("absent", "")
            for name in containers}


def planned_services(compose: Mapping) -> dict[str, Planned] | None:
    """service -> Planned from a parsed compose file; None when a service is not one named container of
    one image (scaled, built, unnamed): then only compose can tell what `up` would do."""
    services = compose.get("services") if isinstance(compose, Mapping) else None
    if not isinstance(services, Mapping) or not services:
        return None
    planned = {}
    for name, spec in services.items():
        if not isinstance(spec, Mapping) or not spec.get("container_name") or not spec.get("image") \
                or "build" in spec or "scale" in spec or "profiles" in spec:
            return None
        planned[name] = Planned(str(spec["container_name"]), str(spec["image"]))
    return planned


def parse_observed(text: str) -> dict[str, Observed]:
    """``INSPECT_FORMAT`` (or ``LOOK_FORMAT``) lines (a missing container prints none) -> container name ->
    Observed."""
    found = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) in (4, 5) and parts[0]:
            found[parts[0].lstrip("/")] = Observed(*parts[1:])
    return found


def service_images(compose: Mapping) -> dict[str, str]:
    """service -> the image it runs, from a parsed compose file (services without one left out)."""
    services = compose.get("services") if isinstance(compose, Mapping) else None
    if not isinstance(services, Mapping):
        return {}
    return {name: str(spec["image"]) for name, spec in services.items() if isinstance(spec, Mapping) and spec.get("image")}


def identities(hash_lines: str, images: Mapping[str, str], image_ids: Mapping[str, str | None]) -> dict[str, str]:
    """`docker compose config --hash` lines (`<service> <hash>`) -> service -> "<hash> <image ID>" (the ID ""
    when unknown): what a container of the service must have been created from to be current."""
    found = dict(line.split(None, 1) for line in hash_lines.splitlines() if " " in line.strip())
    return {service: f"{digest.strip()} {image_ids.get(images.get(service, '')) or ''}".rstrip()
            for service, digest in found.items()}


def pending(planned: Mapping[str, Planned], wanted: Mapping[str, str], observed: Mapping[str, Observed],
            project_containers: Iterable[str]) -> list[str]:
    """What `up` would change, one phrase per container ([]: nothing). ``wanted``: ``identities``."""
    reasons = []
    for service, plan in sorted(planned.items()):
        seen = observed.get(plan.container)
        digest, _, image_id = wanted.get(service, "").partition(" ")
        if seen is None:
            reasons.append(f"{plan.container}: not created")
        elif seen.status != "running":
            reasons.append(f"{plan.container}: {seen.status}")
        elif not digest or digest != seen.config_hash:
            reasons.append(f"{plan.container}: its configuration changed")
        elif not image_id or image_id != seen.image_id:
            reasons.append(f"{plan.container}: {plan.image} is another image now")
    named = {plan.container for plan in planned.values()}
    reasons += [f"{name}: no service names it (an orphan)" for name in sorted(set(project_containers) - named)]
    return reasons


ENDED_FORMAT = "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}"
# Docker shows a container that exited by itself and will be restarted as `restarting`, never `exited`.
_FOR_GOOD = {"exited": "has exited", "dead": "is dead", "removing": "is being removed"}


def ended_for_good(inspect_out: str, containers: Iterable[str], missing: bool) -> str | None:
    """Why one of ``containers`` will not answer again by itself, from ``docker inspect`` with ENDED_FORMAT
    (pure); None while each runs or may yet (starting, restarting, paused). ``missing``: the engine said a
    container it was asked about does not exist (the ones not in ``inspect_out``)."""
    seen = {words[0].lstrip("/"): words[1:] for words in map(str.split, inspect_out.splitlines()) if words}
    for container in containers:
        fields = seen.get(container)
        if fields is None:
            if missing:
                return f"{container} does not exist"
            continue
        status, code, oom = (fields + ["", "", ""])[:3]
        if status in _FOR_GOOD:
            why = " (out of memory: raise its memory limit)" if oom == "true" else \
                " (killed)" if code == "137" else ""
            return f"{container} {_FOR_GOOD[status]} with code {code}{why} and Docker will not restart it"
    return None
