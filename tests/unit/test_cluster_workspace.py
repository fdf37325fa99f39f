"""The project directory of a swarm, one copy per node (swiftlib/cluster/workspace.py), over in-memory copies."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from swiftlib.cluster.workspace import ClusterWorkspace
from swiftlib.errors import UsageError


class Copy:
    """One node's project directory: what RemoteWorkspace offers, in memory."""

    def __init__(self, node: str, files: dict[str, str] | None = None, root: str = "/root/swiftdeploy") -> None:
        self.host = SimpleNamespace(name=node)
        self.root = root
        self.files = dict(files or {})
        self.writes: list[str] = []

    def read(self, name):
        return self.files.get(name)

    def write(self, name, text):
        self.files[name] = text
        self.writes.append(name)

    def remove(self, name):
        return self.files.pop(name, None) is not None

    def path(self, name):
        return f"{self.root}/{name}"

    def remote_hashes(self, directory):
        return {name[len(directory) + 1:]: hashlib.sha256(text.encode()).hexdigest()
                for name, text in self.files.items() if name.startswith(directory + "/")}


def test_writes_reach_every_node_and_reads_come_from_the_acting_manager():
    primary, other = Copy("node1", {"a": "1"}), Copy("node2", {"a": "old"})
    ws = ClusterWorkspace(primary, [other])
    assert ws.read("a") == "1"
    ws.write("nginx.d/traffic.conf", "split")
    assert primary.files["nginx.d/traffic.conf"] == other.files["nginx.d/traffic.conf"] == "split"
    assert ws.remove("nginx.d/traffic.conf") and "nginx.d/traffic.conf" not in other.files


def test_a_node_that_missed_writes_is_brought_up_to_date_and_only_where_it_differs():
    primary = Copy("node1", {"nginx.conf": "conf", "nginx.d/traffic.conf": "90/10", "nginx.d/admin-access.conf": "allow",
                             "docker-compose.yml": "stack", "secret": "never copied"})
    behind = Copy("node2", {"nginx.conf": "conf", "nginx.d/traffic.conf": "100/0"})
    current = Copy("node3", dict(primary.files))
    ws = ClusterWorkspace(primary, [behind, current])
    done = ws.align(["nginx.conf", "docker-compose.yml", ".swiftdeploy/state.json"], ["nginx.d"])
    assert done == {"node2": ["docker-compose.yml", "nginx.d/traffic.conf", "nginx.d/admin-access.conf"]}
    assert behind.files["nginx.d/traffic.conf"] == "90/10" and "secret" not in behind.files
    assert current.writes == [] and primary.writes == []


def test_a_node_whose_project_directory_is_elsewhere_is_refused():
    with pytest.raises(UsageError, match="node2: /home/deploy/swiftdeploy"):
        ClusterWorkspace(Copy("node1"), [Copy("node2", root="/home/deploy/swiftdeploy")])
