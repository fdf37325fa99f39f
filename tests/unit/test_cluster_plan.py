"""The cluster planner and layout: from (inventory, what the nodes and a manager said) to joins,
labels and removals, or a refusal. The docker JSON is what three real docker 20.10 nodes printed
(tests/fixtures/cluster/: `docker info --format '{{json .Swarm}}'`, `docker node inspect --format
'{{json .}}'`); the swarm there is node1 (manager, leader), node2 and node3 (workers)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from swiftlib.cluster import commands as cmd
from swiftlib.cluster.layout import layout_of
from swiftlib.cluster.observed import parse_members, parse_node_view
from swiftlib.cluster.plan import acting_manager, plan
from swiftlib.cluster.status import rows
from swiftlib.errors import InventoryError
from swiftlib.inventory import parse_inventory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cluster"
MANAGER = parse_node_view((FIXTURES / "info-manager.json").read_text())
WORKER = parse_node_view((FIXTURES / "info-worker.json").read_text())
INACTIVE = parse_node_view((FIXTURES / "info-inactive.json").read_text())
MEMBERS = parse_members((FIXTURES / "members.jsonl").read_text())
SWARM = MANAGER.cluster_id
NODE3 = dataclasses.replace(WORKER, node_id="mhja71ultbvlw07koaowojxui", address="172.23.0.4")

ONE_MANAGER = """
[managers]
node1 ansible_host=172.23.0.3
[workers]
node2 ansible_host=172.23.0.2
node3 ansible_host=172.23.0.4
"""


def layout(text: str = ONE_MANAGER):
    return layout_of(parse_inventory(text, "inventory.ini"))


def formed(**changes):
    views = {"node1": MANAGER, "node2": WORKER, "node3": NODE3}
    views.update(changes)
    return views


def planned(views, members=MEMBERS, swarm_id=SWARM, text=ONE_MANAGER):
    wanted = layout(text)
    return plan(wanted, views, members, swarm_id, acting_manager(wanted, views, swarm_id))


def kinds(result):
    return [(a.kind, a.host, a.role) for a in result.actions]


def test_the_fixtures_are_one_swarm_seen_from_both_sides():
    assert MANAGER.is_manager and MANAGER.state == "active" and SWARM
    assert not WORKER.is_manager and WORKER.cluster_id == "" and WORKER.remote_managers == ("172.23.0.3:2377",)
    assert not INACTIVE.in_swarm
    assert [(m.hostname, m.role, m.leader, m.state) for m in MEMBERS] == [
        ("node1", "manager", True, "ready"), ("node2", "worker", False, "ready"), ("node3", "worker", False, "ready")]


@pytest.mark.parametrize("text, says", [
    ("[managers]\na\nb\n", "2 managers (a, b) have no quorum"),
    ("[workers]\na\n", "no group `managers`"),
    ("[managers]\na\n[workers]\na\n", "host a is in both `managers` and `workers`"),
    ("[managers]\na ansible_connection=local\n", "host a: ansible_connection=local"),
    ("[managers]\na swarm_advertise_addr=eth0\n", "swarm_advertise_addr='eth0' is not an IP address"),
])
def test_a_layout_that_cannot_be_a_cluster_is_refused_naming_the_file(text, says):
    with pytest.raises(InventoryError) as caught:
        layout(text)
    assert says in str(caught.value) and "inventory.ini" in str(caught.value)
    assert caught.value.exit_code == 2


def test_one_or_three_managers_come_first_and_advertise_their_inventory_address():
    three = layout("[managers]\nm[1:3]\n[workers]\nw1 ansible_host=10.0.0.9\nw2 ansible_host=w2.example\n")
    assert [(n.name, n.role) for n in three.nodes] == [
        ("m1", "manager"), ("m2", "manager"), ("m3", "manager"), ("w1", "worker"), ("w2", "worker")]
    # A name is not an address Swarm can advertise: Docker picks one on the node.
    assert three["w1"].advertise == "10.0.0.9" and three["w2"].advertise == ""


def test_fresh_nodes_get_one_init_then_joins():
    result = planned({"node1": INACTIVE, "node2": INACTIVE, "node3": INACTIVE}, members=[], swarm_id="")
    assert kinds(result) == [("init", "node1", "manager"), ("join", "node2", "worker"), ("join", "node3", "worker")]
    assert result.acting == "node1" and not result.refusals


def test_managers_join_before_workers():
    text = "[managers]\nm1\nm2\nm3\n[workers]\nw1\n"
    views = {name: INACTIVE for name in ("m1", "m2", "m3", "w1")}
    result = planned(views, members=[], swarm_id="", text=text)
    assert kinds(result) == [("init", "m1", "manager"), ("join", "m2", "manager"), ("join", "m3", "manager"),
                             ("join", "w1", "worker")]


def test_a_formed_swarm_needs_nothing():
    result = planned(formed())
    assert result.actions == () and result.refusals == () and result.acting == "node1"


def test_a_node_left_out_of_the_inventory_is_removed():
    two = ONE_MANAGER.replace("node3 ansible_host=172.23.0.4\n", "")
    result = planned({"node1": MANAGER, "node2": WORKER}, text=two)
    assert kinds(result) == [("remove", "node3", "worker")]
    assert result.actions[0].node_id == NODE3.node_id


def test_an_unreachable_node_still_in_the_inventory_is_not_removed():
    result = planned(formed(node3=None))
    assert result.actions == ()


def test_a_member_swiftdeploy_did_not_join_is_left_alone():
    stranger = dataclasses.replace(MEMBERS[2], labels={}, hostname="someone-elses")
    result = planned(formed(node3=None), members=[*MEMBERS[:2], stranger])
    assert result.actions == () and result.unmanaged == ("someone-elses",)


def test_a_host_in_another_swarm_is_refused_and_nothing_is_planned():
    other = dataclasses.replace(MANAGER, cluster_id="another1swarm", node_id="x" * 25)
    result = planned({"node1": MANAGER, "node2": WORKER, "node3": other})
    assert result.actions == ()
    assert [host for host, _ in result.refusals] == ["node3"]
    assert "already in swarm another1swarm" in result.refusals[0][1] and "never takes a node over" in result.refusals[0][1]


def test_without_a_record_a_swarm_already_there_is_not_ours():
    result = planned(formed(), swarm_id="")
    assert {host for host, _ in result.refusals} == {"node1", "node2", "node3"}
    assert "a swarm managed at 172.23.0.3:2377" in dict(result.refusals)["node2"]


def test_a_worker_of_a_foreign_swarm_is_refused_even_beside_ours():
    foreign = dataclasses.replace(WORKER, node_id="y" * 25, remote_managers=("10.9.9.9:2377",))
    result = planned(formed(node3=foreign))
    assert [host for host, _ in result.refusals] == ["node3"]


def test_a_worker_the_swarm_dropped_while_it_was_away_rejoins():
    gone = dataclasses.replace(NODE3, node_id="z" * 25)  # it still points at our manager
    result = planned(formed(node3=gone), members=MEMBERS[:2])
    assert kinds(result) == [("rejoin", "node3", "worker")]


def test_a_role_or_label_that_differs_from_the_inventory_is_changed():
    three = "[managers]\nnode1\nnode2\nnode4\n[workers]\nnode3\n"
    members = [MEMBERS[0], dataclasses.replace(MEMBERS[1], labels={}), MEMBERS[2]]
    result = planned(formed(node4=INACTIVE), members=members, text=three)
    assert kinds(result) == [("join", "node4", "manager"), ("promote", "node2", "manager"),
                             ("label", "node2", "manager")]


def test_a_recorded_swarm_whose_managers_cannot_be_reached_is_never_replaced():
    result = planned(formed(node1=None))
    assert result.actions == () and result.acting == ""


def test_a_recorded_swarm_that_is_gone_is_formed_again():
    result = planned({"node1": INACTIVE, "node2": INACTIVE, "node3": INACTIVE}, members=[])
    assert kinds(result)[0] == ("init", "node1", "manager")
    assert "has no manager left" in result.actions[0].describe()


def test_status_rows_show_a_stopped_node_as_the_swarm_sees_it():
    down = dataclasses.replace(MEMBERS[2], state="down")
    shown = rows(layout(), formed(node3=None), [*MEMBERS[:2], down])
    assert [(r.name, r.reachable, r.state, r.role, r.leader, r.healthy) for r in shown] == [
        ("node1", True, "ready", "manager", True, True), ("node2", True, "ready", "worker", False, True),
        ("node3", False, "down", "worker", False, False)]
    assert shown[2].summary() == "unreachable over SSH, down, active, worker"
    assert shown[0].summary() == "reachable, ready, active, manager (leader)"


def test_the_join_token_never_appears_in_an_argv():
    argv = cmd.swarm_join("172.23.0.3:2377", "172.23.0.2")
    assert not any("SWMTKN" in part for part in argv) and "read -r token" in argv[2]
