"""The stack file: docker-compose.yml as `docker stack deploy` reads it, with deploy.runtime: swarm.

tests/fixtures/render/stack.yaml rendered with templates/ must equal
tests/fixtures/render/expected/docker-stack.yml byte for byte (regenerate as test_render.py says).
The rest reads the rendered YAML: which services run in each mode, what swarm is told about each,
and that a compose manifest still renders the compose file it did. `docker stack config` on the
rendered file is in tests/integration/test_render_real.py.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from swiftlib.errors import SwiftDeployError
from swiftlib.lifecycle import render_step
from swiftlib.lifecycle.context import Project, Target
from swiftlib.lifecycle.engine_choice import EngineChoice
from swiftlib.manifest.load import load_manifest, load_raw
from swiftlib.manifest.model import build_manifest, deep_merge
from swiftlib import render
from swiftlib.render import COMPOSE_FILE, NGINX_FILE, compose_template, render_all, swarm_secret_name
from swiftlib.tracks import TRAFFIC_FILE

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FIXTURES = ROOT / "tests" / "fixtures" / "render"
GOLDEN = FIXTURES / "expected" / "docker-stack.yml"
REGENERATE = os.environ.get("REGENERATE_GOLDENS") == "1"
LABEL = "0123456789abcdef"  # the secrets' keyed fingerprint, as lifecycle.secret_files would give it
PROJECT_DIR = "/srv/shop"


def stack_manifest(**changes):
    """The fixture's manifest with ``changes`` (sections) merged in."""
    return build_manifest(deep_merge(load_raw(FIXTURES / "stack.yaml"), changes))


def stack(manifest=None, *, bridge: bool = False, include_opa: bool = False, project_dir: str = PROJECT_DIR,
          secrets_label: str = LABEL) -> dict:
    files = render_all(manifest or stack_manifest(), TEMPLATES, include_opa=include_opa, bridge=bridge,
                       secrets_label=secrets_label, project_dir=project_dir)
    return yaml.safe_load(files[COMPOSE_FILE])


def seconds(duration: str) -> int:
    found = re.fullmatch(r"([0-9]+)s", duration)
    assert found, f"{duration!r} is not a whole number of seconds"
    return int(found.group(1))


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render_all(stack_manifest(), TEMPLATES, include_opa=False, secrets_label=LABEL, project_dir=PROJECT_DIR)


@pytest.fixture(scope="module")
def doc(rendered) -> dict:
    return yaml.safe_load(rendered[COMPOSE_FILE])


def test_the_stack_file_matches_its_golden(rendered):
    text = rendered[COMPOSE_FILE]
    if REGENERATE:
        GOLDEN.write_bytes(text.encode("utf-8"))
    assert text.encode("utf-8") == GOLDEN.read_bytes(), f"{GOLDEN.name} differs; see module docstring"


def test_rendering_twice_is_byte_identical(rendered):
    assert render_all(stack_manifest(), TEMPLATES, include_opa=False, secrets_label=LABEL,
                      project_dir=PROJECT_DIR) == rendered


def test_the_runtime_chooses_the_template_of_the_compose_file_only():
    swarm = stack_manifest()
    compose = build_manifest(load_raw(FIXTURES / "manifest.yaml"))
    assert (compose_template(swarm), compose_template(compose)) == ("docker-stack.yml.j2", "docker-compose.yml.j2")
    # nginx.conf and the traffic split are shared: the same manifest on either runtime renders them alike,
    # but for the swarm's admin route to one task (each task of a service keeps its own counters).
    as_compose = replace(swarm, deploy=replace(swarm.deploy, runtime="compose"))
    on_compose = render_all(as_compose, TEMPLATES, include_opa=False, secrets_label=LABEL)
    on_swarm = render_all(swarm, TEMPLATES, include_opa=False, secrets_label=LABEL, project_dir=PROJECT_DIR)
    assert list(on_swarm) == list(on_compose) == [COMPOSE_FILE, NGINX_FILE, TRAFFIC_FILE]
    route = "location ~ \"^/tasks/"
    assert route in on_swarm[NGINX_FILE] and route not in on_compose[NGINX_FILE]
    without_route = [line for line in on_swarm[NGINX_FILE].splitlines(keepends=True)]
    start = next(i for i, line in enumerate(without_route) if "One task of a swarm service" in line)
    assert "".join(without_route[:start - 1] + without_route[start + 4:]) == on_compose[NGINX_FILE]
    assert on_swarm[TRAFFIC_FILE] == on_compose[TRAFFIC_FILE]
    assert on_swarm[COMPOSE_FILE] != on_compose[COMPOSE_FILE]


