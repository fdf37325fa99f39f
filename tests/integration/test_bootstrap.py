"""swiftlib.bootstrap on the real machine: engine, compose v2, Debian-built images, idempotence.

Runs as root against the real dockerd (started by `inv bootstrap` before the suite, so
the engine step is "ok" here; a fresh CI machine exercises the install/start path there).
"""
from __future__ import annotations

import secrets
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from invoke import Context

from swiftlib.bootstrap import (
    BASE_IMAGE,
    NGINX_IMAGE,
    Step,
    bootstrap,
    ensure_app_image,
    ensure_docker_engine,
    ensure_nginx_image,
)
from swiftlib.bootstrap.commands import parse_compose_version
from swiftlib.bootstrap.images import APP_HASH_LABEL
from swiftlib.bootstrap.rootfs import BUILT_FROM_LABEL, inspect_image
from swiftlib.bootstrap.steps import require_root
from swiftlib.errors import ConfigError
from swiftlib.host import Host

pytestmark = pytest.mark.docker

APP_DIR = Path(__file__).resolve().parents[2] / "app"
APP_IMAGE = "swiftdeploy-app:bootstrap-test"
STEP_NAMES = ["system libraries", "docker engine", "compose v2", "base image", "nginx image", "app image"]
MINIMAL_NGINX_CONF = """\
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  client_body_temp_path /tmp/client_temp;
  proxy_temp_path /tmp/proxy_temp;
  fastcgi_temp_path /tmp/fastcgi_temp;
  uwsgi_temp_path /tmp/uwsgi_temp;
  scgi_temp_path /tmp/scgi_temp;
  access_log /dev/stdout;
  server { listen 8080; location /healthz { return 200 "ok\\n"; } }
}
"""


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def runs() -> tuple[list[Step], list[Step], float]:
    """Bootstrap twice in a row: (first run's steps, second run's steps, second run's seconds)."""
    host = Host.local()
    first = bootstrap(host, app_image=APP_IMAGE, nginx_image=NGINX_IMAGE, app_dir=str(APP_DIR))
    start = time.monotonic()
    second = bootstrap(host, app_image=APP_IMAGE, nginx_image=NGINX_IMAGE, app_dir=str(APP_DIR))
    yield first, second, time.monotonic() - start
    docker("image", "rm", APP_IMAGE, check=False)


def test_every_step_runs_in_order(runs):
    first, _, _ = runs
    assert [s.name for s in first] == STEP_NAMES
    assert all(s.status in ("ok", "changed") and s.message for s in first)


def test_engine_answers_and_compose_is_v2(runs):
    assert docker("info", "--format", "{{.ServerVersion}}").stdout.strip()
    version = parse_compose_version(docker("compose", "version").stdout)
    assert version and version[0] >= 2


def test_second_run_is_all_ok_and_takes_seconds(runs):
    _, second, seconds = runs
    assert [(s.name, s.status) for s in second] == [(name, "ok") for name in STEP_NAMES]
    # Every step "ok" proves nothing was rebuilt; the bound only catches a hang (it takes ~1 s idle).
    assert seconds < 60, f"an idempotent bootstrap took {seconds:.1f}s"


def test_app_image_is_small_and_runs_as_uid_10001(runs):
    info = inspect_image(Host.local(), APP_IMAGE)
    assert info, f"{APP_IMAGE} was not built"
    assert info["size"] < 300_000_000, f"{APP_IMAGE} is {info['size'] / 1e6:.0f} MB"
    assert APP_HASH_LABEL in info["labels"]
    out = docker("run", "--rm", "--entrypoint", "id", APP_IMAGE).stdout
    assert out.startswith("uid=10001"), out
    imports = docker("run", "--rm", "--entrypoint", "python3", APP_IMAGE,
                     "-c", "import flask, prometheus_client, gunicorn; print('ok')")
    assert imports.stdout.strip() == "ok"


