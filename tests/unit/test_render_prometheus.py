"""Rendering with `metrics.source: prometheus`: a loopback-only Prometheus service and its prometheus.yml.

Goldens as in test_render.py (REGENERATE_GOLDENS=1 rewrites them). With the default source
(`scrape`) nothing about the stack changes: test_render.py's goldens are the proof.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from swiftlib.manifest.model import build_manifest, deep_merge
from swiftlib.manifest.load import load_raw
from swiftlib.render import COMPOSE_FILE, PROMETHEUS_FILE, render_all

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FIXTURES = ROOT / "tests" / "fixtures" / "render"
EXPECTED = FIXTURES / "expected"
REGENERATE = os.environ.get("REGENERATE_GOLDENS") == "1"
PROMETHEUS = {"metrics": {"source": "prometheus"}}


def manifest(extra=None):
    return build_manifest(deep_merge(load_raw(FIXTURES / "manifest.yaml"), PROMETHEUS if extra is None else extra))


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render_all(manifest(), TEMPLATES, include_opa=True)


@pytest.mark.parametrize("file_name, golden", [(COMPOSE_FILE, "docker-compose.prometheus.yml"),
                                               (PROMETHEUS_FILE, "prometheus.prometheus.yml")])
def test_render_matches_golden(rendered, file_name, golden):
    path = EXPECTED / golden
    if REGENERATE:
        path.write_bytes(rendered[file_name].encode())
    assert rendered[file_name].encode() == path.read_bytes(), f"{golden} differs; see test_render.py's docstring"


def test_the_default_source_renders_no_prometheus_at_all():
    files = render_all(manifest({}), TEMPLATES, include_opa=True)
    assert PROMETHEUS_FILE not in files and "prometheus" not in files[COMPOSE_FILE]


def test_prometheus_is_published_on_loopback_only_and_scrapes_every_track_by_label(rendered):
    service = yaml.safe_load(rendered[COMPOSE_FILE])["services"]["prometheus"]
    assert service["ports"] == ["127.0.0.1:9090:9090"]
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in service["volumes"]
    config = yaml.safe_load(rendered[PROMETHEUS_FILE])
    assert config["global"]["scrape_interval"] == "2s"
    targets = {c["labels"]["track"]: c["targets"] for c in config["scrape_configs"][0]["static_configs"]}
    assert targets == {"stable": ["app:3000"], "canary": ["app-canary:3000"], "next": ["app-next:3000"]}


def test_the_config_does_not_depend_on_the_mode_so_promotions_keep_prometheus_running():
    stable = render_all(manifest(), TEMPLATES, include_opa=False)
    canary = render_all(manifest({**PROMETHEUS, "services": {"mode": "canary"}}), TEMPLATES, include_opa=False)
    assert stable[PROMETHEUS_FILE] == canary[PROMETHEUS_FILE]
    label = "org.swiftdeploy.prometheus-conf"
    digests = [yaml.safe_load(f[COMPOSE_FILE])["services"]["prometheus"]["labels"][label] for f in (stable, canary)]
    assert digests[0] == digests[1]


def test_a_changed_config_changes_the_compose_label_so_compose_recreates_prometheus():
    other = render_all(manifest({"metrics": {"source": "prometheus", "prometheus": {"scrape_interval_seconds": 5}}}),
                       TEMPLATES, include_opa=False)
    label = "org.swiftdeploy.prometheus-conf"
    assert (yaml.safe_load(other[COMPOSE_FILE])["services"]["prometheus"]["labels"][label]
            != yaml.safe_load(render_all(manifest(), TEMPLATES, include_opa=False)[COMPOSE_FILE])
            ["services"]["prometheus"]["labels"][label])
