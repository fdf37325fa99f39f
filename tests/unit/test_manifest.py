"""swiftlib.manifest.model: validation driven by fixture files.

Every tests/fixtures/manifests/bad/*.yaml starts with one or more ``# expect: TEXT``
lines; loading it must raise ManifestError (exit code 2) whose message contains each
TEXT exactly. Good manifests load and take the defaults README.md documents.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from swiftlib.errors import ConfigError, ManifestError
from swiftlib.manifest.model import DEFAULTS, REQUIRED, build_manifest, deep_merge
from swiftlib.manifest.load import load_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
REPO = Path(__file__).resolve().parents[2]
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
PREFIX = "# expect: "


def expectations(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for line in lines:
        if not line.startswith(PREFIX):
            break
        found.append(line[len(PREFIX):])
    return found


def test_the_bad_table_is_big_and_well_formed():
    assert len(BAD) >= 25
    for path in BAD:
        assert path.read_text().startswith(PREFIX), f"{path.name}: first line must be '{PREFIX}...'"
        assert all(expectations(path)), f"{path.name}: empty expectation"


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_manifest_is_rejected_with_the_expected_message(path: Path):
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    err = info.value
    assert err.exit_code == 2 and isinstance(err, ConfigError)
    message = str(err)
    assert message.startswith(f"{path}: "), "the error names the file"
    for text in expectations(path):
        assert text in message, f"expected {text!r} in:\n{message}"


def test_several_problems_are_reported_together_one_per_line():
    with pytest.raises(ManifestError) as info:
        load_manifest(FIXTURES / "bad" / "several_problems.yaml")
    assert len(info.value.problems) == 3
    assert str(info.value).splitlines()[1:] == [f"  - {p}" for p in info.value.problems]


def test_minimal_manifest_takes_the_documented_defaults():
    m = load_manifest(FIXTURES / "good" / "minimal.yaml")
    assert (m.services.image, m.services.port, m.services.mode, m.services.version) == (
        "swiftdeploy-app:1.0.0", 3000, "stable", "1.0.0")
    assert m.services.restart_policy == "unless-stopped"
    assert m.services.container_name == "swiftdeploy-app"
    assert (m.nginx.port, m.nginx.admin_port, m.nginx.proxy_timeout) == (8080, 8081, 30)
    assert m.nginx.container_name == "swiftdeploy-nginx"
    assert (m.opa.image, m.opa.port, m.opa.policies_dir) == ("openpolicyagent/opa:1.4.2", 8181, "./policies")
    assert (m.opa.decision_timeout_seconds, m.opa.engine) == (2.0, "auto")
    assert (m.network.name, m.network.driver_type, m.logs_volume) == ("swiftdeploy-net", "bridge", "swiftdeploy-logs")
    assert m.infrastructure_limits.to_dict() == {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0,
                                                     "min_certificate_days": 7, "max_nodes_down": 0}
    assert m.canary_limits.to_dict() == {
        "max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "evaluation_window_seconds": 60.0, "min_requests": 20}
    assert (m.audit.history_file, m.audit.report_file) == ("history.jsonl", "audit_report.md")
    assert m.deploy.project_name == "swiftdeploy" and m.deploy.remote_dir == "swiftdeploy"
    assert (m.deploy.health_timeout_seconds, m.deploy.connect_timeout_seconds) == (60.0, 10.0)
    assert m.metrics.source == "scrape" and not m.metrics.uses_prometheus
    assert (m.metrics.prometheus.image, m.metrics.prometheus.port) == ("prom/prometheus:v2.53.3", 9090)
    assert m.metrics.prometheus.scrape_interval_seconds == 2
    assert (m.deploy.runtime, m.deploy.uses_swarm, m.services.replicas, m.canary.replicas) == ("compose", False, 1, 1)
    assert (m.deploy.swarm.endpoint_mode, m.deploy.swarm.constraints, m.deploy.swarm.encrypted_network) == (
        "dnsrr", (), False)


def test_every_field_overrides_its_default():
    m = load_manifest(FIXTURES / "good" / "every_field.yaml")
    assert m.services.image == "registry.example.com:5000/team/app:2.1.0-rc.1"
    assert (m.services.mode, m.services.version, m.services.restart_policy) == ("canary", "2.1.0+build.7", "on-failure")
    health = m.services.healthcheck
    assert (health.interval, health.timeout, health.retries, health.start_period, health.settled_seconds) == \
        (5, 4, 6, 30, 60)
    assert m.nginx.contact == "https://status.example.com/contact?team=ops#page"
    assert (m.nginx.port, m.nginx.admin_port, m.nginx.proxy_timeout) == (80, 9090, 5)
    assert (m.opa.port, m.opa.engine, m.opa.decision_timeout_seconds) == (9181, "embedded", 0.5)
    assert (m.network.name, m.network.driver_type) == ("my_net.1", "overlay")
    assert m.canary_limits.min_requests == 0 and isinstance(m.canary_limits.max_p99_latency_ms, float)
    assert m.infrastructure_limits.max_cpu_load == 4.0 and isinstance(m.infrastructure_limits.max_cpu_load, float)
    assert m.infrastructure_limits.max_nodes_down == 2
    assert m.deploy.remote_dir == "~/deployments/app" and m.deploy.project_name == "my_project-2"
    assert m.deploy.health_check_from == "controller"
    prometheus = m.metrics.prometheus
    assert m.metrics.source == "prometheus" and m.metrics.uses_prometheus
    assert (prometheus.image, prometheus.port) == ("localhost:5000/prom/prometheus:v2.53.3", 9190)
    assert (prometheus.scrape_interval_seconds, prometheus.container_name) == (5, "my-prometheus")
    assert (m.limits.app.memory, m.limits.app.pids, m.limits.nginx.memory, m.limits.prometheus.pids) == \
        ("512m", 200, "64m", 400)


def test_the_projects_own_manifest_is_valid():
    m = load_manifest(REPO / "manifest.yaml")
    assert m.services.mode in ("stable", "canary")


def test_every_default_is_a_value_the_validator_accepts():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    explicit = deep_merge(DEFAULTS, raw)
    assert build_manifest(explicit) == build_manifest(raw)
    for section, fields in REQUIRED.items():  # required fields have no default to fall back on
        for name in fields:
            assert name not in DEFAULTS.get(section, {}), f"{section}.{name} is both required and defaulted"


def test_the_prometheus_port_may_equal_another_port_only_while_prometheus_is_off():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    assert build_manifest(raw, overrides={"metrics": {"prometheus": {"port": 8081}}}).metrics.prometheus.port == 8081
    with pytest.raises(ManifestError, match=r"metrics\.prometheus\.port: must differ from nginx\.admin_port"):
        build_manifest(raw, overrides={"metrics": {"source": "prometheus", "prometheus": {"port": 8081}}})


def test_manifest_is_immutable_and_with_mode_copies():
    m = load_manifest(FIXTURES / "good" / "minimal.yaml")
    with pytest.raises(AttributeError):
        m.services.mode = "canary"  # type: ignore[misc]
    canary = m.with_mode("canary")
    assert canary.services.mode == "canary" and m.services.mode == "stable"
    assert canary.nginx == m.nginx


def test_overrides_win_and_are_validated_with_a_label():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    m = build_manifest(raw, overrides={"nginx": {"port": 9000}, "deploy": {"remote_dir": "apps/sd"}})
    assert m.nginx.port == 9000 and m.nginx.contact == "ops@example.com" and m.deploy.remote_dir == "apps/sd"
    with pytest.raises(ManifestError) as info:
        build_manifest(raw, overrides={"nginx": {"prot": 9000}, "opa": 5})
    assert "override nginx.prot: unknown field" in str(info.value)
    assert "override opa: expected a mapping of fields, got 5" in str(info.value)
    with pytest.raises(ManifestError, match=r'nginx\.port: expected an integer 1-65535, got "x"'):
        build_manifest(raw, overrides={"nginx": {"port": "x"}})


def test_build_does_not_mutate_its_input():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    before = copy.deepcopy(raw)
    build_manifest(raw, overrides={"nginx": {"port": 9000}})
    assert raw == before


@pytest.mark.parametrize("seconds", [0, 0.5, 0.999, 86400.5])
def test_the_canary_window_is_refused_outside_one_second_to_one_day(seconds):
    """A window of 0 s measures nothing (and rates divide by it). No unit test sent a window
    under one second, so moving the lower bound from 1 to 0 survived the unit tier."""
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw["policy_limits"] = {"canary": {"evaluation_window_seconds": seconds}}
    with pytest.raises(ManifestError) as info:
        build_manifest(raw)
    assert info.value.problems == [
        f"policy_limits.canary.evaluation_window_seconds: expected a number 1-86400, got {seconds}"]


@pytest.mark.parametrize("seconds", [1, 86400])
def test_the_canary_window_may_be_one_second_or_one_day(seconds):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw["policy_limits"] = {"canary": {"evaluation_window_seconds": seconds}}
    assert build_manifest(raw).canary_limits.evaluation_window_seconds == seconds


@pytest.mark.parametrize("value", ["a@b.c\n", "a@b.c\r", "x y", "a'b", 'a"b', "a$b", "a{b", "a}b", "a;b", "a\\b", ""])
def test_contact_refuses_every_character_that_could_break_out(value):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw["nginx"]["contact"] = value
    with pytest.raises(ManifestError, match=r"^nginx\.contact: expected an email address or URL"):
        build_manifest(raw)


def test_deep_merge_merges_nested_and_copies():
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    out = deep_merge(base, {"a": {"b": 2}, "e": {"f": 1}})
    assert out == {"a": {"b": 2, "c": [1]}, "d": 1, "e": {"f": 1}}
    out["a"]["c"].append(2)
    assert base["a"]["c"] == [1]


# Paths the manifest names stay inside the project directory (or, remote, a subdirectory of the
# login's home): absolute paths, '..' and anything naming the base directory itself are refused.
_ESCAPES = [
    ("audit", "report_file", "/etc/cron.d/swiftdeploy", "not an absolute one"),
    ("audit", "report_file", ".", "expected a file inside the project directory, not that directory itself"),
    ("audit", "report_file", "", "expected a file inside the project directory, not that directory itself"),
    ("audit", "history_file", "/tmp/history.jsonl", "not an absolute one"),
    ("audit", "history_file", "//tmp/history.jsonl", "not an absolute one"),
    ("audit", "history_file", "logs/.", "expected a file path (ending in a file name"),
    ("opa", "policies_dir", "/etc", "not an absolute one"),
    ("opa", "policies_dir", ".", "expected a subdirectory of the project directory, not that directory itself"),
    ("opa", "policies_dir", "./", "expected a subdirectory of the project directory"),
    ("opa", "policies_dir", "./.", "expected a subdirectory of the project directory"),
    ("opa", "policies_dir", ".//", "expected a subdirectory of the project directory"),
    ("opa", "policies_dir", "", "expected a subdirectory of the project directory"),
    ("hooks", "dir", ".", "expected a subdirectory of the project directory"),
    ("hooks", "dir", "/usr/local/bin", "not an absolute one"),
    ("deploy", "remote_dir", "/etc", "not an absolute one"),
    ("deploy", "remote_dir", "/", "not an absolute one"),
    ("deploy", "remote_dir", "~//root", "not an absolute one"),
    ("deploy", "remote_dir", ".", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", "./", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", "", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", "~", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", "~/", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", "~/.", "expected a subdirectory of the login's home"),
    ("deploy", "remote_dir", 5, "expected a path inside the login's home"),
]


@pytest.mark.parametrize("section,field,value,message", _ESCAPES,
                         ids=[f"{s}.{f}={v!r}" for s, f, v, _ in _ESCAPES])
def test_paths_that_leave_or_are_the_base_directory_are_refused_at_load(section, field, value, message):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw[section] = {field: value}
    with pytest.raises(ManifestError) as info:
        build_manifest(raw)
    assert info.value.exit_code == 2
    assert info.value.problems[0].startswith(f"{section}.{field}: ")
    assert message in str(info.value)


def test_a_path_override_from_the_inventory_is_refused_the_same_way():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    with pytest.raises(ManifestError, match=r"deploy\.remote_dir: expected a path relative to the login's home"):
        build_manifest(raw, overrides={"deploy": {"remote_dir": "/etc"}})
    with pytest.raises(ManifestError, match=r"opa\.policies_dir: expected a subdirectory"):
        build_manifest(raw, overrides={"opa": {"policies_dir": "."}})


def test_the_line_between_a_subdirectory_and_the_base_directory_itself():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    accepted = {"audit": {"history_file": "./logs/history.jsonl", "report_file": ".swiftdeploy/report.md"},
                "opa": {"policies_dir": "./policies/"}, "hooks": {"dir": "./hooks"},
                "deploy": {"remote_dir": "~/apps/sd/"}}
    m = build_manifest(raw, overrides=accepted)
    assert (m.audit.history_file, m.audit.report_file) == ("./logs/history.jsonl", ".swiftdeploy/report.md")
    assert (m.opa.policies_dir, m.hooks_dir, m.deploy.remote_dir) == ("./policies/", "./hooks", "~/apps/sd/")
    for value in ("deploy", "./deploy", ".swiftdeploy", "apps/./sd"):
        assert build_manifest(raw, overrides={"deploy": {"remote_dir": value}}).deploy.remote_dir == value
    refused = {"audit": {"history_file": "./logs/"}, "opa": {"policies_dir": "./"}, "hooks": {"dir": "./."},
               "deploy": {"remote_dir": "~/./"}}
    with pytest.raises(ManifestError) as info:
        build_manifest(raw, overrides=refused)
    assert [p.split(":")[0] for p in info.value.problems] == [
        "opa.policies_dir", "audit.history_file", "deploy.remote_dir", "hooks.dir"]


def test_a_bare_no_restart_policy_is_dockers_policy_no():
    """YAML 1.1 reads `restart_policy: no` as false; the README documents `no`, so it is the policy."""
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw["services"]["restart_policy"] = yaml.safe_load("no")
    assert raw["services"]["restart_policy"] is False
    assert build_manifest(raw).services.restart_policy == "no"
    raw["services"]["restart_policy"] = True  # `yes` means nothing here: still refused, named
    with pytest.raises(ManifestError, match="services.restart_policy: expected one of no, always"):
        build_manifest(raw)


@pytest.mark.parametrize("steps, why", [
    ([50, 25], "got [50, 25]: 25 is not larger than 50 before it"),
    ([0, 50], "got [0, 50]: 0 is not a percentage 1-100"),
    ([10, 101], "got [10, 101]: 101 is not a percentage 1-100"),
    ([10, 25.5], "got [10, 25.5]: 25.5 is not a whole number"),
    ([], "got []: it is empty"),
    (list(range(1, 12)), "11 steps, at most 10"),
    (50, "got 50"),
])
def test_canary_steps_say_the_rule_and_which_step_breaks_it(steps, why):
    raw = yaml.safe_load((REPO / "manifest.yaml").read_text())
    raw["canary"] = {"steps": steps}
    with pytest.raises(ManifestError) as info:
        build_manifest(raw)
    [problem] = info.value.problems
    assert problem.startswith("canary.steps: expected a list of 1-10 integers 1-100, each larger than the one before")
    assert problem.endswith(why)


@pytest.mark.parametrize("steps", [[1, 100], [100], list(range(1, 11)), list(range(91, 101))])
def test_canary_steps_at_the_edges_of_the_rule_are_accepted(steps):
    raw = yaml.safe_load((REPO / "manifest.yaml").read_text())
    raw["canary"] = {"steps": steps}
    assert build_manifest(raw).canary.steps == tuple(steps)


# -- deploy.runtime: swarm ---------------------------------------------------------------------
# The refusals are fixtures in bad/ (replicas_*, runtime_unknown, swarm_*); these are what is accepted.

def test_every_swarm_field_overrides_its_default():
    m = load_manifest(FIXTURES / "good" / "swarm.yaml")
    assert (m.deploy.runtime, m.deploy.uses_swarm, m.services.replicas, m.canary.replicas) == ("swarm", True, 3, 2)
    swarm = m.deploy.swarm
    assert swarm.endpoint_mode == "vip" and swarm.encrypted_network is True
    assert swarm.constraints == ("node.labels.role == app", "node.role != manager")
    with pytest.raises(AttributeError):
        swarm.endpoint_mode = "dnsrr"  # type: ignore[misc]


def test_compose_takes_the_swarm_fields_at_their_defaults():
    """Written out at their defaults, the swarm fields ask compose for nothing it cannot do."""
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    explicit = {"services": {"replicas": 1}, "canary": {"replicas": 1},
                "deploy": {"runtime": "compose",
                           "swarm": {"endpoint_mode": "dnsrr", "constraints": [], "encrypted_network": False}}}
    assert build_manifest(raw, overrides=explicit) == build_manifest(raw)


@pytest.mark.parametrize("engine", ["auto", "embedded"])
def test_a_swarm_takes_the_embedded_engine_or_auto(engine):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    m = build_manifest(raw, overrides={"deploy": {"runtime": "swarm"}, "opa": {"engine": engine}})
    assert (m.deploy.runtime, m.opa.engine) == ("swarm", engine)


@pytest.mark.parametrize("constraint", ["node.labels.role == app", "node.role!=manager", " node.hostname == web-1 ",
                                        "engine.labels.os == linux", "node.labels.zone == eu-west-1"])
def test_placement_constraints_swarm_can_read_are_accepted(constraint):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    m = build_manifest(raw, overrides={"deploy": {"runtime": "swarm", "swarm": {"constraints": [constraint]}}})
    assert m.deploy.swarm.constraints == (constraint,)


@pytest.mark.parametrize("constraint", ["node.role", "node.role == ", "== app", "node.role = app", "r == app",
                                        "node.role >= 2", "node.role == a == b", "node.role == app\n", "x" * 201])
def test_placement_constraints_swarm_would_refuse_are_refused_at_load(constraint):
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    with pytest.raises(ManifestError) as info:
        build_manifest(raw, overrides={"deploy": {"runtime": "swarm", "swarm": {"constraints": [constraint]}}})
    [problem] = info.value.problems
    assert problem.startswith("deploy.swarm.constraints: expected each to be a non-empty string KEY == VALUE")


def test_replicas_and_a_swarm_section_from_an_inventory_override_are_checked_against_the_runtime():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    with pytest.raises(ManifestError) as info:
        build_manifest(raw, overrides={"services": {"replicas": 2}})
    assert info.value.problems == ["services.replicas: 2 needs deploy.runtime: swarm "
                                   "(compose runs one container per track)"]
    assert build_manifest(raw, overrides={"services": {"replicas": 2}, "deploy": {"runtime": "swarm"}}
                          ).services.replicas == 2
