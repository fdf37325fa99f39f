"""The docker CLI commands that read and change a swarm, as argv lists (pure).

A join token is a secret that admits any host to the swarm: it goes to `docker swarm join` on stdin,
never in an argv (a process listing, or a failed command's message, would show it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

SWARM_PORT = 2377


def swarm_info() -> list[str]:
    return ["docker", "info", "--format", "{{json .Swarm}}"]


def node_ids() -> list[str]:
    return ["docker", "node", "ls", "--quiet"]


def node_inspect(ids: Sequence[str]) -> list[str]:
    return ["docker", "node", "inspect", "--format", "{{json .}}", *ids]


def swarm_init(advertise: str) -> list[str]:
    return ["docker", "swarm", "init", *(["--advertise-addr", advertise] if advertise else [])]


def join_token(role: str) -> list[str]:
    return ["docker", "swarm", "join-token", "--quiet", role]


def swarm_join(manager_addr: str, advertise: str) -> list[str]:
    """`docker swarm join` reading its token from stdin (see the module docstring)."""
    flags = f" --advertise-addr {advertise}" if advertise else ""
    script = f'read -r token && exec docker swarm join --token "$token"{flags} "$1"'
    return ["sh", "-c", script, "swarm-join", manager_addr]


def swarm_leave() -> list[str]:
    return ["docker", "swarm", "leave", "--force"]


def node_role(kind: str, node_id: str) -> list[str]:
    """``kind``: promote or demote."""
    return ["docker", "node", kind, node_id]


def node_labels(node_id: str, labels: Mapping[str, str]) -> list[str]:
    adds = [part for key, value in sorted(labels.items()) for part in ("--label-add", f"{key}={value}")]
    return ["docker", "node", "update", *adds, node_id]


def node_drain(node_id: str) -> list[str]:
    return ["docker", "node", "update", "--availability", "drain", node_id]


def node_remove(node_id: str) -> list[str]:
    return ["docker", "node", "rm", "--force", node_id]


def stack_tasks(stack: str) -> list[str]:
    """The stack's running tasks, `node<TAB>task name` a line (nothing when there is no such stack)."""
    return ["sh", "-c", 'docker stack ps --filter desired-state=running --format "{{.Node}}\t{{.Name}}" "$1" '
                        '2>/dev/null; exit 0', "stack-tasks", stack]
