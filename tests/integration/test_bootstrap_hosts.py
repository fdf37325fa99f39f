"""`swiftdeploy bootstrap --hosts/--inventory` on fresh servers over real SSH.

Two "bare" docker-in-docker nodes (tests/integration/swarm_nodes.py: Debian 12 with openssh-server
and sudo only, no Docker engine) play fresh servers: node1 is reached as root, node2 as `deploy`,
a login with passwordless sudo; `nosudo` on node1 has neither. apt inside the nodes uses the
sources debootstrap wrote there (the mirror this machine's apt uses). The tests run in order on
the same nodes: refused login first (nothing installed), then the install, then the second run.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, exited
from tests.integration.fleet_env import ClientHome
from tests.integration.sshd import client_key, closed_port  # noqa: F401 - fixture
from tests.integration.swarm_nodes import SwarmNodes, started_nodes, trusting_home

pytestmark = [pytest.mark.docker, pytest.mark.sshd]

STEPS = ["root access", "system libraries", "docker engine", "compose v2", "docker access"]


@pytest.fixture(scope="module")
def nodes(client_key):  # noqa: F811
    with started_nodes("sdboot", 2, client_key, bare=True) as started:
        started["node1"].add_login("nosudo", client_key, sudo=False)
        started["node2"].add_login("deploy", client_key, sudo=True)
        yield started


@pytest.fixture(scope="module")
def home(tmp_path_factory, client_key, nodes):  # noqa: F811
    return trusting_home(tmp_path_factory.mktemp("bootstrap-home"), client_key, nodes)


@pytest.fixture(scope="module")
def project(tmp_path_factory, nodes) -> Path:
    root = tmp_path_factory.mktemp("bootstrap-project")
    shutil.copy(REPO / "manifest.yaml", root / "manifest.yaml")
    (root / "hosts.ini").write_text(
        "[servers]\n"
        f"node1 ansible_host={nodes['node1'].address} ansible_user=root\n"
        f"node2 ansible_host={nodes['node2'].address} ansible_user=deploy\n")
    return root


def bootstrap(home: ClientHome, project: Path, *args: str):
    return home.inv(project / "manifest.yaml", "bootstrap", "--connect-timeout", "5", *args, timeout=600)


def over_ssh(home: ClientHome, nodes: SwarmNodes, node: str, user: str, command: list[str]) -> str:
    """``command``'s output on ``node``, run by ``user`` over a new SSH session."""
    from swiftlib.remote.connect import HostSpec, connect

    spec = HostSpec(node, nodes[node].address, 22, user, str(home.key.private))
    host = connect(spec, connect_timeout=5, known_hosts=str(home.known_hosts))
    try:
        return host.run(command, timeout=60).stdout
    finally:
        host.connection.close()


def installed(nodes: SwarmNodes, node: str, package: str) -> bool:
    return "install ok installed" in nodes[node].sh(f"dpkg-query -W -f='${{Status}}' {package} || true").stdout


def test_a_login_neither_root_nor_with_sudo_is_refused_naming_the_host_and_nothing_is_installed(nodes, home, project):
    address = nodes["node1"].address
    result = exited(bootstrap(home, project, "--hosts", f"nosudo@{address}"), 2)
    assert f"fatal: [{address}]: FAILED!" in result.stdout
    assert (f"bootstrap needs root on {address}: the login 'nosudo' is not root and it may not use sudo without "
            "a password (`sudo -n true`: sudo: a password is required)") in result.stdout
    assert "TASK [bootstrap: root access]" in result.stdout and "TASK [bootstrap: docker engine]" not in result.stdout
    assert not installed(nodes, "node1", "docker.io")


def test_bootstrap_by_inventory_installs_the_engine_and_compose_v2_as_root_and_with_sudo(nodes, home, project):
    out = exited(bootstrap(home, project, "-i", str(project / "hosts.ini"))).stdout
    for step in STEPS:
        assert f"TASK [bootstrap: {step}]" in out
    assert "ok: [node1] => logged in as root" in out
    assert "ok: [node2] => deploy with passwordless sudo (sudo -n)" in out
    for node in ("node1", "node2"):
        assert f"changed: [{node}] => installed docker.io iptables, started dockerd; Docker engine" in out
        assert f"changed: [{node}] => added pinned trixie apt source; installed docker-compose from trixie" in out
        assert f"  ... [{node}] apt-get install docker.io iptables" in out  # progress per host
    assert "changed: [node2] => added deploy to the docker group" in out
    assert "ok: [node1] => root uses the engine directly" in out
    assert "images are not built on remote hosts" in out and "docker save | ssh | docker load" in out
    assert "node1                      : ok=5    changed=3" in out and "node2                      : ok=5    changed=4" in out
    # Deployable: compose v2 answers over SSH, for `deploy` without sudo too (a new session has the group).
    assert over_ssh(home, nodes, "node1", "root", ["docker", "compose", "version"]).startswith("Docker Compose version 2.")
    assert over_ssh(home, nodes, "node2", "deploy", ["docker", "compose", "version"]).startswith("Docker Compose version 2.")
    assert over_ssh(home, nodes, "node2", "deploy", ["docker", "info", "--format", "{{.ServerVersion}}"]).strip()


def test_a_second_run_changes_nothing_and_says_ok_for_each_step(nodes, home, project):
    out = exited(bootstrap(home, project, "-i", str(project / "hosts.ini"))).stdout
    assert "changed:" not in out
    for node in ("node1", "node2"):
        assert f"{node:<26} : ok=5    changed=0    unreachable=0    failed=0" in out
        assert f"ok: [{node}] => docker compose 2." in out
        assert f"ok: [{node}] => Docker engine 20." in out


def test_limit_selects_inventory_hosts_and_an_unreachable_host_exits_6(nodes, home, project):
    out = exited(bootstrap(home, project, "-i", str(project / "hosts.ini"), "--limit", "node2")).stdout
    assert "[node2]" in out and "[node1]" not in out
    result = exited(bootstrap(home, project, "--hosts", f"root@{nodes['node1'].address},root@127.0.0.1:{closed_port()}"), 6)
    assert "fatal: [127.0.0.1:" in result.stdout and "UNREACHABLE!" in result.stdout
    assert f"ok: [{nodes['node1'].address}] => docker compose 2." in result.stdout
