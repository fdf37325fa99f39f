"""The images a deployment needs, made without Docker Hub when it cannot be reached.

- the Python base (Debian's python3 + flask + prometheus-client + gunicorn),
- nginx (pulled if the registry answers, else Debian's nginx-light imported from a debootstrap),
- the app, built from app/ on a base, labelled with a digest of app/ so an unchanged app is not rebuilt,
- Prometheus, only for `metrics.source: prometheus` (pulled, else Debian's prometheus package, as nginx).
"""
from __future__ import annotations

from typing import Sequence

from ..errors import CommandFailed
from ..host import Host
from . import commands as cmd
from .rootfs import RECIPE_LABEL, Recipe, drop_replaced, import_image, inspect_image
from .steps import Apt, Progress, Step, Timer, no_progress

BASE_IMAGE = "swiftdeploy/python-base:bookworm"
BASE_PACKAGES = ("python3", "python3-flask", "python3-prometheus-client", "gunicorn")
NGINX_IMAGE = "swiftdeploy/nginx:bookworm"
# curl lets a compose healthcheck make a real HTTP request (bash's /dev/tcp also works).
NGINX_PACKAGES = ("nginx-light", "curl")
PROMETHEUS_IMAGE = "prom/prometheus:v2.53.3"
PROMETHEUS_PACKAGES = ("prometheus",)
# The Docker Hub image's user and data directory; compose runs either image the same way.
PROMETHEUS_DATA = "/prometheus"
PREFERRED_APP_BASE = "python:3.12-slim"
APP_HASH_LABEL = "org.swiftdeploy.app-hash"
APP_BASE_LABEL = "org.swiftdeploy.app-base"
PULL_TIMEOUT = 20.0

_ENV = (f"ENV PATH={cmd.STANDARD_PATH}", "ENV LANG=C.UTF-8")


def base_recipe(packages: Sequence[str] = BASE_PACKAGES) -> Recipe:
    return Recipe(
        packages=tuple(packages),
        changes=(*_ENV, "ENV PYTHONDONTWRITEBYTECODE=1", 'CMD ["python3"]'),
        labels=(("org.opencontainers.image.description", "Debian bookworm minbase with " + " ".join(packages)),),
    )


