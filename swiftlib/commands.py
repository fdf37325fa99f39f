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
    return ["docker", "image", "inspect", "--format", "{{.Id}}", image]




def containers_of_project(project_name: str, fmt: str = "{{.Names}}") -> list[str]:
    return [
        "docker", "ps", "--all",
        "--filter", f"label=com.docker.compose.project={project_name}",
        "--format", fmt,
    ]






def nginx_test_in_container(image: str, conf_path: str, upstream_host: str = "app") -> list[str]:
    """`nginx -t` in a throwaway container of the manifest's image, with the upstream resolvable."""
    return [
        "docker", "run", "--rm",
        "--add-host", f"{upstream_host}:127.0.0.1",
        "-v", f"{conf_path}:/etc/nginx/nginx.conf:ro",
        "--entrypoint", "nginx",
        image, "-t", "-c", "/etc/nginx/nginx.conf",
    ]


def nginx_test_local(conf_path: str) -> list[str]:
    return ["nginx", "-t", "-q", "-c", conf_path]


def listening_sockets() -> list[str]:
    """Listening TCP sockets from /proc (present on every Linux host, unlike ss or netstat)."""
    return ["cat", "/proc/net/tcp", "/proc/net/tcp6"]


def containers_publishing(port: int) -> list[str]:
    return ["docker", "ps", "--filter", f"publish={port}", "--format", "{{.Names}}"]




def docker_info() -> list[str]:
    return ["docker", "info", "--format", "{{.ServerVersion}}"]
