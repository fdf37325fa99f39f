"""The project directory of a swarm: one on every node, kept identical.

nginx runs on every node and bind-mounts its configuration and the traffic split from the project
directory of the node it runs on, so every file SwiftDeploy writes is written on every node it
reaches (in parallel), and read back from the acting manager's copy. The directory must resolve to
the same absolute path on every node (the stack file names it once for all); ``ClusterWorkspace``
refuses nodes where it does not. A node that missed writes (unreachable then, or new to the cluster)
is brought up to date when a run opens the cluster (``align``): the acting manager's copy of the
files nginx mounts and the run's state is written where a node's differs or is missing.
"""
from __future__ import annotations

import hashlib
import posixpath
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import UsageError


class ClusterWorkspace:
    def __init__(self, primary: Any, others: Sequence[Any] = ()) -> None:
        differing = [f"{ws.host.name}: {ws.root}" for ws in others if ws.root != primary.root]
        if differing:
            raise UsageError(f"deploy.remote_dir resolves to {primary.root} on {primary.host.name} but to "
                             f"{'; '.join(differing)}; the stack file names one path for every node, so log in as "
                             "users with the same home on every node")
        self.primary = primary
        self.all = [primary, *others]
        self.root = primary.root
        self.host = primary.host

    def __repr__(self) -> str:
        return f"ClusterWorkspace({', '.join(ws.host.name for ws in self.all)}: {self.root!r})"

    def _each(self, call: Callable[[Any], Any]) -> list[Any]:
        if len(self.all) == 1:
            return [call(self.primary)]
        with ThreadPoolExecutor(len(self.all)) as pool:
            return list(pool.map(call, self.all))  # the first node's error is raised, after all finished

    def path(self, name: str) -> str:
        return self.primary.path(name)

    def read(self, name: str) -> str | None:
        return self.primary.read(name)

    def write(self, name: str, text: str) -> None:
        self._each(lambda ws: ws.write(name, text))

    def write_bytes(self, name: str, data: bytes) -> None:
        self._each(lambda ws: ws.write_bytes(name, data))

    def write_private(self, name: str, text: str, owner: int) -> None:
        self._each(lambda ws: ws.write_private(name, text, owner))

    def remove(self, name: str) -> bool:
        return any(self._each(lambda ws: ws.remove(name)))

    def sync_dir(self, local_dir: Path, remote_name: str) -> list[str]:
        return sorted(set().union(*self._each(lambda ws: set(ws.sync_dir(local_dir, remote_name)))))

    def remove_tree(self, remote_name: str) -> list[str]:
        return sorted(set().union(*self._each(lambda ws: set(ws.remove_tree(remote_name)))))

    def align(self, names: Sequence[str], dirs: Sequence[str]) -> dict[str, list[str]]:
        """Every node's copy of ``names`` and of the files under ``dirs`` made the primary's (a file the
        primary lacks is left alone); node name -> the files written there."""
        wanted: dict[str, str] = {}
        for name in names:
            text = self.primary.read(name)
            if text is not None:
                wanted[name] = text
        for directory in dirs:
            for relative in self.primary.remote_hashes(directory):
                name = posixpath.join(directory, relative)
                text = self.primary.read(name)
                if text is not None:
                    wanted[name] = text

        def bring(ws) -> list[str]:
            have = {}
            for directory in dirs:
                have.update({posixpath.join(directory, rel): digest for rel, digest in ws.remote_hashes(directory).items()})
            stale = []
            for name, text in wanted.items():
                digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
                current = have.get(name) if any(name.startswith(d + "/") for d in dirs) else _digest(ws.read(name))
                if current != digest:
                    ws.write(name, text)
                    stale.append(name)
            return stale

        others = self.all[1:]
        if not others:
            return {}
        with ThreadPoolExecutor(len(others)) as pool:
            done = dict(zip((ws.host.name for ws in others), pool.map(bring, others)))
        return {node: files for node, files in done.items() if files}


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()
