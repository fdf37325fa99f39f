"""A swarm as one lifecycle target: the runtime chosen where the target is opened.

With ``deploy.runtime: swarm`` and ``--inventory FILE``, the inventory's ``managers`` and ``workers``
are one target, not a fleet: every node is connected at once, the first manager (in inventory order)
of the swarm `inv cluster --init` recorded acts for the cluster, the project directory is written on
every node (``ClusterWorkspace``) and the stack runs through ``SwarmRuntime``. A node SSH cannot reach
is left out with a note (Swarm reschedules its tasks; it gets the files at the next run); no reachable
manager of that swarm is exit 6, and a swarm other than the recorded one is never acted on.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

from ..errors import HostUnreachable, SwiftDeployError, UsageError
from .. import interrupt
from ..host import Host
from . import effects, record as records
from .layout import ClusterLayout
from .plan import acting_manager

CLUSTER_TARGET = "swarm"  # the target's name in results and the recap
ELECTION_SECONDS = 60.0  # how long a run waits for the managers left to elect a leader (Raft: seconds)
# What every node must hold as the acting manager does: what nginx mounts, and the run's state (any
# manager may act next). Certificates and secrets are not copied between nodes (never read back).
ALIGNED_FILES = ("nginx.conf", "docker-compose.yml", ".swiftdeploy/state.json", ".swiftdeploy/stack-deployed.json")
ALIGNED_DIRS = ("nginx.d",)


@contextmanager
def open_cluster(project: Any, layout: ClusterLayout, manifest: Any, *, connect_timeout: float,
                 accept_new_host_keys: bool = False, overrides: Any = None,
                 on_note=lambda text: None) -> Iterator[Any]:
    from ..lifecycle.context import Target
    from ..remote.connect import HostSpec, connect
    from ..remote.workspace import RemoteWorkspace
    from ..runtime.swarm import SwarmRuntime
    from .workspace import ClusterWorkspace

    swarm_id = records.load(project.root).swarm_id
    if not swarm_id:
        raise UsageError(f"no swarm is recorded for this project ({records.RECORD_FILE}); form it first with "
                         f"`inv cluster --init --inventory {layout.path or 'FILE'}`")

    def reach(node) -> tuple[str, Host | None, Any]:
        try:
            host = connect(HostSpec.from_inventory(node.host), connect_timeout=connect_timeout,
                           accept_new_host_keys=accept_new_host_keys)
        except SwiftDeployError as exc:
            return node.name, None, exc
        host.name = node.name
        try:
            return node.name, host, effects.node_view(host)
        except SwiftDeployError as exc:
            return node.name, host, exc

    with ExitStack() as stack:
        hosts: dict[str, Host] = {}
        views: dict[str, Any] = {}
        with ThreadPoolExecutor(max(1, min(8, len(layout.nodes)))) as pool:
            for name, host, view in pool.map(reach, layout.nodes):
                if host is not None:
                    stack.callback(host.connection.close)
                if host is None or isinstance(view, SwiftDeployError):
                    views[name] = None
                    on_note(f"{name}: left out of this run ({view.message if isinstance(view, SwiftDeployError) else view})")
                    continue
                hosts[name], views[name] = host, view
        acting = acting_manager(layout, views, swarm_id)
        deadline = time.monotonic() + ELECTION_SECONDS
        while not acting and _electing(layout, views) and time.monotonic() < deadline:
            # A manager that lost its leader knows no cluster ID until the others elect one: ask again.
            on_note(f"{CLUSTER_TARGET}: the managers are electing a leader; waiting")
            interrupt.sleep(2.0)
            for node in layout.managers:
                if hosts.get(node.name) is not None:
                    try:
                        views[node.name] = effects.node_view(hosts[node.name])
                    except SwiftDeployError:
                        views[node.name] = None
            acting = acting_manager(layout, views, swarm_id)
        if not acting:
            raise HostUnreachable(f"no manager of swarm {swarm_id} answered (managers: "
                                  f"{', '.join(n.name for n in layout.managers)}); see `inv cluster --inventory "
                                  f"{layout.path or 'FILE'}`", host=CLUSTER_TARGET)
        members = [name for name in hosts if views[name] is not None and views[name].cluster_id in ("", swarm_id)]
        # The target speaks for the cluster (results, recap, lock); the node keeps its own name in node messages.
        manager = Host.remote(hosts[acting].connection, name=CLUSTER_TARGET)
        remote_dir = manifest.deploy.remote_dir
        spaces = {name: RemoteWorkspace(hosts[name], remote_dir) for name in members}
        workspace = ClusterWorkspace(spaces[acting], [ws for name, ws in spaces.items() if name != acting])
        for node, files in workspace.align(ALIGNED_FILES, ALIGNED_DIRS).items():
            on_note(f"{node}: brought up to date with {acting}: {', '.join(files)}")
        address = layout[acting].host.address
        target = Target(manager, workspace, manifest, address=address, overrides=overrides or {})
        target.runtime = SwarmRuntime(target, {name: hosts[name] for name in members}, layout=layout)
        on_note(f"{CLUSTER_TARGET}: acting through manager {acting} ({len(members)} of {len(layout.nodes)} nodes reached)")
        yield target


def _electing(layout: ClusterLayout, views: dict[str, Any]) -> bool:
    """A reachable inventory manager in a swarm that cannot act as one (no control, or no cluster ID): its leader
    is gone and a new one not elected yet."""
    return any((view := views.get(node.name)) is not None and view.in_swarm and not (view.is_manager and view.cluster_id)
               for node in layout.managers)
