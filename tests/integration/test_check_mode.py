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