def test_a_compose_manifest_renders_the_compose_file_it_did_wherever_the_project_is():
    """The goldens of test_render.py hold the compose file's bytes; project_dir never reaches it."""
    compose = load_manifest(FIXTURES / "manifest.yaml")
    expected = (FIXTURES / "expected" / "docker-compose.no-opa.yml").read_bytes()
    for project_dir in (".", "/srv/elsewhere"):
        files = render_all(compose, TEMPLATES, include_opa=False, project_dir=project_dir)
        assert files[COMPOSE_FILE].encode("utf-8") == expected


def test_the_top_level_is_compose_format_3_8_without_a_project_name(doc, rendered):
    assert rendered[COMPOSE_FILE].splitlines()[0].startswith("# Generated by SwiftDeploy from manifest.yaml")
    assert doc["version"] == "3.9"  # the newest format Docker 20.10 reads, the first with pids limits
    assert list(doc) == ["version", "services", "networks", "volumes", "secrets"]
    assert "container_name" not in rendered[COMPOSE_FILE]


@pytest.mark.parametrize("mode, bridge, services", [
    ("stable", False, ["app", "nginx"]),
    ("canary", False, ["app", "app-canary", "nginx"]),
    ("stable", True, ["app", "app-next", "nginx"]),
    ("canary", True, ["app", "app-canary", "app-next", "nginx"]),
])
def test_each_mode_runs_its_tracks_and_nginx_and_never_opa_or_prometheus(mode, bridge, services):
    # include_opa as a sidecar deploy would pass it: a swarm still has no opa service.
    doc = stack(stack_manifest(services={"mode": mode}), bridge=bridge, include_opa=True)
    assert list(doc["services"]) == services
    for name, service in doc["services"].items():
        assert "container_name" not in service, name


def test_replicas_per_track(doc):
    both = stack(bridge=True)["services"]
    assert {name: svc["deploy"]["replicas"] for name, svc in both.items() if name != "nginx"} == {
        "app": 3, "app-canary": 2, "app-next": 3}
    assert "replicas" not in doc["services"]["nginx"]["deploy"]  # global: one per node


@pytest.mark.parametrize("mode", ["dnsrr", "vip"])
def test_the_app_tracks_take_the_endpoint_mode_and_nginx_keeps_dnsrr(mode):
    services = stack(stack_manifest(deploy={"swarm": {"endpoint_mode": mode}}))["services"]
    assert [services[name]["deploy"]["endpoint_mode"] for name in ("app", "app-canary")] == [mode, mode]
    assert services["nginx"]["deploy"]["endpoint_mode"] == "dnsrr"


def test_the_endpoint_mode_is_dnsrr_unless_told(doc):
    assert doc["services"]["app"]["deploy"]["endpoint_mode"] == "dnsrr"


def test_each_track_is_labelled_as_a_service_and_in_its_containers(doc):
    for name, track in (("app", "stable"), ("app-canary", "canary")):
        service = doc["services"][name]
        assert service["deploy"]["labels"] == {"org.swiftdeploy.track": track}
        assert service["labels"] == {"org.swiftdeploy.track": track, "org.swiftdeploy.secrets": LABEL}


def test_updates_start_the_new_task_first_and_roll_back_on_failure(doc):
    for name in ("app", "app-canary"):
        deploy = doc["services"][name]["deploy"]
        monitor = deploy["update_config"]["monitor"]
        assert deploy["update_config"] == {"parallelism": 1, "delay": "0s", "order": "start-first",
                                           "failure_action": "rollback", "monitor": monitor}
        assert deploy["rollback_config"] == {"parallelism": 1, "order": "start-first", "failure_action": "pause",
                                             "monitor": monitor}
    nginx = doc["services"]["nginx"]["deploy"]
    assert nginx["update_config"] == {"parallelism": 1, "order": "stop-first", "failure_action": "rollback"}


def test_the_monitor_window_covers_the_healthchecks_start_period_and_every_retry(doc):
    app = doc["services"]["app"]
    check = app["healthcheck"]
    settled = seconds(check["start_period"]) + seconds(check["interval"]) * check["retries"]
    assert seconds(app["deploy"]["update_config"]["monitor"]) == settled == 32
    assert seconds(app["deploy"]["rollback_config"]["monitor"]) == settled


@pytest.fixture
def unremembered_render():
    """Rendered files are remembered per process: a test that changes a constant under them forgets
    them before and after."""
    render._rendered.cache_clear()
    yield
    render._rendered.cache_clear()


