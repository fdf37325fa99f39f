"""swiftlib.render: golden files, the structure of what is rendered, and the real `nginx -t`.

Goldens: tests/fixtures/render/manifest.yaml rendered with templates/ must equal
tests/fixtures/render/expected/* byte for byte. After an intended template change run
``REGENERATE_GOLDENS=1 python3 -m pytest tests/unit/test_render.py`` and review the diff.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from swiftlib.commands import compose_config_check, nginx_test_local
from swiftlib.errors import SwiftDeployError
from swiftlib.manifest_file import load_manifest
from swiftlib.render import COMPOSE_FILE, NGINX_FILE, compare, nginx_json, nginx_str, render_all, yaml_str
from swiftlib.tracks import TRAFFIC_FILE

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FIXTURES = ROOT / "tests" / "fixtures" / "render"
EXPECTED = FIXTURES / "expected"
REGENERATE = os.environ.get("REGENERATE_GOLDENS") == "1"
VARIANTS = {"opa": True, "no-opa": False}


def golden_name(file_name: str, variant: str) -> str:
    stem, ext = file_name.replace("/", "_").rsplit(".", 1)
    return f"{stem}.{variant}.{ext}"


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(FIXTURES / "manifest.yaml")


@pytest.fixture(scope="module")
def rendered(manifest) -> dict[str, dict[str, str]]:
    return {v: render_all(manifest, TEMPLATES, include_opa=flag) for v, flag in VARIANTS.items()}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("file_name", [COMPOSE_FILE, NGINX_FILE, TRAFFIC_FILE])
def test_render_matches_golden(rendered, variant: str, file_name: str):
    golden = EXPECTED / golden_name(file_name, variant)
    text = rendered[variant][file_name]
    if REGENERATE:
        golden.write_bytes(text.encode("utf-8"))
    assert text.encode("utf-8") == golden.read_bytes(), f"{golden.name} differs; see module docstring"


def test_rendering_twice_is_byte_identical(manifest, rendered):
    for variant, flag in VARIANTS.items():
        assert render_all(manifest, TEMPLATES, include_opa=flag) == rendered[variant]


def test_nginx_conf_does_not_depend_on_opa(rendered):
    assert rendered["opa"][NGINX_FILE] == rendered["no-opa"][NGINX_FILE]


# -- docker-compose.yml ------------------------------------------------------------------

def published_host_ips(service: dict) -> list[str]:
    """The host address each `ports` entry binds ('' = every interface)."""
    out = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        out.append(parts[0] if len(parts) == 3 else "")
    return out


@pytest.mark.parametrize("variant", VARIANTS)
def test_compose_app_is_hardened_and_never_published(rendered, manifest, variant):
    doc = yaml.safe_load(rendered[variant][COMPOSE_FILE])
    # The fixture is in canary mode: the canary runs beside stable, both hardened alike.
    for service, mode in (("app", "stable"), ("app-canary", "canary")):
        app = doc["services"][service]
        assert "ports" not in app
        assert app["expose"] == [str(manifest.services.port)]
        assert app["user"] == "10001:10001"
        assert app["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in app["security_opt"]
        assert app["environment"] == {"MODE": mode, "APP_VERSION": "1.0.0", "APP_PORT": "3000"}
        assert app["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
        assert app["networks"] == ["yes"]
    assert list(doc["networks"]) == ["yes"]  # a string, not True
    assert list(doc["volumes"]) == ["1.0"] and doc["volumes"]["1.0"]["name"] == "1.0"


@pytest.mark.parametrize("variant", VARIANTS)
def test_compose_only_nginx_publishes_a_public_port(rendered, variant):
    services = yaml.safe_load(rendered[variant][COMPOSE_FILE])["services"]
    apps = {"app", "app-canary", "nginx"}
    assert set(services) == (apps | {"opa"} if variant == "opa" else apps)
    public = {name for name, svc in services.items() if any(ip != "127.0.0.1" for ip in published_host_ips(svc))}
    assert public == {"nginx"}
    nginx = services["nginx"]
    assert nginx["ports"] == ["8080:8080", "127.0.0.1:8081:8081"]
    assert nginx["depends_on"] == {"app": {"condition": "service_healthy"}}
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert "./nginx.d:/etc/nginx/nginx.d:ro" in nginx["volumes"]  # a directory: reloads see new splits
    assert "1.0:/var/log/nginx" in nginx["volumes"]


def test_compose_opa_is_loopback_only_and_read_only(rendered):
    opa = yaml.safe_load(rendered["opa"][COMPOSE_FILE])["services"]["opa"]
    assert opa["ports"] == ["127.0.0.1:8181:8181"]
    assert opa["command"] == ["run", "--server", "--addr=0.0.0.0:8181", "/policies"]
    assert opa["volumes"] == ["./policies:/policies:ro"]
    assert opa["cap_drop"] == ["ALL"]
    assert opa["image"] == "openpolicyagent/opa:1.4.2"


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_docker_compose_accepts_the_rendered_file(rendered, tmp_path: Path, variant):
    (tmp_path / COMPOSE_FILE).write_text(rendered[variant][COMPOSE_FILE], encoding="utf-8")
    (tmp_path / "policies").mkdir()
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0, "docker compose v2 is required (installed by .ci/run)"
    done = subprocess.run(compose_config_check(str(tmp_path), "swiftdeploy"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- nginx.conf --------------------------------------------------------------------------

def test_nginx_conf_has_the_required_lines(rendered):
    conf = rendered["opa"][NGINX_FILE]
    lines = [line.strip() for line in conf.splitlines()]
    for wanted in [
        "log_format swiftdeploy '$time_iso8601 | $status | ${request_time}s | $upstream_addr | $request';",
        "add_header X-Deployed-By swiftdeploy always;",
        "proxy_pass_header X-Mode;",
        "server_tokens off;",
        "proxy_connect_timeout 17s;",
        "proxy_send_timeout 17s;",
        "proxy_read_timeout 17s;",
        "listen 8080;",
        "listen 8081;",
    ]:
        assert wanted in lines, wanted


def test_nginx_error_bodies_are_json_with_the_contact(rendered):
    conf = rendered["opa"][NGINX_FILE]
    bodies = {}
    for code, literal in re.findall(r"return (50[234]) ('(?:[^'\\]|\\.)*');", conf):
        body = re.sub(r"\\(.)", r"\1", literal[1:-1])  # undo nginx's quoting
        bodies.setdefault(int(code), json.loads(body))
    assert set(bodies) == {502, 503, 504}
    for code, body in bodies.items():
        assert body["code"] == code and body["service"] == "swiftdeploy"
        assert body["contact"] == "https://status.example.com/ops?team=sre&page=1%20x#on-call"


def nginx_binary() -> str:
    found = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))
    assert found, "nginx is required for these tests (Debian: apt-get install nginx-light)"
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_real_nginx_accepts_the_rendered_config(rendered, tmp_path: Path, variant):
    for name, text in rendered[variant].items():  # nginx.conf includes nginx.d/traffic.conf beside it
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    argv = nginx_test_local(str(tmp_path / NGINX_FILE))
    argv[0] = nginx_binary()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_real_nginx_rejects_a_broken_config(tmp_path: Path):
    conf = tmp_path / NGINX_FILE
    conf.write_text("events {}\nhttp { server { listen 80 } }\n")
    argv = nginx_test_local(str(conf))
    argv[0] = nginx_binary()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0  # proves the test above can fail


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


# -- filters, compare() -------------------------------------------------------------------

@pytest.mark.parametrize(
    "value", ["yes", "no", "null", "~", "1.0", "0o17", "1e3", "@at", ": x", "# c", "- item", "a: b",
              "'single'", '"double"', "back\\slash", "new\nline", "tab\tx", "é ünïcode", "", "*anchor", "!tag"])
def test_yaml_str_round_trips_every_yaml_special_value(value):
    assert yaml.safe_load(f"key: {yaml_str(value)}\n") == {"key": value}


def test_yaml_str_quotes_numbers_as_strings():
    assert yaml_str(3000) == '"3000"'


@pytest.mark.parametrize("value", ["$host", "a$b", "${x}"])
def test_nginx_str_refuses_variables(value):
    with pytest.raises(SwiftDeployError, match="would be read as a variable"):
        nginx_str(value)


def test_nginx_str_escapes_quotes_and_backslashes():
    assert nginx_str("http://app:3000") == "'http://app:3000'"
    assert nginx_str("it's") == "'it\\'s'"
    assert nginx_str("a\\b") == "'a\\\\b'"


def test_nginx_json_escapes_quotes():
    literal = nginx_json({"msg": "say \"hi\" it's", "n": 1})
    assert literal == "'{\"msg\":\"say \\\\\"hi\\\\\" it\\'s\",\"n\":1}'"
    unquoted = re.sub(r"\\(.)", r"\1", literal[1:-1])
    assert json.loads(unquoted) == {"msg": "say \"hi\" it's", "n": 1}


def test_compare_reports_ok_or_a_unified_diff():
    assert compare("nginx.conf", "a\n", "a\n").status == "ok"
    assert compare("nginx.conf", "a\n", "a\n").diff == ""
    change = compare("nginx.conf", "a\nb\n", "a\nc\n")
    assert change.status == "changed"
    assert change.diff == (
        "--- nginx.conf (current)\n+++ nginx.conf (rendered)\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    )
    new = compare("docker-compose.yml", None, "x\n")
    assert new.status == "changed"
    assert new.diff.startswith("--- /dev/null\n+++ docker-compose.yml (rendered)\n")
