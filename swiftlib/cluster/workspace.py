"""The project directory of a swarm: one on every node, kept identical.

nginx runs on every node and bind-mounts its configuration and the traffic split from the project
directory of the node it runs on, so every file SwiftDeploy writes is written on every node it
reaches (in parallel), and read back from the acting manager's copy. The directory must resolve to
the same absolute path on every node (the stack file names it once for all); ``ClusterWorkspace``
refuses nodes where it does not. A node that could not be reached when the run began gets the files
at the next run that reaches it; until then Swarm may run nginx there on the files it had.
"""
from __future__ import annotations

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
