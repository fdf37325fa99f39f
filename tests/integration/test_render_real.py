"""The rendered files as the real programs read them: `nginx -t`, nginx serving a rendered
JSON body, `docker compose config` (moved here from tests/unit/test_render.py, which
needs nothing outside Python) and `docker stack config` on the swarm stack file. Each test is marked with what it needs; a missing nginx or
Docker fails it, naming what to install.
"""
from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from swiftlib.commands import compose_config_check, nginx_test_local
from swiftlib.manifest.load import load_manifest
from swiftlib.render import COMPOSE_FILE, NGINX_FILE, nginx_json, render_all
from tests.conftest import REPO, nginx_binary

TEMPLATES = REPO / "templates"
FIXTURES = REPO / "tests" / "fixtures" / "render"
VARIANTS = {"opa": True, "no-opa": False}


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, str]]:
    manifest = load_manifest(FIXTURES / "manifest.yaml")
    return {v: render_all(manifest, TEMPLATES, include_opa=flag) for v, flag in VARIANTS.items()}


@pytest.mark.docker
@pytest.mark.parametrize("variant", VARIANTS)
def test_real_docker_compose_accepts_the_rendered_file(rendered, tmp_path: Path, variant):
    (tmp_path / COMPOSE_FILE).write_text(rendered[variant][COMPOSE_FILE], encoding="utf-8")
    (tmp_path / "policies").mkdir()
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0, "docker compose v2 is required (installed by .ci/run)"
    done = subprocess.run(compose_config_check(str(tmp_path), "swiftdeploy"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.docker
@pytest.mark.parametrize("variant", VARIANTS)
def test_real_compose_hashes_a_file_and_the_same_text_on_stdin_alike(rendered, tmp_path: Path, variant):
    """The compose runtime asks for `config --hash` once per compose text, whether the text came on stdin
    (what a run would write) or from the written file: that holds only while compose answers the same."""
    from swiftlib.commands import compose_config_hash

    text = rendered[variant][COMPOSE_FILE]
    (tmp_path / COMPOSE_FILE).write_text(text, encoding="utf-8")
    (tmp_path / "policies").mkdir()
    from_file, from_stdin = (
        subprocess.run(compose_config_hash(str(tmp_path), "swiftdeploy", "*", from_stdin=stdin), input=text,
                       capture_output=True, text=True, timeout=60) for stdin in (False, True))
    assert from_file.returncode == 0 and from_stdin.returncode == 0, from_file.stderr + from_stdin.stderr
    assert from_file.stdout == from_stdin.stdout and "app " in from_file.stdout


@pytest.mark.docker
def test_real_docker_compose_accepts_the_prometheus_service(tmp_path: Path):
    """metrics.source: prometheus adds a service (tmpfs options, loopback port) compose must accept too."""
    from swiftlib.manifest.model import build_manifest, deep_merge
    from swiftlib.manifest.load import load_raw

    manifest = build_manifest(deep_merge(load_raw(FIXTURES / "manifest.yaml"), {"metrics": {"source": "prometheus"}}))
    for name, text in render_all(manifest, TEMPLATES, include_opa=True).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "policies").mkdir()
    done = subprocess.run(compose_config_check(str(tmp_path), "swiftdeploy"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.nginx
@pytest.mark.parametrize("variant", VARIANTS)
def test_real_nginx_accepts_the_rendered_config(rendered, tmp_path: Path, variant):
    for name, text in rendered[variant].items():  # nginx.conf includes nginx.d/traffic.conf beside it
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    argv = nginx_test_local(str(tmp_path / NGINX_FILE))
    argv[0] = nginx_binary()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.mark.nginx
def test_real_nginx_rejects_a_broken_config(tmp_path: Path):
    conf = tmp_path / NGINX_FILE
    conf.write_text("events {}\nhttp { server { listen 80 } }\n")
    argv = nginx_test_local(str(conf))
    argv[0] = nginx_binary()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0  # proves the test above can fail


@pytest.mark.nginx
def test_real_nginx_serves_an_nginx_json_body_unchanged(tmp_path: Path):
    """The escaping is checked by nginx itself: what it serves parses back to the value."""
    value = {"contact": "it's \"quoted\" \\ back#slash", "lines": "a\nb", "u": "é"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp = " ".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "serve.conf"
    conf.write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ access_log off; {temp}\n"
        f"  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json;\n"
        f"    return 200 {nginx_json(value)}; }} }} }}\n"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    proc = subprocess.Popen([nginx_binary(), "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with opener.open(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    body = answer.read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert json.loads(body) == value


# -- the stack file (deploy.runtime: swarm) ------------------------------------------------------

STACK_LABEL = "0123456789abcdef"  # the secrets' fingerprint, as lifecycle.secret_files gives it


def stack_check(path: Path) -> list[str]:
    """`docker stack config -c FILE` where the CLI has it (Docker 24+ does; it validates against the same
    compose-format schema as Docker 20.10's `stack deploy`), else `docker compose -f FILE config -q`."""
    usage = subprocess.run(["docker", "stack", "--help"], capture_output=True, text=True, timeout=30)
    if any(line.split()[:1] == ["config"] for line in usage.stdout.splitlines()):
        return ["docker", "stack", "config", "-c", str(path)]
    return ["docker", "compose", "-f", str(path), "config", "-q"]


def rendered_stack(tmp_path: Path, **changes) -> Path:
    from swiftlib.manifest.model import build_manifest, deep_merge
    from swiftlib.manifest.load import load_raw

    manifest = build_manifest(deep_merge(load_raw(FIXTURES / "stack.yaml"), changes))
    files = render_all(manifest, TEMPLATES, include_opa=False, bridge=True, secrets_label=STACK_LABEL,
                       project_dir=str(tmp_path))
    path = tmp_path / COMPOSE_FILE
    path.write_text(files[COMPOSE_FILE], encoding="utf-8")
    return path


@pytest.mark.docker
@pytest.mark.parametrize("changes", [{}, {"tls": {"source": "local", "hosts": ["shop.example.com"]},
                                         "deploy": {"swarm": {"endpoint_mode": "vip", "encrypted_network": False}}}],
                         ids=["canary-secrets", "tls-vip"])
def test_real_docker_accepts_the_rendered_stack_file(tmp_path: Path, changes):
    done = subprocess.run(stack_check(rendered_stack(tmp_path, **changes)), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.docker
def test_real_docker_refuses_a_stack_file_it_cannot_read(tmp_path: Path):
    """Proves the test above can fail; and, where `docker stack config` checks, that format 3.8 has no
    pids limit (the reason the stack file sets none)."""
    path = rendered_stack(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("      replicas: 3\n", "      replica: 3\n", 1), encoding="utf-8")
    argv = stack_check(path)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "replica" in done.stderr
    if argv[1] == "stack":
        path.write_text(text.replace('          memory: "384m"\n', '          memory: "384m"\n          pids: 128\n', 1),
                        encoding="utf-8")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "pids" in done.stderr


@pytest.mark.docker
def test_the_real_engine_names_its_version_and_its_compose_plugin():
    """What a remembered `docker compose config` pass is keyed on: `<engine version>|<compose version> <path>`.
    Without the compose part every deploy would run the check again (never pass a stale one)."""
    from swiftlib.commands import engine_identity

    done = subprocess.run(engine_identity(), capture_output=True, text=True, timeout=30)
    engine, _, compose = done.stdout.strip().partition("|")
    version = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and engine and compose.split()[0] == version.stdout.strip().lstrip("v"), done.stdout
