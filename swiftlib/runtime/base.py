"""What the lifecycle asks of a container runtime, in the stack's own terms: services (app tracks,
nginx, the sidecars) and the containers that run them. Implementations run the engine's commands on
the target's host; they print nothing, decide nothing and write no audit record (the steps do)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol, Sequence

if TYPE_CHECKING:
    from ..cluster.node_facts import NodeFacts
    from .nginx_apply import NginxApplied


class Runtime(Protocol):
    name: str
    # True: a track's new version replaces its tasks one by one, each new one healthy before an old one
    # stops, so changing stable's version needs no blue/green bridge through the `next` track.
    rolls_updates: bool
    # False: the runtime cannot keep the OPA sidecar on the controller's reach; the policy engine is embedded.
    sidecars: bool

    def hosts(self) -> list:
        """Every Docker engine the stack runs on (the images must be on each)."""

    def task_addresses(self, service: str) -> list[str] | None:
        """The app network address of each running task of ``service`` (each has its own counters), or None
        when the service is one container (its track URL reaches it)."""

    def state(self, container: str) -> str:
        """`running healthy`, `running starting`, `exited none`, ... or `absent`."""

    def ended_for_good(self, containers: Sequence[str]) -> str | None:
        """Why one of ``containers`` will not run again by itself (it exited or is gone, and nothing will
        restart it), for a wait to stop at once; None while each runs or may yet."""

    def snapshot(self) -> dict[str, str]:
        """Container name -> "id state" of everything the stack runs (to tell ok from changed)."""

    def containers(self) -> list[str]:
        """Names of every container of the stack, running or not."""

    def config_hashes(self, service: str, compose_text: str | None = None) -> dict[str, str]:
        """{service: hash} the runtime would give ``service`` (``*``: every service) from the compose file on
        the host, or from ``compose_text`` (what a run would write)."""

    def running_hash(self, container: str) -> str:
        """The hash the running ``container`` was made from ("" when unknown)."""

    def looks(self, containers: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Each container's `state` and `running_hash` ("absent", "" for one that is not there), in one
        read where the engine allows it."""

    accepted: str  # what the check behind `refuses` vouches for when it returns None, in words

    def refuses(self, path: str) -> str | None:
        """Why the engine would not run the stack file at ``path`` on the host (None: it would)."""

    def up(self, services: Sequence[str] = ()) -> None:
        """Create or update the stack (or only ``services``), removing what the file no longer names."""

    def pending(self, project_containers: Iterable[str]) -> list[str]:
        """What `up` of every service would create, recreate, start or remove, one phrase each ([]: nothing,
        so `up` may be skipped); ``project_containers``: the stack's containers as ``snapshot`` found them."""

    def start_service(self, service: str) -> None:
        """Create or update one service alone; its neighbours stay as they are."""

    def remove(self, container: str) -> bool:
        """Stop gracefully (in-flight requests finish), then remove; False when there was none."""

    def down(self, *, with_file: bool) -> None:
        """Remove the stack: by its compose file, or (``with_file`` False) by its project label."""

    def remove_network(self, name: str) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    def owners(self, kind: str, names: Sequence[str]) -> dict[str, str]:
        """Which stack (compose project, swarm stack) each of ``names`` that exists belongs to ('' none);
        ``kind``: container, network or volume."""

    def publishers(self, port: int) -> list[str]:
        """Containers publishing ``port`` on the target host, by the manifest's names for the stack's own."""

    def owner_text(self, owner: str) -> str:
        """How a message names an owner ``owners`` gave (`compose project 'x'`, `stack 'y'`, ...)."""

    def gateways(self, network: str) -> list[str]:
        """The network's gateway addresses (the host as its containers see it); [] without the network."""

    def nginx_apply(self, drain_wait: float | None) -> "NginxApplied":
        """`nginx -t` in the running nginx and, when it accepts, a graceful reload; with ``drain_wait``, the
        workers from before the reload and which of them still run after up to that long (`nginx_apply.py`)."""

    def nginx_workers_left(self, old: set[str], wait: float) -> set[str]:
        """Which of ``old`` (from ``nginx_apply``) still run, having waited up to ``wait`` seconds for
        all of them to exit (it returns as soon as none is left)."""

    def nodes(self) -> list[NodeFacts] | None:
        """Every node the stack should run on, as the infrastructure policy judges them: the runtime's view of
        each (ready, role, ...), whether it was reached, its host stats. None: one host, the target's own."""
