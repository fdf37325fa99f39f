"""compose_steps.bind_sources: what a compose file mounts from the project directory must exist,
as the kind Docker expects, before `up` (a missing file would be created as a directory)."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.lifecycle.compose_steps import bind_sources

RENDERED = Path(__file__).resolve().parents[1] / "fixtures" / "render" / "expected"


def test_the_rendered_stack_mounts_nginx_conf_the_split_and_the_policies():
    files, dirs = bind_sources((RENDERED / "docker-compose.opa.yml").read_text())
    assert files == ["nginx.conf", "nginx.d/traffic.conf"]
    assert dirs == ["nginx.d", "policies"]


def test_prometheus_yml_is_a_file_to_check_only_in_the_stack_that_runs_prometheus():
    files, _ = bind_sources((RENDERED / "docker-compose.prometheus.yml").read_text())
    assert "prometheus.yml" in files
    assert "prometheus.yml" not in bind_sources((RENDERED / "docker-compose.opa.yml").read_text())[0]


@pytest.mark.parametrize("services, files, dirs", [
    (["opa"], [], ["policies"]),           # starting the policy engine alone checks only its mount
    (["app"], [], []),                      # an app track mounts nothing
    (["nginx"], ["nginx.conf", "nginx.d/traffic.conf"], ["nginx.d"]),
])
def test_only_the_named_services_mounts_are_checked(services, files, dirs):
    assert bind_sources((RENDERED / "docker-compose.opa.yml").read_text(), services) == (files, dirs)


def test_named_volumes_are_not_bind_sources():
    text = "services:\n  nginx:\n    volumes: ['logs:/var/log/nginx', './nginx.conf:/etc/nginx/nginx.conf:ro']\n"
    assert bind_sources(text) == (["nginx.conf"], [])


def test_up_says_a_dropped_service_was_removed_not_started():
    """Switching metrics.source back to scrape drops Prometheus: `up` must say it removed it."""
    from swiftlib.lifecycle.compose_steps import _diff_summary, describe_changes

    before = {"sd-app": "a1 running", "sd-nginx": "n1 running", "sd-prometheus": "p1 running"}
    after = {"sd-app": "a2 running", "sd-nginx": "n1 running"}
    started, removed = _diff_summary(before, after)
    assert (started, removed) == (["sd-app"], ["sd-prometheus"])
    assert describe_changes(started, removed) == "started/recreated: sd-app; removed: sd-prometheus"
    assert describe_changes([], []) == "all containers already up to date"
