"""Which Docker objects named by the manifest belong to this stack.

Compose labels every container, network and volume it creates with
``com.docker.compose.project=<deploy.project_name>``; that label is how SwiftDeploy knows an
object is its own. It only ever removes objects carrying its project's label, and refuses (at
validate and deploy, exit 2, before anything starts) a manifest whose names are taken by an
object of another project, or of none: `compose up` would adopt a foreign volume and fail half
way on a foreign network or container, and a teardown must never remove what someone else keeps.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..manifest.model import Manifest
from ..tracks import TRACKS, track
from .context import Target


@dataclass(frozen=True)
class Named:
    """One Docker object the stack creates under a name the manifest chooses."""

    kind: str   # container, network or volume
    name: str
    field: str  # the manifest key that names it


def named_objects(manifest: Manifest, *, include_opa: bool) -> list[Named]:
    """Every object this manifest's stack would create (pure)."""
    m = manifest
    found = [Named("container", track(m, name).container_name,
                   "services.container_name" + ("" if name == "stable" else f" (+ -{name})")) for name in TRACKS]
    found.append(Named("container", m.nginx.container_name, "nginx.container_name"))
    if include_opa:
        found.append(Named("container", m.opa.container_name, "opa.container_name"))
    if m.metrics.uses_prometheus:
        found.append(Named("container", m.metrics.prometheus.container_name, "metrics.prometheus.container_name"))
    found.append(Named("network", m.network.name, "network.name"))
    found.append(Named("volume", m.logs_volume, "logs.volume_name"))
    return found


def projects_of(target: Target, kind: str, names: list[str]) -> dict[str, str]:
    """The compose project of each of ``names`` that exists on the target (one Docker call)."""
    if not names:
        return {}
    return target.runtime.owners(kind, names)


def foreign(target: Target, *, include_opa: bool) -> list[str]:
    """One line per object the stack would create whose name another owner already holds."""
    wanted = named_objects(target.manifest, include_opa=include_opa)
    ours = target.compose_project
    problems = []
    for kind in ("container", "network", "volume"):
        of_kind = [n for n in wanted if n.kind == kind]
        found = projects_of(target, kind, [n.name for n in of_kind])
        for named in of_kind:
            if named.name in found and found[named.name] != ours:
                owner = target.runtime.owner_text(found[named.name])
                problems.append(f"{named.field}: {kind} {named.name} already exists on {target.name} and belongs to "
                                f"{owner}, not {ours!r}; choose another name (SwiftDeploy never adopts or removes it)")
    return problems


def owned(target: Target, kind: str, name: str) -> bool:
    """Whether ``name`` exists on the target and carries this project's label."""
    return projects_of(target, kind, [name]).get(name) == target.compose_project
