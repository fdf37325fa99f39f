"""The swarm runtime: the stack is a Docker Swarm stack, deployed through one reachable manager.

The steps keep speaking of containers (the manifest's names: `services.container_name`, its
`-canary`/`-next` tracks, `nginx.container_name`); here each names a swarm service
``<deploy.project_name>_<service>`` of the stack. What differs from compose, and why:

- A track's new version replaces its tasks one at a time, the new task started and healthy before
  the old one stops (the stack file's ``update_config``), so a version change needs no blue/green
  bridge (``rolls_updates``); Swarm rolls a failed update back by itself, and we report it (exit 5).
- nginx runs on every node (a global service, host-mode ports) with its configuration bind-mounted
  from the project directory, which the cluster workspace keeps identical on every node; a new
  split is a reload of every node's nginx, which re-resolves the tracks' names (their tasks'
  addresses) too.
- `docker stack deploy` is asynchronous: ``up`` and ``start_service`` wait until every task runs
  the new spec healthy, or Swarm gives up.
- There is no config hash on a swarm service; the digest of each service's section of the stack
  file as last deployed is kept in the project directory (``DEPLOYED_FILE``) and compared instead.
- The policy engine is embedded (``sidecars`` False): an OPA sidecar would live on one node's
  loopback only.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import yaml

from .. import commands, interrupt
from ..cluster import effects
from ..cluster.layout import ClusterLayout
from ..cluster.node_facts import NodeFacts, node_facts
from ..errors import CommandFailed, HealthCheckFailed, HostUnreachable
from ..host import Host
from ..hoststats import collect_host_stats
from ..render import COMPOSE_FILE
from ..tracks import SERVICES, container_name
from . import nginx_apply, swarm_state
from .nginx_apply import NginxApplied
from .compose import parse_projects as _tab_pairs  # `name<TAB>value` lines, as compose's owners

if TYPE_CHECKING:
    from ..lifecycle.context import Target

DEPLOYED_FILE = ".swiftdeploy/stack-deployed.json"  # {service: digest of its section when last deployed}
NAMESPACE_LABEL = "com.docker.stack.namespace"
COMPOSE_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.swarm.service.name"
NODE_TIMEOUT = 30.0  # one node's command: a node that died mid-run must not hold the run for long
POLL = 1.0
NGINX_POLL = 0.1  # between looks at the nodes' nginx workers while a reload drains

# $1 the service. Its inspect JSON, a record separator, its tasks' inspect JSON.
_READ_SERVICE = r"""
docker service inspect "$1" 2>/dev/null || echo '[]'
printf '\036\n'
ids=$(docker service ps -q --no-trunc "$1" 2>/dev/null)
if [ -n "$ids" ]; then docker inspect --type task $ids 2>/dev/null || echo '[]'; else echo '[]'; fi
"""
# $1 the nginx service; then the command to run in this node's nginx task. Nothing when none runs here.
_IN_NGINX = r"""
s=$1; shift
c=$(docker ps -q --filter "label=com.docker.swarm.service.name=$s" | head -n 1)
[ -n "$c" ] || exit 0
exec docker exec "$c" "$@"
"""


def _sh(script: str, *args: str) -> list[str]:
    return ["sh", "-c", script, "swiftdeploy", *args]


class SwarmRuntime:
    name = "swarm"
    rolls_updates = True
    sidecars = False

    def __init__(self, target: "Target", nodes: Mapping[str, Host], *, layout: ClusterLayout) -> None:
        self._target = target
        self._nodes = dict(nodes)  # every reachable node (the manager too), by the inventory's name
        self._layout = layout  # the nodes the inventory wants, reached or not

    # -- names -------------------------------------------------------------------------------
    @property
    def _stack(self) -> str:
        return self._target.compose_project

    def _full(self, service: str) -> str:
        return f"{self._stack}_{service}"

    def _services_by_container(self) -> dict[str, str]:
        m = self._target.manifest
        names = {container_name(m, track): service for track, service in SERVICES.items()}
        names[m.nginx.container_name] = "nginx"
        return names

    def _service_of(self, container: str) -> str | None:
        return self._services_by_container().get(container)

    @property
    def _manager(self) -> Host:
        return self._target.host

    # -- reading -----------------------------------------------------------------------------
    def _read(self, service: str) -> tuple[dict | None, list[dict]]:
        out = self._manager.run(_sh(_READ_SERVICE, self._full(service)), check=False, timeout=60).stdout
        head, _, tail = out.partition("\036")
        services = swarm_state.parse_json_list(head)
        return (services[0] if services else None), swarm_state.parse_json_list(tail)

    def state(self, container: str) -> str:
        service = self._service_of(container)
        return swarm_state.state(*self._read(service)) if service else "absent"

    def ended_for_good(self, containers: Sequence[str]) -> str | None:
        return None  # Swarm starts another task for one that stopped: only a wait's deadline ends it

    def _stack_services(self) -> list[str]:
        argv = ["docker", "service", "ls", "--filter", f"label={NAMESPACE_LABEL}={self._stack}", "--format", "{{.Name}}"]
        return self._manager.run(argv, check=False, timeout=60).stdout.split()

    def snapshot(self) -> dict[str, str]:
        """The manifest's container name of each service -> its running task IDs and whether all are healthy."""
        out: dict[str, str] = {}
        for container, service in self._services_by_container().items():
            found, tasks = self._read(service)
            if not found:
                continue
            ids = sorted(t.get("ID", "")[:12] for t in tasks if t.get("DesiredState") == "running")
            out[container] = f"{','.join(ids)} {'running' if swarm_state.state(found, tasks) == 'running healthy' else 'starting'}"
        return out

    def containers(self) -> list[str]:
        return self._stack_services()

    def config_hashes(self, service: str, compose_text: str | None = None) -> dict[str, str]:
        text = compose_text if compose_text is not None else (self._target.workspace.read(COMPOSE_FILE) or "")
        try:
            hashes = swarm_state.spec_hashes(yaml.safe_load(text) or {})
        except yaml.YAMLError:
            return {}
        return hashes if service == "*" else {k: v for k, v in hashes.items() if k == service}

    def _sections(self) -> dict[str, dict]:
        """The stack file's services as written on the host."""
        try:
            services = (yaml.safe_load(self._target.workspace.read(COMPOSE_FILE) or "") or {}).get("services") or {}
        except yaml.YAMLError:
            return {}
        return {name: spec for name, spec in services.items() if isinstance(spec, dict)}

    def _deployed(self) -> dict[str, str]:
        try:
            data = json.loads(self._target.workspace.read(DEPLOYED_FILE) or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def looks(self, containers: Sequence[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for name in containers:
            state = self.state(name)  # one read each: the hash needs to know whether it runs
            found[name] = (state, self._hash_of(name, state))
        return found

    def running_hash(self, container: str) -> str:
        return self._hash_of(container, self.state(container))

    def _hash_of(self, container: str, state: str) -> str:
        """The spec hash the service of ``container`` was deployed with ("" when it is absent)."""
        service = self._service_of(container)
        return str(self._deployed().get(service, "")) if service and state != "absent" else ""

    # What `refuses` can vouch for: Docker 20.10 has no `docker stack config`, so only the file's shape.
    accepted = "stack file parsed (Docker 20.10 has no `docker stack config`; `docker stack deploy` names what it refuses)"

    def refuses(self, path: str) -> str | None:
        text = self._manager.run(["cat", "--", path], check=False, timeout=30).stdout
        try:
            stack = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            return f"not YAML: {exc}"
        if not isinstance(stack, dict) or not isinstance(stack.get("services"), dict) or not stack["services"]:
            return "no services in the stack file"
        return None

    # -- changing ----------------------------------------------------------------------------
    def _deploy(self, *, prune: bool) -> list[str]:
        path = self._target.workspace.path(COMPOSE_FILE)
        argv = ["docker", "stack", "deploy", "--resolve-image", "never", *(["--prune"] if prune else []),
                "-c", path, self._stack]
        self._manager.run(argv, timeout=300, hint="see `docker service ps` on a manager")
        text = self._target.workspace.read(COMPOSE_FILE) or ""
        hashes = self.config_hashes("*", text)
        self._target.workspace.write(DEPLOYED_FILE, json.dumps(hashes, indent=2, sort_keys=True) + "\n")
        return list(hashes)

    def up(self, services: Sequence[str] = ()) -> None:
        deployed = self._deploy(prune=not services)
        for service in services or deployed:
            self.wait_converged(service)
        if not services:
            self._prune_secrets()

    def _prune_secrets(self) -> None:
        """Remove the stack's swarm secrets its file no longer names, once every service has converged (no task
        uses them then; one still in use is refused by Docker and stays until the next deploy)."""
        argv = ["docker", "secret", "ls", "--filter", f"label={NAMESPACE_LABEL}={self._stack}", "--format", "{{.Name}}"]
        existing = self._manager.run(argv, check=False, timeout=60).stdout.split()
        try:
            stack = yaml.safe_load(self._target.workspace.read(COMPOSE_FILE) or "") or {}
        except yaml.YAMLError:
            return
        stale = swarm_state.stale_secrets(stack, existing)
        if stale:
            self._manager.run(["docker", "secret", "rm", *stale], check=False, timeout=60)

    def pending(self, project_containers) -> list[str]:
        return ["a stack deploy compares each service's spec itself"]  # `up` deploys only what changed

    def start_service(self, service: str) -> None:
        self._deploy(prune=False)
        self.wait_converged(service)

    def wait_converged(self, service: str, deadline: float | None = None) -> None:
        """Until every task of ``service`` runs its current spec healthy; HealthCheckFailed (exit 5) when Swarm
        rolled the update back, or at the deadline (the health timeout plus the update's monitor periods)."""
        seconds = deadline if deadline is not None else self._convergence_seconds(service)
        end = time.monotonic() + seconds
        section = self._sections().get(service)
        while True:
            seen = swarm_state.progress(*self._read(service), section)
            if seen.done:
                return
            if seen.failed:
                raise HealthCheckFailed(f"service {self._full(service)}: {seen.failed}; traffic stays where it was",
                                        host=self._target.name)
            if time.monotonic() >= end:
                raise HealthCheckFailed(f"service {self._full(service)} did not converge in {seconds:g}s: {seen.said}",
                                        host=self._target.name)
            interrupt.sleep(POLL)

    def _convergence_seconds(self, service: str) -> float:
        m = self._target.manifest
        replicas = m.canary.replicas if service == SERVICES["canary"] else m.services.replicas
        # each replica in turn: started, healthy, watched; then the last one's monitor period (the stack
        # file's `monitor`, from services.healthcheck: a fixed 30 s fell short of a longer healthcheck)
        return m.deploy.health_timeout_seconds * max(1, replicas) + m.services.healthcheck.settled_seconds

    def remove(self, container: str) -> bool:
        service = self._service_of(container)
        if not service or self.state(container) == "absent":
            return False
        self._manager.run(["docker", "service", "rm", self._full(service)], check=False, timeout=60)
        self._wait_no_containers(f"label={SERVICE_LABEL}={self._full(service)}")
        return True

    def down(self, *, with_file: bool) -> None:
        self._manager.run(["docker", "stack", "rm", self._stack], timeout=120)
        self._wait_no_containers(f"label={NAMESPACE_LABEL}={self._stack}")
        self._wait_network_gone()
        self._target.workspace.remove(DEPLOYED_FILE)

    def _wait_no_containers(self, label: str, seconds: float = 90.0) -> None:
        """Until no node runs a container of ``label`` (tasks stop gracefully, on their own nodes)."""
        end = time.monotonic() + seconds
        argv = ["docker", "ps", "-aq", "--filter", label]
        while True:
            left = {name: out for name, out in self._on_nodes(lambda host: host.run(argv, check=False,
                                                                                   timeout=NODE_TIMEOUT).stdout).items()
                    if out and out.strip()}
            if not left:
                return
            if time.monotonic() >= end:
                raise CommandFailed("docker service rm", None, f"containers still present on {', '.join(sorted(left))} "
                                    f"after {seconds:g}s", host=self._target.name)
            interrupt.sleep(POLL)

    def _wait_network_gone(self, seconds: float = 60.0) -> None:
        name = self._target.manifest.network.name
        end = time.monotonic() + seconds
        while self._manager.succeeds(["docker", "network", "inspect", name], timeout=NODE_TIMEOUT) \
                and self.owners("network", [name]).get(name) == self._stack and time.monotonic() < end:
            interrupt.sleep(POLL)

    def remove_network(self, name: str) -> None:
        self._manager.run(["docker", "network", "rm", name], check=False, timeout=60)

    def remove_volume(self, name: str) -> None:
        """On every node: each has its own copy of a stack's named volume. Only where it carries the stack's label."""
        script = ('[ "$(docker volume inspect --format "{{index .Labels \\"%s\\"}}" "$1" 2>/dev/null)" = "$2" ] '
                  '&& docker volume rm "$1" >/dev/null; exit 0') % NAMESPACE_LABEL
        self._on_nodes(lambda host: host.run(_sh(script, name, self._stack), check=False, timeout=NODE_TIMEOUT))

    def owners(self, kind: str, names: Sequence[str]) -> dict[str, str]:
        """The stack each of ``names`` belongs to ('' none). Containers are the manifest's names of services."""
        if not names:
            return {}
        if kind == "container":
            wanted = {self._full(s): c for c in names if (s := self._service_of(c))}
            found: dict[str, str] = {}
            if wanted:
                argv = ["docker", "service", "inspect", "--format",
                        "{{.Spec.Name}}\t{{index .Spec.Labels \"%s\"}}" % NAMESPACE_LABEL, *wanted]
                services = _tab_pairs(self._manager.run(argv, check=False, timeout=60).stdout)
                found = {wanted[name]: owner for name, owner in services.items() if name in wanted}
            # a container of that very name (a one-host stack's, say) holds it on the manager
            argv = ["docker", "container", "inspect", "--format",
                    '{{.Name}}\t{{with index .Config.Labels "%s"}}compose:{{.}}{{end}}' % COMPOSE_LABEL, *names]
            held = _tab_pairs(self._manager.run(argv, check=False, timeout=60).stdout)
            return {**held, **found}
        # A one-host (compose) stack's objects carry compose's label instead: named so, never taken for ours.
        fmt = ('{{.Name}}\t{{with index .Labels "%s"}}{{.}}{{else}}{{with index .Labels "%s"}}compose:{{.}}{{end}}{{end}}'
               % (NAMESPACE_LABEL, COMPOSE_LABEL))
        argv = ["docker", kind, "inspect", "--format", fmt, *names]
        return _tab_pairs(self._manager.run(argv, check=False, timeout=60).stdout)

    def owner_text(self, owner: str) -> str:
        if owner.startswith("compose:"):
            return (f"compose project {owner.removeprefix('compose:')!r} (a one-host stack: take it down with "
                    "`inv teardown` on that host first, README: Growing from one host to a cluster)")
        return f"stack {owner!r}" if owner else "no stack"

    def publishers(self, port: int) -> list[str]:
        """On the acting manager (the host the port checks look at): a task of this stack by the manifest's name."""
        argv = ["docker", "ps", "--filter", f"publish={port}", "--format",
                '{{.Names}}\t{{.Label "%s"}}' % SERVICE_LABEL]
        by_service = {self._full(s): c for c, s in self._services_by_container().items()}
        pairs = _tab_pairs(self._manager.run(argv, check=False, timeout=60).stdout)
        # a container that is no task of this stack is someone else's, whatever its name
        return [by_service.get(service) or f"{name} (not a task of stack {self._stack})" for name, service in pairs.items()]

    def gateways(self, network: str) -> list[str]:
        """Where a connection to a host-mode published port from a node's own loopback comes from: the node's
        docker_gwbridge gateway (the admin listener's allow rule), on every node."""
        argv = ["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", "docker_gwbridge"]
        found = self._on_nodes(lambda host: host.run(argv, check=False, timeout=NODE_TIMEOUT).stdout.split())
        return sorted({gw for gws in found.values() if gws for gw in gws})

    # -- nginx on every node -----------------------------------------------------------------
    def _in_nginx(self, *command: str) -> dict[str, object]:
        argv = _sh(_IN_NGINX, self._full("nginx"), *command)
        return self._on_nodes(lambda host: host.run(argv, check=False, timeout=NODE_TIMEOUT))

    def nginx_apply(self, drain_wait: float | None) -> NginxApplied:
        return nginx_apply.in_steps(self, drain_wait)  # every node's nginx: each step a round of execs

    def nginx_test(self) -> tuple[int, str]:
        results = self._in_nginx("nginx", "-t")
        for name, result in sorted(results.items()):
            if result is None or getattr(result, "exited", 1) != 0:
                said = "" if result is None else (result.stderr or result.stdout).strip()
                return (getattr(result, "exited", 1) or 1), f"{name}: {said or 'unreachable'}"
        first = next(iter(results.values()), None)
        return 0, (first.stderr or first.stdout).strip() if first is not None else ""

    def nginx_reload(self) -> None:
        results = self._in_nginx("nginx", "-s", "reload")
        failed = {n: r for n, r in results.items() if r is not None and r.exited != 0}
        if failed:
            name, result = sorted(failed.items())[0]
            raise CommandFailed("nginx -s reload", result.exited, (result.stderr or result.stdout).strip(), host=name,
                                hint="see `docker service logs` of the nginx service")

    def nginx_workers(self) -> set[str]:
        results = self._in_nginx("sh", "-c", commands.NGINX_WORKERS_SCRIPT)
        return {f"{name}:{line.strip()}" for name, result in results.items() if result is not None
                for line in result.stdout.splitlines() if line.strip().isdigit()}

    def nginx_workers_left(self, old: set[str], wait: float) -> set[str]:
        # Every node's nginx is looked at together, each look a round of execs: polled from here.
        deadline = time.monotonic() + wait
        while True:
            left = old & self.nginx_workers()
            if not left or time.monotonic() >= deadline:
                return left
            interrupt.sleep(NGINX_POLL)

    def task_addresses(self, service: str) -> list[str]:
        return swarm_state.task_addresses(self._read(service)[1], self._target.manifest.network.name)

    # -- the nodes -----------------------------------------------------------------------------
    def hosts(self) -> list[Host]:
        return list(self._nodes.values())

    def _on_nodes(self, call: Callable[[Host], object]) -> dict[str, object]:
        """``call`` on every node at once; a node that fails (gone since the run began) answers None."""
        def safe(host: Host):
            try:
                return call(host)
            except Exception:  # noqa: BLE001 - a lost node: the others' answers still count
                return None

        with ThreadPoolExecutor(max(1, len(self._nodes))) as pool:
            return dict(zip(self._nodes, pool.map(safe, self._nodes.values())))

    # -- the nodes, for the infrastructure policy ------------------------------------------------
    def nodes(self) -> list[NodeFacts]:
        """Every node the inventory names: the swarm's view of it (from the acting manager), whether SSH
        reached it, and the host stats of each reached node, all read at once. A node lost since the run
        began counts as not reached; any other failure to read a node's stats is that node's error (exit 1),
        as it is for a single host."""
        def stats(host: Host):
            try:
                return collect_host_stats(host).to_dict()
            except HostUnreachable:
                return None

        with ThreadPoolExecutor(max(1, len(self._nodes) + 1)) as pool:
            members = pool.submit(effects.members, self._manager)
            measured = dict(zip(self._nodes, pool.map(stats, self._nodes.values())))
            seen = members.result()
        return node_facts(self._layout, seen, {name: found for name, found in measured.items() if found is not None})
