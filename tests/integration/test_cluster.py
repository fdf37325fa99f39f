"""`swiftdeploy cluster --init` and `swiftdeploy cluster` on real Swarm nodes over real SSH.

Four docker-in-docker nodes (tests/integration/swarm_nodes.py) are shared by the module, and the tests
run in order on one swarm: node1 manager, node2 and node3 workers; node4 plays a host that someone
else already made part of another swarm. The CLI runs as a user runs it, with a HOME whose
known_hosts holds the nodes' real host keys.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, exited
from tests.integration.fleet_env import ClientHome
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.swarm_nodes import SwarmNodes, started_nodes, trusting_home

pytestmark = [pytest.mark.docker, pytest.mark.sshd]


@pytest.fixture(scope="module")
def nodes(client_key):  # noqa: F811
    with started_nodes("sdswarm", 4, client_key) as started:
        yield started


@pytest.fixture(scope="module")
def home(tmp_path_factory, client_key, nodes):  # noqa: F811
    return trusting_home(tmp_path_factory.mktemp("cluster-home"), client_key, nodes)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cluster-project")
    shutil.copy(REPO / "manifest.yaml", root / "manifest.yaml")
    return root


def inventory(project: Path, nodes: SwarmNodes, managers: list[str], workers: list[str], name: str = "hosts.ini") -> Path:
    line = lambda n: f"{n} ansible_host={nodes[n].address} ansible_user=root"  # noqa: E731
    path = project / name
    path.write_text("\n".join(["[managers]", *map(line, managers), "", "[workers]", *map(line, workers), ""]))
    return path


def cluster(home: ClientHome, project: Path, *args: str):
    return home.inv(project / "manifest.yaml", "cluster", "--connect-timeout", "3", *args, timeout=300)


def swarm_of(nodes: SwarmNodes) -> dict[str, dict]:
    """Each node's own view of its swarm membership."""
    return {node.name: node.swarm() for node in nodes.nodes}


def members(nodes: SwarmNodes, manager: str = "node1") -> dict[str, dict]:
    out = nodes[manager].sh("docker node inspect --format '{{json .}}' $(docker node ls -q)").stdout
    return {n["Description"]["Hostname"]: n for n in map(json.loads, out.splitlines())}


def test_check_on_fresh_nodes_says_what_it_would_do_and_changes_nothing(nodes, home, project):
    hosts = inventory(project, nodes, ["node1"], ["node2", "node3"])
    out = exited(cluster(home, project, "--init", "--check", "-i", str(hosts))).stdout
    assert "changed: [node1] => would initialize a new swarm on node1 (manager)" in out
    assert "changed: [node2] => would join the swarm as a worker" in out
    assert all(view["LocalNodeState"] == "inactive" for view in swarm_of(nodes).values())
    assert not (project / ".swiftdeploy" / "cluster.json").exists()


def test_init_forms_the_swarm_from_the_inventory_and_labels_it(nodes, home, project):
    hosts = inventory(project, nodes, ["node1"], ["node2", "node3"])
    out = exited(cluster(home, project, "--init", "-i", str(hosts))).stdout
    assert "changed: [node1] => initialized swarm" in out and "changed: [node3] => joined as a worker" in out
    seen = members(nodes)
    assert sorted(seen) == ["node1", "node2", "node3"]
    assert seen["node1"]["ManagerStatus"]["Leader"] and seen["node2"]["Spec"]["Role"] == "worker"
    assert seen["node3"]["Spec"]["Labels"] == {"org.swiftdeploy.host": "node3", "org.swiftdeploy.role": "worker"}
    record = json.loads((project / ".swiftdeploy" / "cluster.json").read_text())
    assert record["swarm_id"] == nodes["node1"].swarm()["Cluster"]["ID"]
    events = [json.loads(line) for line in (project / "history.jsonl").read_text().splitlines()]
    assert events[-1]["event_type"] == "cluster" and events[-1]["data"]["swarm_id"] == record["swarm_id"]


def test_a_second_run_changes_nothing_and_says_ok(nodes, home, project):
    before = swarm_of(nodes)
    out = exited(cluster(home, project, "--init", "-i", str(project / "hosts.ini"))).stdout
    assert "changed" not in out.split("PLAY RECAP")[0]
    assert "ok: [node1] => manager (leader), ready, active, labelled" in out
    assert "changed=0" in out and "changed=1" not in out
    assert {n: v["NodeID"] for n, v in swarm_of(nodes).items()} == {n: v["NodeID"] for n, v in before.items()}


