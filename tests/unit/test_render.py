"""swiftlib.render: golden files and the structure of what is rendered (pure Python).

The real `nginx -t`, nginx serving a rendered body and `docker compose config` on the
rendered files are in tests/integration/test_render_real.py.

Goldens: tests/fixtures/render/manifest.yaml rendered with templates/ must equal
tests/fixtures/render/expected/* byte for byte. After an intended template change run
``REGENERATE_GOLDENS=1 python3 -m pytest tests/unit/test_render.py`` and review the diff.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from swiftlib.errors import SwiftDeployError
from swiftlib.manifest.load import load_manifest
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


def test_every_container_is_limited_and_least_privileged():
    """Memory (no swap beyond it) and process limits from the manifest on every container; nginx keeps
    only what starting its worker needs, NET_BIND_SERVICE only for a port below 1024."""
    every = load_manifest(Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "good" / "every_field.yaml")
    services = yaml.safe_load(render_all(every, TEMPLATES, include_opa=True)[COMPOSE_FILE])["services"]
    wanted = {"app": ("512m", 200), "app-canary": ("512m", 200), "nginx": ("64m", 32), "opa": ("1g", 300),
              "prometheus": ("2048m", 400)}
    assert set(services) == set(wanted)
    for name, (memory, pids) in wanted.items():
        svc = services[name]
        assert (svc["mem_limit"], svc["memswap_limit"], svc["pids_limit"]) == (memory, memory, pids), name
        assert svc["cap_drop"] == ["ALL"] and "no-new-privileges:true" in svc["security_opt"], name
        assert svc["read_only"] is True, name
        assert svc.get("user") not in (None, "0", "root", "0:0") or name == "nginx", name
    assert services["nginx"]["cap_add"] == ["CHOWN", "SETGID", "SETUID", "NET_BIND_SERVICE"]  # nginx.port: 80
    for track in ("app", "app-canary"):  # both tracks are checked alike, as services.healthcheck says
        assert services[track]["healthcheck"] == {"test": ["CMD", "python3", "/app/healthcheck.py"], "interval": "5s",
                                                  "timeout": "4s", "retries": 6, "start_period": "30s"}, track
    default = yaml.safe_load(render_all(load_manifest(ROOT / "manifest.yaml"), TEMPLATES,
                                        include_opa=False)[COMPOSE_FILE])["services"]
    assert default["nginx"]["cap_add"] == ["CHOWN", "SETGID", "SETUID"]  # 8080 and 8081 need no capability
    assert (default["nginx"]["mem_limit"], default["nginx"]["pids_limit"]) == ("128m", 64)


# -- nginx.conf --------------------------------------------------------------------------

def test_nginx_conf_has_the_required_lines(rendered):
    conf = rendered["opa"][NGINX_FILE]
    lines = [line.strip() for line in conf.splitlines()]
    for wanted in [
        "log_format swiftdeploy '$time_iso8601 | $status | ${request_time}s | $upstream_addr | $request';",
        "add_header X-Deployed-By swiftdeploy always;",
        "proxy_pass_header X-Mode;",
        "server_tokens off;",
        "proxy_connect_timeout 2s;",  # at most 2 s: a task that does not answer a connect is gone
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


def test_rendering_again_in_one_process_follows_an_edited_template(manifest, tmp_path):
    """Rendered files are remembered per process, but never past a change to a template."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    first = render_all(manifest, templates, include_opa=True)
    assert render_all(manifest, templates, include_opa=True) == first
    nginx_template = next(templates.glob("nginx.conf*"))
    nginx_template.write_text("# edited by hand\n" + nginx_template.read_text())
    again = render_all(manifest, templates, include_opa=True)
    assert again[NGINX_FILE].startswith("# edited by hand\n") and not first[NGINX_FILE].startswith("# edited")
    again[NGINX_FILE] = "mutated by a caller"
    assert render_all(manifest, templates, include_opa=True)[NGINX_FILE].startswith("# edited by hand\n")
