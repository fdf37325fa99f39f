"""The app's tracks and how public traffic is split between them (pure).

A track is one app container behind nginx:

    stable  service `app`         the known-good version, MODE=stable
    canary  service `app-canary`  beside stable while `services.mode` is canary, MODE=canary
    next    service `app-next`    only during a version change of stable: the new version
                                  takes the traffic while `app` is recreated (blue/green)

nginx picks a track per request with ``split_clients`` over ``$request_id`` (random), so a
weight is a share of requests, and resolves the track's service name at request time, so a
track that is not running never stops nginx from starting. The split lives in its own file
(``nginx.d/traffic.conf``), in a directory mounted into the nginx container, so a new split is
seen after an atomic rename and applied by a graceful reload.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .manifest.model import Manifest

TRACKS = ("stable", "canary", "next")
SERVICES = {"stable": "app", "canary": "app-canary", "next": "app-next"}
TRAFFIC_DIR = "nginx.d"
TRAFFIC_FILE = f"{TRAFFIC_DIR}/traffic.conf"

Split = Mapping[str, int]  # track -> percent of public requests; sums to 100


@dataclass(frozen=True)
class Track:
    """What one track runs and where: the compose service, container, image, version and MODE."""

    name: str
    service: str
    container_name: str
    image: str
    version: str
    mode: str


def container_name(manifest: Manifest, track: str) -> str:
    base = manifest.services.container_name
    return base if track == "stable" else f"{base}-{track}"


def track(manifest: Manifest, name: str) -> Track:
    """The track ``name`` as the manifest describes it (``next`` runs the stable spec)."""
    if name == "canary":
        image, version, mode = manifest.canary.image, manifest.canary.version, "canary"
    else:
        image, version, mode = manifest.services.image, manifest.services.version, "stable"
    return Track(name, SERVICES[name], container_name(manifest, name), image, version, mode)


def running_tracks(manifest: Manifest, *, bridge: bool = False) -> list[Track]:
    """Tracks the compose file defines: stable, the canary in canary mode, `next` during a handover."""
    names = ["stable"] + (["canary"] if manifest.services.mode == "canary" else []) + (["next"] if bridge else [])
    return [track(manifest, n) for n in names]


def split_for(manifest: Manifest) -> dict[str, int]:
    """The split the manifest asks for: all to stable, or `canary.weight`% to the canary."""
    if manifest.services.mode != "canary":
        return {"stable": 100}
    weight = manifest.canary.weight
    return {"canary": 100} if weight == 100 else {"stable": 100 - weight, "canary": weight}


def only(track_name: str) -> dict[str, int]:
    return {track_name: 100}


def with_weight(weight: int) -> dict[str, int]:
    """Stable and canary at ``weight``% (a rollout step)."""
    return {"canary": 100} if weight >= 100 else {"stable": 100 - weight, "canary": weight}


def describe(split: Split) -> str:
    """`stable 90% / canary 10%` (tracks in a fixed order)."""
    return " / ".join(f"{t} {split[t]}%" for t in TRACKS if split.get(t))


def split_clients_lines(split: Split) -> list[tuple[str, str]]:
    """(share, service) pairs for nginx's split_clients; the last track takes the rest (`*`)."""
    shares = [(t, split[t]) for t in TRACKS if split.get(t)]
    if sum(p for _, p in shares) != 100 or any(p < 0 for _, p in shares):
        raise ValueError(f"a traffic split must add up to 100%, got {dict(split)}")
    lines = [(f"{p}%", SERVICES[t]) for t, p in shares[:-1]]
    lines.append(("*", SERVICES[shares[-1][0]]))
    return lines


def parse_split(text: str | None) -> dict[str, int]:
    """Read back the split from a traffic file we wrote (its `# split:` line); {} if unknown."""
    for line in (text or "").splitlines():
        if line.startswith("# split: "):
            out: dict[str, int] = {}
            for part in line[len("# split: "):].split(","):
                name, _, pct = part.strip().partition("=")
                if name in TRACKS and pct.isdigit():
                    out[name] = int(pct)
            return out
    return {}
