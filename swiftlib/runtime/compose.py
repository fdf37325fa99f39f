"""The compose runtime: the stack is a compose project on one Docker host (the target's)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterable, Sequence

from .. import commands
from ..errors import CommandFailed
from . import compose_state, nginx_apply
from .nginx_apply import NginxApplied

if TYPE_CHECKING:
    from ..lifecycle.context import Target


class ComposeRuntime:
    name = "compose"
    rolls_updates = False  # a recreated container is gone while its successor starts: stable changes blue/green
    sidecars = True

    def __init__(self, target: "Target") -> None:
        self._target = target  # read at each call: a promotion changes the target's manifest mid-run
        # `docker compose config --hash '*'` per compose text: the hashes are a function of that text
        # (given on stdin or read from the file alike: paths resolve against the project directory),
        # and a run asks for one track's, then for every service's, before and after writing the file.
        self._hash_lines: dict[str, str] = {}

    @property
    def _host(self):
        return self._target.host

    @property
    def _project(self) -> tuple[str, str]:
        return self._target.project_dir, self._target.compose_project

    def state(self, container: str) -> str:
        result = self._host.run(commands.container_health(container), check=False)
        return result.stdout.strip() if result.ok else "absent"

    def ended_for_good(self, containers: Sequence[str]) -> str | None:
        result = self._host.run(commands.inspect_containers(containers, compose_state.ENDED_FORMAT), check=False)
        return compose_state.ended_for_good(result.stdout, containers, missing="No such" in result.stderr)

    def snapshot(self) -> dict[str, str]:
        argv = commands.containers_of_project(self._target.compose_project, "{{.Names}} {{.ID}} {{.State}}")
        out = self._host.run(argv, check=False).stdout
        rows = (line.split(" ", 1) for line in out.splitlines() if line.strip())
        return {name: rest for name, rest in rows}

    def containers(self) -> list[str]:
        return self._host.run(commands.containers_of_project(self._target.compose_project), check=False).stdout.split()

    def config_hashes(self, service: str, compose_text: str | None = None) -> dict[str, str]:
        """``"<compose's config hash> <image ID>"``: compose recreates a container when either differs from what
        it was created with (an image rebuilt under the same tag changes only the ID)."""
        import yaml

        from ..remote.images import image_ids
        from ..render import COMPOSE_FILE

        text = compose_text if compose_text is not None else (self._target.workspace.read(COMPOSE_FILE) or "")
        try:
            images = compose_state.service_images(yaml.safe_load(text) or {})
        except yaml.YAMLError:
            images = {}
        with ThreadPoolExecutor(max_workers=2) as pool:
            hashes = None if text in self._hash_lines else pool.submit(
                self._host.run, commands.compose_config_hash(*self._project, "*", from_stdin=compose_text is not None),
                check=False, stdin=compose_text)
            ids = pool.submit(image_ids, self._host, sorted(set(images.values())))
            if hashes is not None:
                answer = hashes.result()
                if not answer.ok:
                    return {}
                self._hash_lines[text] = answer.stdout
            found = compose_state.identities(self._hash_lines[text], images, ids.result())
        return found if service == "*" else {name: found[name] for name in found if name == service}

    def running_hash(self, container: str) -> str:
        seen = self._observed([container]).get(container)
        return seen.identity if seen else ""

    def looks(self, containers: Sequence[str]) -> dict[str, tuple[str, str]]:
        out = self._host.run(commands.inspect_containers(containers, compose_state.LOOK_FORMAT), check=False).stdout
        return compose_state.parse_looks(out, containers)

    def _observed(self, containers: Sequence[str]) -> dict[str, compose_state.Observed]:
        out = self._host.run(commands.inspect_containers(containers, compose_state.INSPECT_FORMAT), check=False).stdout
        return compose_state.parse_observed(out)

    accepted = "compose file accepted"  # what `refuses` returning None means: `docker compose config` took it

    def refuses(self, path: str) -> str | None:
        result = self._host.run(commands.compose_config_check(*self._project, path), check=False, timeout=60)
        return None if result.ok else ((result.stderr or result.stdout).strip() or "rejected")

    def up(self, services: Sequence[str] = ()) -> None:
        self._host.run(commands.compose_up(*self._project, services), timeout=600,
                       hint="see `docker compose logs` in the project directory")

    def pending(self, project_containers: Iterable[str]) -> list[str]:
        """What `up` of every service would change, compose's own way (three reads at once; []: nothing)."""
        import yaml

        from ..render import COMPOSE_FILE

        try:
            planned = compose_state.planned_services(yaml.safe_load(self._target.workspace.read(COMPOSE_FILE) or "")
                                                     or {})
        except yaml.YAMLError:
            planned = None
        if planned is None:
            return ["only compose can tell for this file"]
        with ThreadPoolExecutor(max_workers=2) as pool:
            wanted = pool.submit(self.config_hashes, "*")
            seen = pool.submit(self._observed, [plan.container for plan in planned.values()])
            return compose_state.pending(planned, wanted.result(), seen.result(), project_containers)

    def start_service(self, service: str) -> None:
        self._host.run(commands.compose_start_service(*self._project, service), timeout=600,
                       hint=f"see `docker compose logs {service}` in the project directory")

    def remove(self, container: str) -> bool:
        stopped = self._host.run(commands.stop_container(container), check=False, timeout=60)
        if not stopped.ok and "No such container" in stopped.stderr:
            return False
        self._host.run(commands.remove_container(container), timeout=60)
        return True

    def down(self, *, with_file: bool) -> None:
        argv = (commands.compose_down(*self._project) if with_file
                else commands.compose_down_by_name(self._target.compose_project))
        self._host.run(argv, timeout=300)

    def remove_network(self, name: str) -> None:
        self._host.run(commands.network_remove(name), check=False)

    def remove_volume(self, name: str) -> None:
        self._host.run(commands.volume_remove(name), check=False)

    def owners(self, kind: str, names: Sequence[str]) -> dict[str, str]:
        """The compose project of each of ``names`` that exists ('' when unlabelled), in one Docker call."""
        return parse_projects(self._host.run(commands.object_projects(kind, names), check=False).stdout)

    def publishers(self, port: int) -> list[str]:
        return self._host.run(commands.containers_publishing(port), check=False).stdout.split()

    def owner_text(self, owner: str) -> str:
        return f"compose project {owner!r}" if owner else "no compose project"

    def gateways(self, network: str) -> list[str]:
        result = self._host.run(commands.network_gateways(network), check=False)
        return result.stdout.split() if result.ok else []

    def nginx_apply(self, drain_wait: float | None) -> NginxApplied:
        result = self._host.run(commands.nginx_apply(self._nginx, drain_wait), check=False,
                                timeout=30 + (drain_wait or 0))
        said = (result.stderr or result.stdout).strip()
        out = nginx_apply.parse(result.stdout)
        if "tested" not in out.stages:
            return NginxApplied(result.exited or 1, said, out.old)
        if "reloaded" not in out.stages:
            raise CommandFailed("nginx -s reload", result.exited, said, host=self._host.name,
                                hint="see `docker logs` of the nginx container")
        return NginxApplied(0, said, out.old, out.left)

    def nginx_workers_left(self, old: set[str], wait: float) -> set[str]:
        if not old:
            return set()
        argv = commands.nginx_workers_left(self._nginx, sorted(old), wait)
        out = self._host.run(argv, check=False, timeout=wait + 30).stdout
        return {pid for pid in out.split() if pid in old}

    def hosts(self) -> list:
        return [self._host]

    def task_addresses(self, service: str) -> None:
        return None  # one container per track: its track URL reaches it

    @property
    def _nginx(self) -> str:
        return self._target.manifest.nginx.container_name

    def nodes(self) -> None:
        """One host, the target's: the infrastructure gate measures it alone."""
        return None


def parse_projects(text: str) -> dict[str, str]:
    """``object_projects`` output -> name: compose project ('' when unlabelled) (pure)."""
    out = {}
    for line in text.splitlines():
        name, _, project = line.partition("\t")
        if name.strip():
            out[name.strip().lstrip("/")] = project.strip()
    return out
