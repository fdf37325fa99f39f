"""The swarm SwiftDeploy created for a project, kept in ``.swiftdeploy/cluster.json``.

Its ID is what makes a swarm *ours*: only that swarm is ever changed. The nodes SwiftDeploy joined
are kept with how to reach them, so a node taken out of the inventory can still be asked to leave.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_write_text

RECORD_FILE = ".swiftdeploy/cluster.json"


@dataclass(frozen=True)
class ClusterRecord:
    swarm_id: str = ""
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> address, port, user, key_file


def load(root: Path) -> ClusterRecord:
    path = root / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ClusterRecord()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable cluster record ({exc}); it names the swarm SwiftDeploy created, "
                          "so nothing is changed without it") from exc
    if not isinstance(data, dict) or not isinstance(data.get("swarm_id", ""), str):
        raise ConfigError(f"{path}: expected {{\"swarm_id\": ..., \"nodes\": {{...}}}}")
    return ClusterRecord(data.get("swarm_id", ""), dict(data.get("nodes") or {}))


def save(root: Path, record: ClusterRecord) -> None:
    path = root / RECORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"swarm_id": record.swarm_id, "nodes": record.nodes}, indent=2,
                                       sort_keys=True) + "\n")


def reach(host: Any) -> dict[str, Any]:
    """How to reach an InventoryHost again later (no secret: the key file's path only)."""
    return {"address": host.address, "port": host.port, "user": host.user, "key_file": host.key_file}
