"""`metrics.source: prometheus` on a remote host over real SSH.

The "remote host" is this machine behind a real sshd on 127.0.0.33 (as in test_remote_deploy).
The Prometheus image made on the controller is shipped to the host with the others, its
configuration is rendered into the host's project directory, it listens on the host's loopback
only, and the canary gate asks it through an SSH tunnel (counted in sshd's DEBUG1 log).
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.conftest import exited as ok, run_cli
from tests.integration.one_host import home, server  # noqa: F401 - fixtures
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import Load, docker, make_project, remove_stack, wait_for

pytestmark = [pytest.mark.sshd, pytest.mark.docker]

PREFIX = "sdrp"
PORT = 21300  # nginx; admin 21301
PROM_PORT = 21390
ADDRESS = "127.0.0.33"
REMOTE_DIR = "project"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, home, server):
    path = make_project(tmp_path_factory.mktemp("proj-sdrp"), prefix=PREFIX, base_port=PORT,
                        deploy={"remote_dir": REMOTE_DIR},
                        metrics={"source": "prometheus", "prometheus": {
                            "port": PROM_PORT, "container_name": f"{PREFIX}-prometheus", "scrape_interval_seconds": 1}})
    ok(run_cli(path, "bootstrap"))  # the Prometheus image on the controller, as `make test` makes it
    yield path
    home.inv(path, "teardown", "--clean", "--hosts", server.host_spec)
    remove_stack(PREFIX)


def test_the_canary_gate_asks_the_hosts_prometheus_through_ssh(manifest, home, server):
    out = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec)).stdout
    assert "PLAY RECAP" in out and "failed=0" in out, out
    config = server.home / REMOTE_DIR / "prometheus.yml"
    assert config.is_file() and 'track: "canary"' in config.read_text()  # rendered on the host
    assert not (manifest.parent / "prometheus.yml").exists()
    assert docker("port", f"{PREFIX}-prometheus") == f"9090/tcp -> 127.0.0.1:{PROM_PORT}"

    ok(home.inv(manifest, "promote", "--mode", "canary", "--hosts", server.host_spec))
    before = server.tunnels_to(PROM_PORT)
    with Load(f"http://{ADDRESS}:{PORT}/", rate=25) as load:
        # The canary's request series exists in Prometheus before the gate's window opens (a series
        # born inside a 4 s window loses its first samples to increase()).
        query = urlencode({"query": 'count(http_requests_total{track="canary",path="/"})'})
        wait_for(f"http://127.0.0.1:{PROM_PORT}/api/v1/query?{query}", lambda r: r.json()["data"]["result"])
        result = ok(home.inv(manifest, "opa-check", "--context", "pre_promote", "--hosts", server.host_spec))
    assert "canary: allow" in result.stdout, result.stdout
    assert load.dropped == []
    assert server.tunnels_to(PROM_PORT) > before  # PromQL went through an SSH tunnel to the host's loopback
    history = [json.loads(line) for line in (manifest.parent / "history.jsonl").read_text().splitlines()]
    check = [e for e in history if e["event_type"] == "policy_check" and e["data"].get("domain") == "canary"][-1]
    metrics = check["data"]["input"]["metrics"]
    assert check["host"] == f"{server.address}:{server.port}" and metrics["requests"] >= 10, check
    assert check["data"]["metrics_source"] == "prometheus"

    docker("stop", f"{PREFIX}-prometheus")  # the host's Prometheus gone: fail closed, named
    failed = ok(home.inv(manifest, "opa-check", "--context", "pre_promote", "--hosts", server.host_spec), 4)
    assert "cannot reach Prometheus" in failed.stdout and "failing closed" in failed.stdout, failed.stdout