def nginx_recipe() -> Recipe:
    return Recipe(
        packages=NGINX_PACKAGES,
        changes=(*_ENV, 'CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 80"),
        dockerfile_lines=("STOPSIGNAL SIGQUIT",),
        labels=(("org.opencontainers.image.description",
                 "nginx built locally from Debian bookworm's nginx-light package (not the Docker Hub image)"),),
        # Like the official image: the default logs go to the container's stdout/stderr.
        tweaks=(("ln", "-sf", "/dev/stdout", "{root}/var/log/nginx/access.log"),
                ("ln", "-sf", "/dev/stderr", "{root}/var/log/nginx/error.log")),
    )


def prometheus_recipe() -> Recipe:
    """Debian's prometheus package laid out like the Docker Hub image: /bin/prometheus, user nobody, /prometheus."""
    return Recipe(
        packages=PROMETHEUS_PACKAGES,
        changes=(*_ENV, 'ENTRYPOINT ["/bin/prometheus"]',
                 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
                 "EXPOSE 9090", "USER nobody", f"WORKDIR {PROMETHEUS_DATA}"),
        labels=(("org.opencontainers.image.description",
                 "Prometheus built locally from Debian bookworm's prometheus package (not the Docker Hub image)"),),
        tweaks=(("mkdir", "-p", "{root}" + PROMETHEUS_DATA), ("chown", "65534:65534", "{root}" + PROMETHEUS_DATA),
                # 210 MB of per-zone files the web UI never loads (it uses moment-timezone-with-data.min.js).
                ("rm", "-rf", "{root}/usr/share/javascript/moment-timezone/data")),
    )


def ensure_base_image(
    host: Host, name: str = BASE_IMAGE, packages: Sequence[str] = BASE_PACKAGES,
    progress: Progress = no_progress, *, apt: Apt | None = None,
) -> Step:
    """``name`` exists and was made from this package list; else debootstrap + import it."""
    timer = Timer()
    recipe = base_recipe(packages)
    found = inspect_image(host, name)
    if found and found["labels"].get(RECIPE_LABEL) == recipe.digest:
        return timer.step("base image", "ok", f"{name} present ({cmd.human_size(found['size'])})")
    info = import_image(host, name, recipe, progress, apt or Apt(host, progress))
    return timer.step("base image", "changed",
                      f"built {name} from Debian packages {', '.join(packages)} ({cmd.human_size(info.get('size', 0))})")


def try_pull(host: Host, name: str, progress: Progress, timeout: float = PULL_TIMEOUT) -> bool:
    """Pull ``name``, giving up after ``timeout`` seconds (the registry may be unreachable)."""
    progress(f"docker pull {name} (giving up after {timeout:.0f}s)")
    try:
        return host.run(cmd.docker_pull_argv(name), check=False, timeout=timeout).ok
    except CommandFailed:  # timed out
        return False


def ensure_nginx_image(
    host: Host, name: str = NGINX_IMAGE, progress: Progress = no_progress, *,
    apt: Apt | None = None, pull_timeout: float = PULL_TIMEOUT,
) -> Step:
    """``name`` exists locally: pulled if the registry answers, else built from Debian's nginx package."""
    return _pulled_or_debian(host, name, nginx_recipe(), "nginx image", "nginx", progress, apt, pull_timeout)


def ensure_prometheus_image(
    host: Host, name: str = PROMETHEUS_IMAGE, progress: Progress = no_progress, *,
    apt: Apt | None = None, pull_timeout: float = PULL_TIMEOUT,
) -> Step:
    """``name`` exists locally: pulled if the registry answers, else built from Debian's prometheus package."""
    return _pulled_or_debian(host, name, prometheus_recipe(), "prometheus image", "prometheus", progress, apt,
                             pull_timeout)


def _pulled_or_debian(host: Host, name: str, recipe: Recipe, step: str, package: str, progress: Progress,
                      apt: Apt | None, pull_timeout: float) -> Step:
    """A registry image if one is (or can be) here, else ``recipe`` imported from Debian under the same name.

    An image we built ourselves is rebuilt when its recipe changed; one that was pulled is left alone.
    """
    timer = Timer()
    found = inspect_image(host, name)
    made_here = found and RECIPE_LABEL in found["labels"]
    if found and (not made_here or found["labels"][RECIPE_LABEL] == recipe.digest):
        origin = f" (built locally from Debian's {package} package)" if made_here else ""
        return timer.step(step, "ok", f"{name} present{origin} ({cmd.human_size(found['size'])})")
    if not made_here and try_pull(host, name, progress, pull_timeout):
        return timer.step(step, "changed", f"pulled {name}")
    info = import_image(host, name, recipe, progress, apt or Apt(host, progress))
    why = "recipe changed; rebuilt" if made_here else "registry unreachable; built"
    return timer.step(step, "changed",
                      f"{why} {name} from Debian's {package} package ({cmd.human_size(info.get('size', 0))})")


def app_digest(host: Host, app_dir: str) -> str:
    return host.shell(cmd.tree_digest_cmdline(app_dir), timeout=60).stdout.strip()


def ensure_app_image(
    host: Host, name: str, app_dir: str, base_image: str = BASE_IMAGE, progress: Progress = no_progress,
    *, preferred_base: str = PREFERRED_APP_BASE, pull_timeout: float = PULL_TIMEOUT,
) -> Step:
    """``name`` was built from the current content of ``app_dir`` on a base image that still exists.

    Uses ``preferred_base`` (the Dockerfile's default) when it is local or pulls quickly,
    else ``base_image`` (the Debian base, which must exist: see ensure_base_image).
    """
    timer = Timer()
    digest = app_digest(host, app_dir)
    found = inspect_image(host, name)
    if found and found["labels"].get(APP_HASH_LABEL) == digest:
        recorded_base, _, recorded_id = found["labels"].get(APP_BASE_LABEL, "").partition("@")
        base_now = inspect_image(host, recorded_base) if recorded_base else None
        if base_now and base_now["id"] == recorded_id:
            return timer.step("app image", "ok",
                              f"{name} up to date with {app_dir} on {recorded_base} ({cmd.human_size(found['size'])})")
    candidates = [base_image]
    if inspect_image(host, preferred_base) or try_pull(host, preferred_base, progress, pull_timeout):
        candidates.insert(0, preferred_base)
    failure: CommandFailed | None = None
    for base in candidates:
        base_info = inspect_image(host, base)
        if not base_info:
            continue
        progress(f"docker build {name} on {base}")
        labels = {APP_HASH_LABEL: digest, APP_BASE_LABEL: f"{base}@{base_info['id']}"}
        try:
            host.run(cmd.docker_build_argv(name, app_dir, build_args={"BASE_IMAGE": base}, labels=labels),
                     timeout=1200)
        except CommandFailed as exc:
            failure = exc
            continue
        built = inspect_image(host, name) or {}
        drop_replaced(host, found, built)
        size = built.get("size", 0)
        note = "" if base == preferred_base else f" ({preferred_base} not available)"
        return timer.step("app image", "changed", f"built {name} on {base}{note} ({cmd.human_size(size)})")
    if failure:
        raise failure
    raise CommandFailed(
        f"docker build {name}", None, f"no base image: neither {preferred_base} nor {base_image} exists",
        host=host.name, hint="run the whole bootstrap, which builds the Debian base image first",
    )
