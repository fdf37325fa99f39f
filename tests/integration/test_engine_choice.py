"""`opa.engine: auto`: the sidecar when its image is on the host, else the embedded engine; the
choice is made at deploy, recorded, and kept afterwards even if the image appears later."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import run_cli
from tests.integration.fleet_env import ensure_opa_standin
from tests.integration.stack import docker, leftovers, make_project, remove_stack

pytestmark = pytest.mark.docker

ABSENT = "swiftdeploy-test/opa-not-here:0"


def compose_services(manifest) -> set[str]:
    return set(yaml.safe_load((manifest.parent / "docker-compose.yml").read_text())["services"])


def test_auto_picks_the_sidecar_when_its_image_is_present(tmp_path):
    manifest = make_project(tmp_path, prefix="sdauto1", base_port=23580,
                            opa={"engine": "auto", "image": ensure_opa_standin()})
    result = run_cli(manifest, "render")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "opa" in compose_services(manifest)


@pytest.fixture
def absent_tag():
    yield ABSENT
    docker("rmi", ABSENT, check=False)


def test_auto_choice_is_recorded_at_deploy_and_kept(tmp_path, absent_tag):
    manifest = make_project(tmp_path, prefix="sdauto2", base_port=23680, opa={"engine": "auto", "image": absent_tag})
    try:
        deployed = run_cli(manifest, "deploy")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "using the embedded Rego engine" in deployed.stdout
        assert "opa" not in compose_services(manifest)
        state = json.loads((tmp_path / ".swiftdeploy" / "state.json").read_text())
        assert state["engine"] == "embedded"
        events = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
        assert [e["data"]["engine"] for e in events if e["event_type"] == "deploy"] == ["embedded"]

        docker("tag", ensure_opa_standin(), absent_tag)  # the image appears after the deploy
        later = run_cli(manifest, "render")
        assert later.returncode == 0 and "ok: [local]" in later.stdout, later.stdout
        assert "opa" not in compose_services(manifest)  # the deployment keeps its engine
        check = run_cli(manifest, "opa-check")
        assert check.returncode == 0 and "(embedded)" in check.stdout, check.stdout
    finally:
        run_cli(manifest, "teardown", "--clean")


def test_a_sidecar_whose_image_is_missing_fails_validate_and_deploy_before_anything_starts(tmp_path):
    missing = "swiftdeploy-test/opa-never-built:0"
    manifest = make_project(tmp_path, prefix="sdnoopa", base_port=25680, opa={"engine": "sidecar", "image": missing})
    try:
        for task in ("validate", "deploy"):
            result = run_cli(manifest, task)
            assert result.returncode == 2, (task, result.stdout, result.stderr)
            assert f"FAIL  opa image present: {missing} is not on local" in result.stdout, result.stdout
            assert "set opa.engine: embedded (or auto)" in result.stdout
        assert not leftovers("sdnoopa")  # refused before anything started, no registry pull attempted
    finally:
        remove_stack("sdnoopa")