def test_status_shows_every_node_reachable_ready_and_its_role(nodes, home, project):
    result = exited(cluster(home, project, "-i", str(project / "hosts.ini")))
    assert "ok: [node1] => reachable, ready, active, manager (leader)" in result.stdout
    assert "ok: [node3] => reachable, ready, active, worker" in result.stdout
    doc = json.loads(exited(cluster(home, project, "-i", str(project / "hosts.ini"), "--json")).stdout)
    rows = {r["host"]: r["data"] for r in doc["results"]}
    assert rows["node2"] | {"node_id": ""} == {
        "name": "node2", "wanted_role": "worker", "reachable": True, "member": True, "state": "ready",
        "availability": "active", "role": "worker", "leader": False, "manager_reachability": "", "node_id": ""}
    assert doc["exit_code"] == 0


def test_check_with_a_node_left_out_says_it_would_remove_it_and_removes_nothing(nodes, home, project):
    smaller = inventory(project, nodes, ["node1"], ["node2"], name="smaller.ini")
    out = exited(cluster(home, project, "--init", "--check", "-i", str(smaller))).stdout
    assert "changed: [node3] => would remove from the swarm (no longer in the inventory)" in out
    assert sorted(members(nodes)) == ["node1", "node2", "node3"]


def test_a_node_taken_out_of_the_inventory_leaves_the_swarm_and_a_new_one_joins(nodes, home, project):
    smaller = project / "smaller.ini"
    out = exited(cluster(home, project, "--init", "-i", str(smaller))).stdout
    assert "changed: [node3] => drained, removed from the swarm (it left)" in out
    assert sorted(members(nodes)) == ["node1", "node2"]
    assert nodes["node3"].swarm()["LocalNodeState"] == "inactive"
    out = exited(cluster(home, project, "--init", "-i", str(project / "hosts.ini"))).stdout
    assert "changed: [node3] => joined as a worker; labelled" in out
    assert sorted(members(nodes)) == ["node1", "node2", "node3"]


def test_a_host_already_in_another_swarm_is_refused_and_nothing_changes(nodes, home, project):
    nodes["node4"].sh(f"docker swarm init --advertise-addr {nodes['node4'].address} >/dev/null")
    theirs = nodes["node4"].swarm()["Cluster"]["ID"]
    wider = inventory(project, nodes, ["node1"], ["node2", "node3", "node4"], name="wider.ini")
    result = exited(cluster(home, project, "--init", "-i", str(wider)), 2)
    assert "fatal: [node4]: FAILED!" in result.stdout and f"already in swarm {theirs}" in result.stdout
    assert "nothing was changed on any host" in result.stdout
    assert nodes["node4"].swarm()["Cluster"]["ID"] == theirs
    assert sorted(members(nodes)) == ["node1", "node2", "node3"]


def test_two_managers_are_refused_before_any_host_is_contacted(nodes, home, project):
    two = inventory(project, nodes, ["node1", "node2"], ["node3"], name="two.ini")
    result = exited(cluster(home, project, "--init", "-i", str(two)), 2)
    assert "2 managers (node1, node2) have no quorum" in result.stderr
    assert members(nodes)["node2"]["Spec"]["Role"] == "worker"


def test_a_stopped_node_shows_unreachable_and_down(nodes, home, project):
    stopped = nodes["node3"]
    from tests.integration.swarm_nodes import docker

    docker("stop", "-t", "5", stopped.container)
    deadline = time.monotonic() + 60
    while True:
        result = cluster(home, project, "-i", str(project / "hosts.ini"))
        if "down, active, worker" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(2)
    out = exited(result, 6).stdout
    assert 'fatal: [node3]: UNREACHABLE! => {"changed": false, "msg": "unreachable over SSH, down, active, worker"' in out
    assert "ok: [node1] => reachable, ready, active, manager (leader)" in out
    # --init leaves an unreachable node alone (and reports it): it is not removed from the swarm.
    out = exited(cluster(home, project, "--init", "-i", str(project / "hosts.ini")), 6).stdout
    assert "fatal: [node3]: UNREACHABLE!" in out and sorted(members(nodes)) == ["node1", "node2", "node3"]
