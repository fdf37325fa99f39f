"""Make a fresh Debian host able to deploy: Docker engine, compose v2, and the images, with no Docker Hub.

    bootstrap(host, app_image=..., nginx_image=..., app_dir=...) -> [Step, ...]

runs, in order: ensure_system_libraries, ensure_docker_engine, ensure_compose_v2, ensure_base_image,
ensure_nginx_image, ensure_app_image, and ensure_prometheus_image when a Prometheus image is asked
for (``metrics.source: prometheus``). Each step is idempotent and reports "ok" when
there was nothing to do, so a second run changes nothing and takes seconds.

Modules: ``commands`` (pure argv/text builders and parsers), ``steps`` (Step, apt),
``syslibs`` (shared libraries Python dependencies load), ``engine`` (dockerd, compose), ``rootfs`` (debootstrap -> cached tarball -> docker import),
``images`` (base, nginx, app images), ``hosts`` (the server steps on remote hosts over SSH, as root).
"""
from __future__ import annotations

from typing import Callable

from ..host import Host
from .engine import DOCKERD_LOG, ensure_compose_v2, ensure_docker_engine, ensure_docker_group
from .images import (
    BASE_IMAGE,
    BASE_PACKAGES,
    NGINX_IMAGE,
    PROMETHEUS_IMAGE,
    ensure_app_image,
    ensure_base_image,
    ensure_nginx_image,
    ensure_prometheus_image,
)
from .rootfs import CACHE_DIR
from .steps import Apt, Progress, Step, no_progress
from .syslibs import ensure_system_libraries

__all__ = [
    "BASE_IMAGE", "BASE_PACKAGES", "CACHE_DIR", "DOCKERD_LOG", "NGINX_IMAGE", "PROMETHEUS_IMAGE", "Apt", "Progress", "Step",
    "bootstrap", "no_progress", "server_steps",
    "ensure_app_image", "ensure_base_image", "ensure_compose_v2", "ensure_docker_engine", "ensure_docker_group",
    "ensure_nginx_image", "ensure_prometheus_image", "ensure_system_libraries",
]


def server_steps(host: Host, progress: Progress = no_progress, *, apt: Apt | None = None
                 ) -> list[tuple[str, Callable[[], Step]]]:
    """(name, run) of each step that makes ``host`` run containers: libraries, engine, compose v2.

    Not run yet: the caller runs them in order and may report each as it ends.
    """
    apt = apt or Apt(host, progress)  # shared so `apt-get update` runs at most once
    return [
        ("system libraries", lambda: ensure_system_libraries(host, progress, apt=apt)),
        ("docker engine", lambda: ensure_docker_engine(host, progress, apt=apt)),
        ("compose v2", lambda: ensure_compose_v2(host, progress, apt=apt)),
    ]


def bootstrap(
    host: Host,
    *,
    app_image: str,
    nginx_image: str = NGINX_IMAGE,
    app_dir: str,
    base_image: str = BASE_IMAGE,
    progress: Progress = no_progress,
    prometheus_image: str | None = None,
) -> list[Step]:
    """Run every step in order on ``host``; return their outcomes. Raises on the first failure.

    ``prometheus_image`` (given when the manifest's metrics come from Prometheus) adds that image;
    without it no time is spent on an image the stack does not run.
    """
    apt = Apt(host, progress)  # shared so `apt-get update` runs at most once
    steps = [run() for _, run in server_steps(host, progress, apt=apt)]
    steps += [
        ensure_base_image(host, base_image, BASE_PACKAGES, progress, apt=apt),
        ensure_nginx_image(host, nginx_image, progress, apt=apt),
        ensure_app_image(host, app_image, app_dir, base_image, progress),
    ]
    if prometheus_image:
        steps.append(ensure_prometheus_image(host, prometheus_image, progress, apt=apt))
    return steps
