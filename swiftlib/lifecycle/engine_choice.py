"""Which policy engine serves this target: the OPA sidecar or the embedded one.

``opa.engine: auto`` picks the sidecar when its image is on the host and the embedded
engine otherwise. A deploy makes the choice and records it in the target's state;
later promotions and renders keep it, so one deployment never switches engines.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import commands
from .context import Target


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # "sidecar" | "embedded"
    why: str

    @property
    def include_opa(self) -> bool:
        return self.engine == "sidecar"


def choose_engine(target: Target, *, fresh: bool = False) -> EngineChoice:
    if not target.runtime.sidecars:
        return EngineChoice("embedded", f"the {target.runtime.name} runtime runs no sidecar; using the embedded Rego engine")
    configured = target.manifest.opa.engine
    if configured != "auto":
        return EngineChoice(configured, f"opa.engine is {configured}")
    if not fresh:
        recorded = target.read_state().get("engine")
        if recorded in ("sidecar", "embedded"):
            return EngineChoice(recorded, "opa.engine is auto; keeping the engine chosen at deploy")
    image = target.manifest.opa.image
    if target.host.succeeds(commands.image_exists(image)):
        return EngineChoice("sidecar", f"opa.engine is auto and {image} is on the host")
    return EngineChoice("embedded", f"opa.engine is auto and {image} is not on the host; using the embedded Rego engine")
