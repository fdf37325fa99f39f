"""The engine on a real Docker host: deploy, what nginx serves, promote round trip, teardown.

One stack is deployed for the module (deploying is the slow part) and the tests
run in file order against it, as a user would walk through it.
"""
from __future__ import annotations

import socket
import subprocess
import time

import pytest
import requests
import yaml

from tests.conftest import SWIFTDEPLOY, run_cli
from tests.integration.stack import Load, Traffic, container_id_and_start, docker, make_project, wait_for

pytestmark = pytest.mark.docker

PREFIX = "sdlife"
PORT = 18080


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("lifecycle"), prefix=PREFIX, base_port=PORT)
    yield path
    run_cli(path, "teardown", "--clean")


def url(path: str, port: int = PORT) -> str:
    return f"http://127.0.0.1:{port}{path}"


def test_deploy_brings_the_stack_up(manifest):
    result = run_cli(manifest, "deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TASK [policy: pre_deploy]" in result.stdout
    assert "PLAY RECAP" in result.stdout and "failed=0" in result.stdout
    answer = requests.get(url("/"), timeout=5)
    assert answer.status_code == 200
    assert answer.headers["X-Deployed-By"] == "swiftdeploy"
    body = answer.json()
    assert body["message"] == "Welcome to SwiftDeploy" and body["mode"] == "stable"
    assert "X-Mode" not in answer.headers
    assert (manifest.parent / "docker-compose.yml").is_file() and (manifest.parent / "nginx.conf").is_file()


def test_second_deploy_changes_nothing(manifest):
    result = run_cli(manifest, "deploy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout, result.stdout


def test_an_image_rebuilt_under_the_same_tag_is_handed_over_blue_green(manifest, tmp_path):
    """Compose recreates a container whose image ID changed under its tag; the deploy sees it too, so the
    new build takes over through the next track (0 failed requests), and the redeploy after it is ok."""
    tag = f"{PREFIX}-app:latest"
    docker("tag", "swiftdeploy-app:1.0.0", tag)
    original = manifest.read_text()
    doc = yaml.safe_load(original)
    doc["services"]["image"] = tag
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        assert run_cli(manifest, "deploy").returncode == 0
        (tmp_path / "Dockerfile").write_text("FROM swiftdeploy-app:1.0.0\nLABEL rebuilt=yes\n")
        subprocess.run(["docker", "build", "-q", "-t", tag, str(tmp_path)], check=True, capture_output=True)
        rebuilt = docker("image", "inspect", "--format", "{{.Id}}", tag)
        with Load(url("/"), rate=50) as load:
            load.wait_for(25)
            result = run_cli(manifest, "deploy")
            load.wait_for(len(load.results) + 25)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "TASK [start next]" in result.stdout, result.stdout
        assert load.dropped == [], load.dropped
        assert docker("inspect", "--format", "{{.Image}}", f"{PREFIX}-app") == rebuilt
        again = run_cli(manifest, "deploy")
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout
    finally:
        manifest.write_text(original)
        run_cli(manifest, "deploy")
        docker("rmi", tag, check=False)


def test_only_nginx_is_public(manifest):
    assert docker("port", f"{PREFIX}-app") == ""  # nothing published for the app
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 3000), timeout=2).close()
    published = docker("port", f"{PREFIX}-nginx").splitlines()
    assert any(line.endswith(f"0.0.0.0:{PORT}") for line in published), published
    admin = [line for line in published if line.startswith(f"{PORT + 1}/tcp")]
    assert admin and all("127.0.0.1:" in line for line in admin), published


def test_operator_endpoints_only_on_the_admin_port(manifest):
    public = requests.get(url("/metrics"), timeout=5)
    assert public.status_code == 404 and public.headers["Content-Type"].startswith("application/json")
    assert public.json()["error"] == "not found"
    assert requests.post(url("/chaos"), json={"mode": "recover"}, timeout=5).status_code == 404
    admin = requests.get(url("/metrics", PORT + 1), timeout=5)
    assert admin.status_code == 200 and "http_requests_total" in admin.text


