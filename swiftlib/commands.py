"""Command builders: argv lists for docker, docker compose and nginx (pure).

Nothing here runs anything; ``Host.run`` executes what these return. Keeping the
two apart lets every command be checked in unit tests without a server.
"""
from __future__ import annotations

from typing import Sequence

COMPOSE_FILE = "docker-compose.yml"


def compose(project_dir: str, project_name: str, *args: str, compose_file: str | None = None) -> list[str]:
    """`docker compose` pinned to one project file and name, so nothing else is touched."""
    return [
        "docker", "compose",
        "--project-directory", project_dir,
        "-f", compose_file or f"{project_dir}/{COMPOSE_FILE}",
        "-p", project_name,
        *args,
    ]


def compose_config_check(project_dir: str, project_name: str, compose_file: str | None = None) -> list[str]:
    return compose(project_dir, project_name, "config", "-q", compose_file=compose_file)


def compose_down_by_name(project_name: str) -> list[str]:
    """`down` without a compose file: compose v2 finds the project's resources by label."""
    return ["docker", "compose", "-p", project_name, "down", "--remove-orphans", "--volumes"]


def compose_up(project_dir: str, project_name: str, services: Sequence[str] = ()) -> list[str]:
    return compose(project_dir, project_name, "up", "-d", "--remove-orphans", *services)


def compose_recreate(project_dir: str, project_name: str, service: str) -> list[str]:
    """Recreate one service only; --no-deps keeps its neighbours (nginx) untouched."""
    return compose(project_dir, project_name, "up", "-d", "--no-deps", "--force-recreate", service)


def compose_down(project_dir: str, project_name: str, *, volumes: bool = True) -> list[str]:
    args = ["down", "--remove-orphans"]
    if volumes:
        args.append("--volumes")
    return compose(project_dir, project_name, *args)


def image_exists(image: str) -> list[str]:
    """Succeeds when the engine has ``image``; prints its ID."""
    return ["docker", "image", "inspect", "--format", "{{.Id}}", image]


def image_save(image: str) -> list[str]:
    """The image as a tar stream on stdout (to be piped into `image_load` on another host)."""
    return ["docker", "save", image]


def image_load() -> list[str]:
    return ["docker", "load", "--quiet"]


# Compose labels every container, network and volume it creates with its project's name.
PROJECT_LABEL = "com.docker.compose.project"
_LABELS_AT = {"container": ".Config.Labels", "network": ".Labels", "volume": ".Labels"}


def object_projects(kind: str, names: Sequence[str]) -> list[str]:
    """`<name>\t<compose project>` for each of ``names`` that exists (``kind``: container, network, volume).

    A missing object prints nothing (and makes the command exit non-zero); one with no project
    label prints an empty project: it was not created by compose.
    """
    fmt = f'{{{{.Name}}}}\t{{{{index {_LABELS_AT[kind]} "{PROJECT_LABEL}"}}}}'
    return ["docker", kind, "inspect", "--format", fmt, *names]


def network_gateways(network: str) -> list[str]:
    """The network's gateway addresses, space-separated (nothing when it has none)."""
    return ["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", network]


def network_remove(network: str) -> list[str]:
    return ["docker", "network", "rm", network]


def volume_remove(volume: str) -> list[str]:
    return ["docker", "volume", "rm", volume]


def containers_of_project(project_name: str, fmt: str = "{{.Names}}") -> list[str]:
    return [
        "docker", "ps", "--all",
        "--filter", f"label=com.docker.compose.project={project_name}",
        "--format", fmt,
    ]


def nginx_test_in_container(image: str, conf_path: str, traffic_dir: str, tls_dir: str | None = None) -> list[str]:
    """`nginx -t` in a throwaway container of the manifest's image, with the traffic split beside it
    (and, for HTTPS, a directory holding a stand-in certificate where nginx.conf expects one)."""
    mounts = ["-v", f"{tls_dir}:/etc/nginx/tls:ro"] if tls_dir else []
    return [
        "docker", "run", "--rm",
        "-v", f"{conf_path}:/etc/nginx/nginx.conf:ro",
        "-v", f"{traffic_dir}:/etc/nginx/nginx.d:ro",
        *mounts,
        "--entrypoint", "nginx",
        image, "-t", "-c", "/etc/nginx/nginx.conf",
    ]


# Worker PIDs from /proc (the nginx images may lack ps); nginx renames workers "nginx: worker process".
# A process's title, read by the shell itself (no fork per process): nginx pads it with NULs, where `read` stops.
_TITLE = 'line=; read -r line 2>/dev/null < "/proc/$p/cmdline"; case "$line" in '


def _each_worker(action: str) -> str:
    """Runs ``action`` with ``$p`` set to each nginx worker's PID."""
    return f'for p in /proc/[0-9]*; do p=${{p#/proc/}}; {_TITLE}"nginx: worker process"*) {action};; esac; done'


NGINX_WORKERS_SCRIPT = _each_worker('echo "$p"')
NGINX_POLL_SECONDS = 0.02


def _left_loop(prefix: str = "") -> str:
    """Polls ``$n`` times at most (PIDs in "$@"); prints PREFIX and those still nginx workers once none is,
    or the polls are spent."""
    return (f'while :; do left=; for p; do {_TITLE}"nginx: worker process"*) left="$left $p";; esac; done; '
            f'if [ -z "$left" ] || [ "$n" -le 0 ]; then echo {prefix}$left; exit 0; fi; n=$((n - 1)); '
            f'sleep {NGINX_POLL_SECONDS}; done')