def test_the_monitor_window_follows_the_manifests_healthcheck():
    manifest = stack_manifest(services={"healthcheck": {"interval_seconds": 5, "timeout_seconds": 3, "retries": 4,
                                                        "start_period_seconds": 10}})
    app = stack(manifest)["services"]["app"]
    assert app["healthcheck"] == {"test": ["CMD", "python3", "/app/healthcheck.py"], "interval": "5s",
                                  "timeout": "3s", "retries": 4, "start_period": "10s"}
    assert app["deploy"]["update_config"]["monitor"] == app["deploy"]["rollback_config"]["monitor"] == "30s"


@pytest.mark.parametrize("policy, condition", [("unless-stopped", "any"), ("always", "any"),
                                               ("on-failure", "on-failure"), ("no", "none")])
def test_the_restart_policy_becomes_a_swarm_restart_condition(policy, condition):
    services = stack(stack_manifest(services={"restart_policy": policy}))["services"]
    assert services["app"]["deploy"]["restart_policy"] == {"condition": condition}
    assert services["app-canary"]["deploy"]["restart_policy"] == {"condition": condition}
    assert services["nginx"]["deploy"]["restart_policy"] == {"condition": "any"}


def test_memory_limits_come_from_the_manifest(doc, rendered):
    services = doc["services"]
    app_limits = {"limits": {"memory": "384m", "pids": 128}}  # tests/fixtures/render/stack.yaml
    assert services["app"]["deploy"]["resources"] == app_limits
    assert services["app-canary"]["deploy"]["resources"] == app_limits
    assert services["nginx"]["deploy"]["resources"] == {"limits": {"memory": "96m", "pids": 64}}
    for service in services.values():
        assert not {"mem_limit", "memswap_limit", "pids_limit"} & set(service)  # stack deploy refuses these


def test_placement_constraints_apply_to_the_app_tracks_only(doc):
    services = doc["services"]
    wanted = {"constraints": ["node.labels.role == app", "node.role != manager"]}
    assert services["app"]["deploy"]["placement"] == services["app-canary"]["deploy"]["placement"] == wanted
    assert "placement" not in services["nginx"]["deploy"]
    assert services["nginx"]["deploy"]["mode"] == "global"
    unplaced = stack(stack_manifest(deploy={"swarm": {"constraints": []}}))["services"]
    assert "placement" not in unplaced["app"]["deploy"]


def test_the_network_is_an_overlay_encrypted_only_when_asked(doc):
    assert doc["networks"] == {"yes": {"name": "yes", "driver": "overlay", "attachable": False,
                                       "driver_opts": {"encrypted": ""}}}
    plain = stack(stack_manifest(deploy={"swarm": {"encrypted_network": False}}))
    assert plain["networks"] == {"yes": {"name": "yes", "driver": "overlay", "attachable": False}}
    for service in doc["services"].values():
        assert service["networks"] == ["yes"]
    assert doc["volumes"] == {"1.0": {"name": "1.0"}}


def test_the_app_tracks_are_hardened_and_healthchecked_as_with_compose(doc):
    compose = yaml.safe_load(render_all(load_manifest(FIXTURES / "manifest.yaml"), TEMPLATES,
                                        include_opa=False)[COMPOSE_FILE])["services"]["app"]
    for name, mode, version, image in (("app", "stable", "1.0.0", "swiftdeploy-app:1.0.0"),
                                       ("app-canary", "canary", "1.1.0", "swiftdeploy-app:1.1.0")):
        app = doc["services"][name]
        assert app["image"] == image
        assert (app["user"], app["cap_drop"], app["read_only"]) == ("10001:10001", ["ALL"], True)
        assert app["volumes"] == [{"type": "tmpfs", "target": "/tmp"}] and "tmpfs" not in app
        assert app["environment"] == {"MODE": mode, "APP_VERSION": version, "APP_PORT": "3000"}
        assert app["healthcheck"] == compose["healthcheck"]
        assert app["stop_grace_period"] == "30s"
        assert "ports" not in app and "expose" not in app


def test_nginx_publishes_its_ports_in_host_mode_admin_port_included(doc):
    nginx = doc["services"]["nginx"]
    assert nginx["ports"] == [{"target": 8080, "published": 8080, "protocol": "tcp", "mode": "host"},
                              {"target": 8081, "published": 8081, "protocol": "tcp", "mode": "host"}]
    tls = stack(stack_manifest(tls={"source": "local", "hosts": ["shop.example.com"], "port": 8443}))
    assert [(p["published"], p["mode"]) for p in tls["services"]["nginx"]["ports"]] == [
        (8080, "host"), (8443, "host"), (8081, "host")]


