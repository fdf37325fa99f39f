"""Every container of a running stack is limited and least-privileged, as `docker inspect` reports it.

One stack with all four kinds of container (app stable and canary, nginx, the OPA sidecar, Prometheus)
is deployed for real and inspected: memory limit with no swap beyond it, pids limit, all capabilities
dropped (nginx keeps only what starting its worker needs), no-new-privileges, a read-only root
filesystem, a non-root user where the image allows it (nginx: its workers), and traffic still served.
A regression in any of them fails here.
"""
from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import printed as ok, run_cli
from tests.integration.fleet_env import ensure_opa_standin
from tests.integration.stack import docker, make_project, remove_stack

pytestmark = pytest.mark.docker

PREFIX, PORT, PROM_PORT = "sdharden", 25280, 25390
MiB = 1024 * 1024
LIMITS = {"app": {"memory": "200m", "pids": 100}, "nginx": {"memory": "96m", "pids": 40},
          "opa": {"memory": "300m", "pids": 200}, "prometheus": {"memory": "700m", "pids": 220}}
CONTAINERS = {f"{PREFIX}-app": "app", f"{PREFIX}-app-canary": "app", f"{PREFIX}-nginx": "nginx",
              f"{PREFIX}-opa": "opa", f"{PREFIX}-prometheus": "prometheus"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("hardening"), prefix=PREFIX, base_port=PORT, limits=LIMITS,
                        opa={"engine": "sidecar", "image": ensure_opa_standin(), "port": PORT + 2,
                             "container_name": f"{PREFIX}-opa"},
                        metrics={"source": "prometheus", "prometheus": {
                            "port": PROM_PORT, "container_name": f"{PREFIX}-prometheus"}})
    try:
        ok(run_cli(path, "bootstrap"))  # the Prometheus image, as `make test` makes it
        ok(run_cli(path, "deploy"))
        ok(run_cli(path, "promote", "--mode", "canary"))
        yield path
    finally:
        run_cli(path, "teardown", "--clean")
        remove_stack(PREFIX)


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name))[0]


@pytest.mark.parametrize("name", CONTAINERS)
def test_each_container_is_limited_and_least_privileged(manifest, name):
    info = inspect(name)
    host, config = info["HostConfig"], info["Config"]
    limit = LIMITS[CONTAINERS[name]]
    assert info["State"]["Running"], info["State"]
    assert host["Memory"] == int(limit["memory"][:-1]) * MiB and host["MemorySwap"] == host["Memory"]
    assert host["PidsLimit"] == limit["pids"]
    assert host["CapDrop"] == ["ALL"] or set(host["CapDrop"]) == {"ALL"}
    assert "no-new-privileges:true" in (host["SecurityOpt"] or [])
    assert host["ReadonlyRootfs"] is True
    if CONTAINERS[name] == "nginx":
        assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == ["CHOWN", "SETGID", "SETUID"]
    else:
        assert not host["CapAdd"]
        assert config["User"] not in ("", "0", "root") and not config["User"].startswith("0:"), config["User"]


def test_nginx_workers_are_not_root_and_traffic_flows(manifest):
    """The master may be root (it starts the worker); the worker that serves requests is not."""
    rows = [line.split(None, 3) for line in docker("top", f"{PREFIX}-nginx", "-o", "uid,pid,ppid,args").splitlines()[1:]]
    pids = {pid for _, pid, _, _ in rows}
    workers = [uid for uid, _, ppid, args in rows if ppid in pids and "nginx" in args]
    assert workers and all(uid != "0" for uid in workers), rows
    for _ in range(20):
        assert requests.get(f"http://127.0.0.1:{PORT}/", timeout=5).status_code == 200