# $1: polls left; then PIDs.
NGINX_WORKERS_LEFT_SCRIPT = f'n=$1; shift; {_left_loop()}'


def nginx_workers_left(container: str, pids: list[str], wait: float) -> list[str]:
    """Which of ``pids`` are still nginx workers, waiting inside the container up to ``wait`` seconds for
    them to exit: one exec instead of one per look (a reload's old workers usually go within 50 ms)."""
    polls = max(0, int(wait / NGINX_POLL_SECONDS))
    return ["docker", "exec", container, "sh", "-c", NGINX_WORKERS_LEFT_SCRIPT, "sh", str(polls), *pids]


# $1: the drain's polls (-1: no drain). The workers are listed, the config checked, nginx reloaded and the
# listed workers waited for, in one exec; each stage reached is printed, so a failure names its stage.
NGINX_APPLY_SCRIPT = (
    'n=$1; old=; ' + _each_worker('old="$old $p"') + '; echo "old:$old"; '
    'nginx -t -q || exit $?; echo tested; nginx -s reload || exit $?; echo reloaded; '
    f'if [ "$n" -lt 0 ]; then exit 0; fi; set -- $old; {_left_loop("left:")}')


def nginx_apply(container: str, drain_wait: float | None) -> list[str]:
    """`nginx -t`, then (accepted) a graceful reload and, with ``drain_wait``, up to that many seconds of
    waiting for the workers from before it to exit: one exec where four took three round trips."""
    polls = -1 if drain_wait is None else max(0, int(drain_wait / NGINX_POLL_SECONDS))
    return ["docker", "exec", container, "sh", "-c", NGINX_APPLY_SCRIPT, "sh", str(polls)]


def compose_start_service(project_dir: str, project_name: str, service: str) -> list[str]:
    """Create or update one service only (recreated only if its config changed); neighbours untouched."""
    return compose(project_dir, project_name, "up", "-d", "--no-deps", service)


def compose_config_hash(project_dir: str, project_name: str, service: str, *, from_stdin: bool = False) -> list[str]:
    """The config hash compose would give ``service`` now (`<service> <hash>`).

    ``from_stdin``: of a compose file given on stdin (what a run would write, in check mode).
    """
    return compose(project_dir, project_name, "config", "--hash", service, compose_file="-" if from_stdin else None)


# One `docker image inspect` for all (its lines come in the order asked) when the engine has every image;
# only when one is missing, image by image, to tell which (a docker process each: about 15 ms).
IMAGE_IDS_SCRIPT = ('ids=$(docker image inspect --format "{{.Id}}" "$@" 2>/dev/null) && '
                    '{ printf "%s\\n" "$ids"; exit 0; }; '
                    'for i; do docker image inspect --format "{{.Id}}" "$i" 2>/dev/null || echo -; done')


def image_ids_each(images: Sequence[str]) -> list[str]:
    """One line per image, in order: its ID, or ``-`` when the engine lacks it (one call for several)."""
    return ["sh", "-c", IMAGE_IDS_SCRIPT, "sh", *images]


def inspect_containers(containers: Sequence[str], fmt: str) -> list[str]:
    """One ``fmt`` line per container that exists (fails, after printing the others, when one does not)."""
    return ["docker", "inspect", "--format", fmt, *containers]


def container_health(container: str) -> list[str]:
    """`running healthy`, `running starting`, `exited none`, ..."""
    return ["docker", "inspect", "--format",
            "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", container]


def stop_container(container: str, grace_seconds: int = 10) -> list[str]:
    """SIGTERM, then SIGKILL after the grace period (gunicorn finishes in-flight requests on SIGTERM)."""
    return ["docker", "stop", "--time", str(grace_seconds), container]


def remove_container(container: str) -> list[str]:
    return ["docker", "rm", "--force", container]


# Prints each argument that is not there as it should be: `d:PATH` a directory, PATH a regular file.
_MISSING = ('for p; do case "$p" in d:*) [ -d "${p#d:}" ] || echo "${p#d:}";; '
            '*) [ -f "$p" ] || echo "$p";; esac; done')


def missing_paths(files: Sequence[str], directories: Sequence[str] = ()) -> list[str]:
    """Prints the ``files`` that are not regular files and the ``directories`` that are not directories."""
    return ["sh", "-c", _MISSING, "sh", *files, *(f"d:{d}" for d in directories)]


def nginx_test_local(conf_path: str) -> list[str]:
    return ["nginx", "-t", "-q", "-c", conf_path]


def listening_sockets() -> list[str]:
    """Listening TCP sockets from /proc (present on every Linux host, unlike ss or netstat)."""
    return ["cat", "/proc/net/tcp", "/proc/net/tcp6"]


def containers_publishing(port: int) -> list[str]:
    return ["docker", "ps", "--filter", f"publish={port}", "--format", "{{.Names}}"]


def docker_info() -> list[str]:
    return ["docker", "info", "--format", "{{.ServerVersion}}"]


def engine_identity() -> list[str]:
    """`<server version>|<compose plugin version> <its path>`: what decides whether a compose file that
    passed `docker compose config` once would pass it again."""
    return ["docker", "info", "--format", "{{.ServerVersion}}|{{range .ClientInfo.Plugins}}"
            '{{if eq .Name "compose"}}{{.Version}} {{.Path}}{{end}}{{end}}']