def test_access_log_is_structured(manifest):
    requests.get(url("/healthz"), timeout=5)
    deadline = time.monotonic() + 10  # Docker copies a container's output to its log asynchronously
    while True:
        logs = docker("logs", "--tail", "20", f"{PREFIX}-nginx")
        lines = [line for line in logs.splitlines() if "GET /healthz" in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert lines, logs
    timestamp, status, took, upstream, request = lines[-1].split(" | ")
    assert status == "200" and took.endswith("s") and upstream.endswith(":3000")
    assert request.startswith("GET /healthz HTTP/1.1")


def test_stopped_app_gives_json_502_with_contact(manifest):
    docker("stop", "--time", "2", f"{PREFIX}-app")
    try:
        answer = wait_for(url("/"), lambda r: r.status_code == 502, timeout=30)
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.headers["X-Deployed-By"] == "swiftdeploy"
        assert answer.json() == {"error": "bad gateway", "code": 502, "service": "swiftdeploy",
                                 "contact": "oncall@example.com"}
        health = run_cli(manifest, "health", "--timeout", "3")
        assert health.returncode == 5 and "502" in health.stdout, health.stdout
    finally:
        docker("start", f"{PREFIX}-app")
    wait_for(url("/healthz"), lambda r: r.status_code == 200, timeout=60)


def test_promote_canary_then_stable(manifest):
    nginx_before = container_id_and_start(f"{PREFIX}-nginx")
    app_before = container_id_and_start(f"{PREFIX}-app")
    result = run_cli(manifest, "promote", "--mode", "canary")
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "canary"
    # The canary runs beside stable and takes its slice (canary.weight: 50 here); stable is not restarted.
    modes = [requests.get(url("/"), timeout=5).json()["mode"] for _ in range(200)]
    assert 60 <= modes.count("canary") <= 140 and modes.count("stable") >= 60, modes.count("canary")
    canary = requests.get(url("/tracks/canary/healthz", PORT + 1), timeout=5)
    assert canary.json()["mode"] == "canary"
    assert container_id_and_start(f"{PREFIX}-nginx") == nginx_before  # nginx reloaded, never restarted
    assert container_id_and_start(f"{PREFIX}-app") == app_before

    again = run_cli(manifest, "promote", "--mode", "canary")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout

    with Traffic(url("/")):
        result = run_cli(manifest, "promote", "--mode", "stable")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "canary: allow" in result.stdout
    assert requests.get(url("/healthz"), timeout=5).json()["mode"] == "stable"
    assert container_id_and_start(f"{PREFIX}-nginx") == nginx_before
    assert docker("ps", "-aq", "--filter", f"name=^{PREFIX}-app-canary$") == ""  # drained and removed


def test_status_dashboard_runs_until_ctrl_c(manifest):
    import signal
    import subprocess
    import sys

    once = run_cli(manifest, "status", "--once")
    assert once.returncode == 0, once.stdout + once.stderr
    assert "mode" in once.stdout and "ALLOW infrastructure" in once.stdout
    live = subprocess.Popen([*SWIFTDEPLOY, "status", "--manifest", str(manifest),
                             "--interval", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen, deadline = "", time.monotonic() + 90  # a loaded machine takes seconds a frame
        while seen.count("SwiftDeploy status") < 2 and time.monotonic() < deadline and live.poll() is None:
            seen += live.stdout.readline()
        live.send_signal(signal.SIGINT)
        out, errors = live.communicate(timeout=20)
    finally:
        live.kill()
    assert live.returncode == 0, errors
    assert (seen + out).count("SwiftDeploy status") >= 2  # it refreshed
    assert "Traceback" not in errors


def test_check_mode_touches_nothing(manifest):
    names = [f"{PREFIX}-app", f"{PREFIX}-nginx"]
    before = {name: container_id_and_start(name) for name in names}
    original = manifest.read_bytes()
    rendered = (manifest.parent / "nginx.conf").read_bytes()
    # A pending change: --check --diff must show it and write nothing.
    manifest.write_text(manifest.read_text().replace("proxy_timeout: 30", "proxy_timeout: 45"))
    edited = manifest.read_bytes()
    try:
        deploy = run_cli(manifest, "deploy", "--check", "--diff")
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        # nginx.conf changes, and with it the digest label that makes compose recreate nginx.
        assert "would change: docker-compose.yml, nginx.conf" in deploy.stdout
        assert "+    proxy_read_timeout 45s;" in deploy.stdout and "org.swiftdeploy.nginx-conf" in deploy.stdout
        assert f"changed: [local] => would recreate: {PREFIX}-nginx" in deploy.stdout  # as the real run will
        promote = run_cli(manifest, "promote", "--mode", "canary", "--check")
        assert promote.returncode == 0 and f"would start {PREFIX}-app-canary" in promote.stdout, promote.stdout
        assert "would move traffic to stable 50% / canary 50%" in promote.stdout
        teardown = run_cli(manifest, "teardown", "--check")
        assert teardown.returncode == 0 and "would remove" in teardown.stdout, teardown.stdout
        assert manifest.read_bytes() == edited
        assert (manifest.parent / "nginx.conf").read_bytes() == rendered
        assert {name: container_id_and_start(name) for name in names} == before
    finally:
        manifest.write_bytes(original)


def test_deploy_never_moves_a_canary_to_stable_past_the_gate(manifest):
    assert run_cli(manifest, "promote", "--mode", "canary").returncode == 0
    # As after a fleet promotion that other hosts passed: the shared manifest already says stable.
    manifest.write_text(manifest.read_text().replace("mode: canary", "mode: stable"))
    app_before = container_id_and_start(f"{PREFIX}-app")
    result = run_cli(manifest, "deploy")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "inv promote --mode stable" in result.stdout
    assert container_id_and_start(f"{PREFIX}-app") == app_before
    assert requests.get(url("/tracks/canary/healthz", PORT + 1), timeout=5).json()["mode"] == "canary"


def test_teardown_leaves_nothing(manifest):
    result = run_cli(manifest, "teardown")
    assert result.returncode == 0, result.stdout + result.stderr
    assert docker("ps", "-a", "--filter", f"label=com.docker.compose.project={PREFIX}", "--format", "{{.Names}}") == ""
    assert docker("network", "ls", "--filter", f"name=^{PREFIX}-net$", "--format", "{{.Name}}") == ""
    assert docker("volume", "ls", "--filter", f"name=^{PREFIX}-logs$", "--format", "{{.Name}}") == ""
    again = run_cli(manifest, "teardown", "--clean")
    assert again.returncode == 0 and not (manifest.parent / "docker-compose.yml").exists()