def test_nginx_image_passes_nginx_t_with_a_minimal_config(runs, tmp_path: Path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(MINIMAL_NGINX_CONF)
    conf.chmod(0o644)
    result = docker("run", "--rm", "-v", f"{conf}:/etc/nginx/nginx.conf:ro", NGINX_IMAGE, "nginx", "-t",
                    check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_image_serves_as_a_non_root_user_and_has_curl_for_healthchecks(runs, tmp_path: Path):
    conf = tmp_path / "nginx.conf"
    conf.write_text(MINIMAL_NGINX_CONF)
    conf.chmod(0o644)
    cid = docker("run", "-d", "--user", "10001:10001", "--read-only", "--tmpfs", "/tmp",
                 "-v", f"{conf}:/etc/nginx/nginx.conf:ro", NGINX_IMAGE).stdout.strip()
    try:
        for _ in range(50):
            probe = docker("exec", cid, "curl", "-fsS", "http://127.0.0.1:8080/healthz", check=False)
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        assert probe.stdout == "ok\n", probe.stderr
        config = docker("image", "inspect", "--format", "{{json .Config.StopSignal}} {{json .Config.Cmd}}",
                        NGINX_IMAGE).stdout.strip()
        assert config == '"SIGQUIT" ["nginx","-g","daemon off;"]'
    finally:
        docker("rm", "-f", cid, check=False)


def test_missing_nginx_image_falls_back_to_debian_quickly():
    """A name no registry serves here: the pull fails fast and the cached Debian rootfs is imported."""
    name = f"swiftdeploy-test/nginx:{secrets.token_hex(4)}"
    try:
        start = time.monotonic()
        step = ensure_nginx_image(Host.local(), name, pull_timeout=20)
        assert step.status == "changed"
        assert "built" in step.message and "Debian" in step.message, step.message
        # The pull gives up within pull_timeout (not the minutes a hung registry would take); the
        # import and build after it are seconds idle, tens of seconds on a busy disk.
        assert time.monotonic() - start < 20 + 100
        labels = inspect_image(Host.local(), name)["labels"]
        assert "nginx-light" in labels[BUILT_FROM_LABEL]
        assert ensure_nginx_image(Host.local(), name).status == "ok"
    finally:
        docker("image", "rm", name, check=False)


def test_app_image_is_rebuilt_when_app_changes_and_only_then(runs, tmp_path: Path):
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    token = secrets.token_hex(4)
    name = f"swiftdeploy-test/app:{token}"
    with (app / "app_settings.py").open("a") as handle:  # an image no other tag shares
        handle.write(f"\n# bootstrap test {token}\n")
    host = Host.local()
    try:
        assert ensure_app_image(host, name, str(app), BASE_IMAGE).status == "changed"
        assert ensure_app_image(host, name, str(app), BASE_IMAGE).status == "ok"
        (app / "__pycache__").mkdir(exist_ok=True)
        (app / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
        assert ensure_app_image(host, name, str(app), BASE_IMAGE).status == "ok"
        with (app / "app_settings.py").open("a") as handle:
            handle.write("\n# changed by the bootstrap test\n")
        first_id = inspect_image(host, name)["id"]
        assert ensure_app_image(host, name, str(app), BASE_IMAGE).status == "changed"
        assert inspect_image(host, name)["id"] != first_id
        assert docker("image", "inspect", first_id, check=False).returncode != 0, "the replaced image is removed"
    finally:
        docker("image", "rm", name, check=False)


class _AsNobody:
    """An Invoke runner that runs every command as the unprivileged user nobody (a real non-root host)."""

    def __init__(self) -> None:
        self._ctx = Context()

    def run(self, command: str, **kwargs):
        wrapped = shlex.join(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              "sh", "-c", command])
        return self._ctx.run(wrapped, **kwargs)


def test_a_user_who_cannot_reach_the_running_engine_is_told_what_to_do():
    host = Host(_AsNobody(), name="nobody@local")
    assert not host.succeeds(["docker", "info"]), "nobody must not reach the root-owned docker socket"
    with pytest.raises(ConfigError, match="docker group") as caught:
        ensure_docker_engine(host)
    assert caught.value.exit_code == 2


def test_installing_as_a_non_root_user_says_root_is_needed():
    host = Host(_AsNobody(), name="nobody@local")
    with pytest.raises(ConfigError, match="needs root on host nobody@local"):
        require_root(host, "installing docker compose v2")
    require_root(Host.local(), "anything")  # root passes
