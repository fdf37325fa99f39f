"""`--check` tells the truth about what the run would do: it predicts a container compose would
recreate (a changed nginx.proxy_timeout recreates nginx), the real run then does exactly that, and
afterwards --check predicts nothing."""
from __future__ import annotations

import pytest
import yaml

from tests.conftest import printed as ok, run_cli
from tests.integration.stack import container_id_and_start, make_project, remove_stack

pytestmark = pytest.mark.docker

PREFIX, PORT = "sdcheck", 26480
NGINX = f"{PREFIX}-nginx"


@pytest.fixture
def manifest(tmp_path):
    path = make_project(tmp_path, prefix=PREFIX, base_port=PORT)
    try:
        ok(run_cli(path, "deploy"))
        yield path
    finally:
        run_cli(path, "teardown", "--clean")
        remove_stack(PREFIX)


def test_check_predicts_the_recreation_the_real_run_then_does(manifest):
    doc = yaml.safe_load(manifest.read_text())
    doc["nginx"]["proxy_timeout"] = 7
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = container_id_and_start(NGINX)
    predicted = ok(run_cli(manifest, "deploy", "--check"))
    assert f"would recreate: {NGINX}" in predicted, predicted
    assert container_id_and_start(NGINX) == before  # check mode touched nothing
    ok(run_cli(manifest, "deploy"))
    assert container_id_and_start(NGINX) != before  # ... and the real run did recreate it
    again = ok(run_cli(manifest, "deploy", "--check"))
    assert "would recreate" not in again and "check mode: all containers running" in again, again


def test_check_of_promote_canary_predicts_the_canary_recreated_for_a_new_version_and_shows_the_diff(manifest):
    from tests.integration.stack import docker

    docker("tag", "swiftdeploy-app:1.0.0", "swiftdeploy-app:2.0.0")
    docker("tag", "swiftdeploy-app:1.0.0", "swiftdeploy-app:2.1.0")
    doc = yaml.safe_load(manifest.read_text())
    doc["canary"].update(image="swiftdeploy-app:2.0.0", version="2.0.0")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    first = ok(run_cli(manifest, "promote", "--mode", "canary", "--check"))
    assert "would change services.mode: stable → canary" in first and f"would start {PREFIX}-app-canary" in first
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    canary = f"{PREFIX}-app-canary"
    before = container_id_and_start(canary)
    doc = yaml.safe_load(manifest.read_text())
    doc["canary"].update(image="swiftdeploy-app:2.1.0", version="2.1.0")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    predicted = ok(run_cli(manifest, "promote", "--mode", "canary", "--check", "--diff"))
    assert f"would recreate {canary} (swiftdeploy-app:2.1.0, 2.1.0)" in predicted, predicted
    assert "would change: docker-compose.yml" in predicted
    assert '+      APP_VERSION: "2.1.0"' in predicted  # --diff shows the line that changes
    assert container_id_and_start(canary) == before  # check mode touched nothing
    ok(run_cli(manifest, "promote", "--mode", "canary"))
    assert container_id_and_start(canary) != before  # ... and the real run did recreate it
    again = ok(run_cli(manifest, "promote", "--mode", "canary", "--check"))
    assert f"{canary} already running" in again and "would change" not in again, again
