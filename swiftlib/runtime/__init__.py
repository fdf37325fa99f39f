"""The container runtime a target's stack runs on, chosen once where the target is opened.

The lifecycle steps say what should happen to a track or to the stack (start it, is it running,
would it be recreated, remove it, reload nginx); a runtime says how on its engine: ``compose`` (one
Docker host, `docker compose`) or ``swarm`` (a Docker Swarm through one of its managers, opened by
``swiftlib.cluster.target``). Both implement the ``Runtime`` protocol (``base.py``), so no step
branches on the runtime.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Runtime

if TYPE_CHECKING:
    from ..lifecycle.context import Target


def open_runtime(target: "Target") -> Runtime:
    """The compose runtime of a one-host target (a swarm's target is opened with its own)."""
    from .compose import ComposeRuntime

    return ComposeRuntime(target)


__all__ = ["Runtime", "open_runtime"]