def test_nginx_is_hardened_as_with_compose(doc):
    nginx = doc["services"]["nginx"]
    assert (nginx["image"], nginx["cap_drop"], nginx["read_only"]) == ("nginx:stable", ["ALL"], True)
    assert nginx["cap_add"] == ["CHOWN", "SETGID", "SETUID"]
    low = stack(stack_manifest(nginx={"port": 80}))["services"]["nginx"]
    assert low["cap_add"] == ["CHOWN", "SETGID", "SETUID", "NET_BIND_SERVICE"]
    assert nginx["healthcheck"]["test"] == ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:8080/nginx-health"
                                            " || wget -q -O /dev/null http://127.0.0.1:8080/nginx-health"]
    assert "depends_on" not in nginx  # stack deploy ignores it


def test_nginx_carries_the_digest_of_the_nginx_conf_it_was_deployed_with(doc, rendered):
    import hashlib

    digest = hashlib.sha256(rendered[NGINX_FILE].encode()).hexdigest()[:16]
    # a container label, so a changed nginx.conf replaces the tasks (a service label would not)
    assert doc["services"]["nginx"]["labels"] == {"org.swiftdeploy.nginx-conf": digest}
    assert "labels" not in doc["services"]["nginx"]["deploy"]


def test_bind_mounts_are_absolute_under_the_project_directory(doc):
    assert doc["services"]["nginx"]["volumes"] == [
        {"type": "tmpfs", "target": "/tmp"},
        "/srv/shop/nginx.conf:/etc/nginx/nginx.conf:ro",
        "/srv/shop/nginx.d:/etc/nginx/nginx.d:ro",
        "1.0:/var/log/nginx",
    ]
    tls = stack(stack_manifest(tls={"source": "local", "hosts": ["shop.example.com"]}), project_dir="/srv/shop/")
    assert tls["services"]["nginx"]["volumes"][-2:] == [
        "/srv/shop/.swiftdeploy/tls:/etc/nginx/tls:ro",
        "/srv/shop/.swiftdeploy/acme-challenge:/etc/nginx/acme-challenge:ro",
    ]


def test_secrets_are_mounted_for_the_apps_user_and_named_by_their_fingerprint(doc, rendered):
    wanted = [{"source": name, "target": name, "uid": "10001", "gid": "10001", "mode": 0o400}
              for name in ("API_TOKEN", "DB_PASSWORD")]
    for name in ("app", "app-canary"):
        assert doc["services"][name]["secrets"] == wanted
    assert "secrets" not in doc["services"]["nginx"]
    assert doc["secrets"] == {
        "API_TOKEN": {"file": "/srv/shop/.swiftdeploy/secrets/API_TOKEN", "name": "shop_API_TOKEN_0123456789ab"},
        "DB_PASSWORD": {"file": "/srv/shop/.swiftdeploy/secrets/DB_PASSWORD",
                        "name": "shop_DB_PASSWORD_0123456789ab"},
    }
    assert swarm_secret_name("shop", "API_TOKEN", LABEL) == "shop_API_TOKEN_0123456789ab"
    assert "mode: 0400" in rendered[COMPOSE_FILE]  # octal, as Docker's YAML reads it


def test_a_changed_secret_value_is_a_new_swarm_secret_and_updates_the_tracks():
    before, after = stack(), stack(secrets_label="fedcba9876543210")
    assert before["secrets"]["API_TOKEN"]["name"] != after["secrets"]["API_TOKEN"]["name"] == \
        "shop_API_TOKEN_fedcba987654"
    assert after["services"]["app"]["labels"]["org.swiftdeploy.secrets"] == "fedcba9876543210"


def test_without_secrets_there_is_no_secrets_section():
    doc = stack(build_manifest({k: v for k, v in load_raw(FIXTURES / "stack.yaml").items() if k != "secrets"}),
                secrets_label="")
    assert "secrets" not in doc and "secrets" not in doc["services"]["app"]
    assert doc["services"]["app"]["labels"] == {"org.swiftdeploy.track": "stable"}


def test_a_stack_file_with_secrets_is_never_rendered_without_their_fingerprint():
    with pytest.raises(SwiftDeployError, match="needs their fingerprint"):
        stack(secrets_label="")


def test_the_render_step_gives_the_targets_project_directory(tmp_path: Path):
    manifest = {k: v for k, v in load_raw(FIXTURES / "stack.yaml").items() if k != "secrets"}
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    (tmp_path / "policies").mkdir()
    project = Project.load(tmp_path / "manifest.yaml")
    target = Target.local(project)
    files = render_step.rendered_files(project, target, EngineChoice("embedded", "test"))
    volumes = yaml.safe_load(files[COMPOSE_FILE])["services"]["nginx"]["volumes"]
    assert target.project_dir.startswith("/")
    assert f"{target.project_dir}/nginx.conf:/etc/nginx/nginx.conf:ro" in volumes
