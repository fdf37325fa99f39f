"""Each node as the infrastructure policy sees it (swiftlib/cluster/node_facts.py), the swarm
runtime's ``nodes()`` reading it over fake hosts, and the infrastructure gate sending it.

tests/fixtures/cluster/members.jsonl is what three real docker 20.10 nodes printed for
`docker node inspect --format '{{json .}}'`; members-degraded.jsonl is made from those lines with the
states docker prints for a stopped node (`down`, "heartbeat failure", a manager `unreachable`), a
drained manager, a node that joined again while its old entry stayed behind, and two members the
inventory does not name.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from invoke import MockContext, Result

from swiftlib.cluster import commands as cmd
from swiftlib.cluster.layout import layout_of
from swiftlib.cluster.node_facts import node_facts_from_inspect
from swiftlib.errors import PolicyDenied
from swiftlib.host import Host
from swiftlib.hoststats import HostStatsUnavailable, parse_stats
from swiftlib.inventory import parse_inventory
from swiftlib.lifecycle import gates
from swiftlib.lifecycle.context import Project, Target
from swiftlib.policy import EmbeddedEngine, cluster_input, infrastructure_input
from swiftlib.results import Reporter
from swiftlib.runtime.compose import ComposeRuntime
from swiftlib.runtime.swarm import SwarmRuntime

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MEMBERS = (FIXTURES / "cluster" / "members.jsonl").read_text()
DEGRADED = (FIXTURES / "cluster" / "members-degraded.jsonl").read_text()
STATS_OUTPUT = (FIXTURES / "hoststats" / "local_gnu.txt").read_text()
STATS = parse_stats(STATS_OUTPUT).to_dict()

THREE = layout_of(parse_inventory("[managers]\nnode1\n[workers]\nnode2\nnode3\n", "inventory.ini"))
SIX = layout_of(parse_inventory("[managers]\nnode1\nnode2\nnode3\n[workers]\nnode4\nnode5\nnode6\n",
                                "inventory.ini"))


def test_a_formed_swarm_every_node_reached_is_all_ready():
    facts = node_facts_from_inspect(THREE, MEMBERS, {"node1": STATS, "node2": STATS, "node3": STATS})
    assert [(f.name, f.role, f.reachable, f.ready, f.availability, f.manager_reachable) for f in facts] == [
        ("node1", "manager", True, True, "active", True),
        ("node2", "worker", True, True, "active", False),
        ("node3", "worker", True, True, "active", False),
    ]
    assert facts[0].to_input() == {
        "name": "node1", "role": "manager", "ready": True, "reachable": True,
        "disk_free_gb": STATS["disk_free_gb"], "cpu_load": STATS["cpu_load"], "manager_reachable": True,
        "state": "ready", "availability": "active"}


def test_a_degraded_swarm_as_the_acting_manager_sees_it():
    measured = {"node1": STATS, "node3": STATS, "node5": STATS, "node6": STATS}  # SSH reached these
    facts = {f.name: f for f in node_facts_from_inspect(SIX, DEGRADED, measured)}
    assert list(facts) == ["node1", "node2", "node3", "node4", "node5", "node6"]  # the inventory's, in order
    row = {name: (f.reachable, f.member, f.state, f.ready, f.manager_reachable) for name, f in facts.items()}
    assert row == {
        "node1": (True, True, "ready", True, True),      # the leader
        "node2": (False, True, "down", False, False),    # a manager stopped: unreachable
        "node3": (True, True, "ready", True, True),      # drained, still up and a reachable manager
        "node4": (False, True, "down", False, False),
        "node5": (True, True, "ready", True, False),     # joined again: its ready entry stands for it
        "node6": (True, False, "", False, False),        # reached over SSH, not in the swarm
    }
    assert facts["node3"].availability == "drain"
    assert facts["node6"].to_input()["state"] == "absent"
    # members the inventory does not name (no label, or a host no longer in it) are not nodes here
    assert "stranger" not in facts and "old-node" not in facts


def test_a_node_ssh_did_not_reach_is_known_by_its_label_and_not_measured():
    facts = node_facts_from_inspect(THREE, MEMBERS, {"node1": STATS, "node2": STATS})
    node3 = facts[2]
    assert (node3.name, node3.reachable, node3.ready) == ("node3", False, True)
    entry = node3.to_input()
    assert entry["disk_free_gb"] is None and entry["cpu_load"] is None


def test_a_node_missing_from_the_swarm_and_ssh_is_neither_ready_nor_reachable():
    facts = node_facts_from_inspect(THREE, "", {})
    assert [(f.member, f.reachable, f.ready) for f in facts] == [(False, False, False)] * 3


def test_the_degraded_swarm_reads_as_the_policy_input_and_is_denied():
    measured = {"node1": STATS, "node3": STATS, "node5": STATS, "node6": STATS}
    cluster = cluster_input([f.to_input() for f in node_facts_from_inspect(SIX, DEGRADED, measured)])
    assert {k: v for k, v in cluster.items() if k != "nodes"} == {
        "nodes_desired": 6, "nodes_ready": 3, "managers_desired": 3, "managers_reachable": 2}
    limits = {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0, "min_certificate_days": 7, "max_nodes_down": 2}
    decision = EmbeddedEngine(ROOT / "policies").decide("infrastructure", infrastructure_input(STATS, limits,
                                                                                              cluster=cluster))
    assert not decision.allow
    assert decision.reasons == (
        "nodes not ready: 3 of 6 (node2, node4, node6), more than policy_limits.infrastructure.max_nodes_down "
        "allows (2); bring them back (see `inv cluster`), or raise policy_limits.infrastructure.max_nodes_down "
        "to deploy anyway",)


# --- the runtimes' nodes() --------------------------------------------------------------------

class Lost:
    """A runner whose connection dropped: every command raises as paramiko's would."""

    def run(self, command, **kwargs):
        raise EOFError("connection closed")


def node_host(name: str, stats: str = STATS_OUTPUT) -> Host:
    ctx = MockContext(run={re.compile(r"^sh -c "): Result(stats)}, repeat=True)
    return Host(ctx, name=name, remote=True)


def manager_host(inspect: str) -> Host:
    ids = " ".join(json.loads(line)["ID"] for line in inspect.splitlines() if line.strip())
    answers = {re.compile("^" + re.escape(shlex.join(cmd.node_ids())) + "$"): Result(ids + "\n"),
               re.compile("^" + re.escape(shlex.join(cmd.node_inspect([]))) + " "): Result(inspect)}
    return Host(MockContext(run=answers, repeat=True), name="swarm", remote=True)


def swarm(nodes: dict[str, Host], inspect: str = MEMBERS) -> SwarmRuntime:
    target = SimpleNamespace(host=manager_host(inspect), name="swarm")
    return SwarmRuntime(target, nodes, layout=THREE)


def test_the_swarm_runtime_reads_every_reached_node_and_the_swarm_s_view():
    facts = swarm({"node1": node_host("node1"), "node2": node_host("node2")}).nodes()
    assert [(f.name, f.reachable, f.ready, f.stats) for f in facts] == [
        ("node1", True, True, STATS), ("node2", True, True, STATS), ("node3", False, True, None)]


def test_a_node_lost_since_the_run_began_counts_as_not_reached():
    facts = swarm({"node1": node_host("node1"), "node2": Host(Lost(), name="node2", remote=True)}).nodes()
    assert [(f.name, f.reachable) for f in facts] == [("node1", True), ("node2", False), ("node3", False)]


def test_a_node_whose_stats_cannot_be_read_fails_naming_it():
    broken = node_host("node2", stats="@@swiftdeploy:root\n/\n")
    with pytest.raises(HostStatsUnavailable) as caught:
        swarm({"node1": node_host("node1"), "node2": broken}).nodes()
    assert caught.value.host == "node2" and caught.value.exit_code == 1


def test_the_compose_runtime_has_no_nodes_of_its_own():
    assert ComposeRuntime(SimpleNamespace()).nodes() is None


# --- the gate passes what the runtime says ------------------------------------------------------

@pytest.fixture
def project(tmp_path) -> Project:
    shutil.copy(ROOT / "manifest.yaml", tmp_path / "manifest.yaml")
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return Project.load(tmp_path / "manifest.yaml")


def gate_target(project: Project, nodes) -> Target:
    target = Target.local(project, node_host("local"))
    target.runtime = SimpleNamespace(nodes=lambda: nodes)
    return target


def audited_input(project: Project) -> dict:
    event = project.audit.read()[-1]
    assert event["event_type"] in ("policy_check", "policy_violation")
    return event["data"]["input"]


def test_the_infrastructure_gate_sends_the_runtime_s_nodes_beside_the_acting_host(project):
    facts = node_facts_from_inspect(THREE, MEMBERS, {"node1": STATS, "node2": STATS})
    decision = gates.infrastructure_gate(project, gate_target(project, facts), Reporter(lambda line: None),
                                         EmbeddedEngine(project.policies_dir))
    sent = audited_input(project)
    assert sent["stats"] == STATS  # the acting host's, as before
    assert sent["limits"]["max_nodes_down"] == 0
    assert {k: v for k, v in sent["cluster"].items() if k != "nodes"} == {
        "nodes_desired": 3, "nodes_ready": 3, "managers_desired": 1, "managers_reachable": 1}
    assert [n["name"] for n in sent["cluster"]["nodes"]] == ["node1", "node2", "node3"]
    assert decision.allow and "3/3 nodes ready" in decision.reasons[0]  # the checkout's limits: 5 GB, load 8
    assert decision.reasons[0].endswith("(not reached over SSH: node3)")


def test_without_nodes_from_the_runtime_the_gate_sends_no_cluster_and_answers_as_before(project):
    decision = gates.infrastructure_gate(project, gate_target(project, None), Reporter(lambda line: None),
                                         EmbeddedEngine(project.policies_dir))
    assert "cluster" not in audited_input(project)
    assert decision.reasons == ("infrastructure policy passed: disk free 85.11 GB (minimum 5.00 GB), "
                                "cpu load 0.56 (maximum 8.00)",)


def test_a_swarm_with_too_many_nodes_down_is_denied_by_the_gate(project):
    facts = node_facts_from_inspect(SIX, DEGRADED, {"node1": STATS, "node3": STATS})
    with pytest.raises(PolicyDenied) as caught:
        gates.infrastructure_gate(project, gate_target(project, facts), Reporter(lambda line: None),
                                  EmbeddedEngine(project.policies_dir))
    assert caught.value.exit_code == 3
    assert "nodes not ready: 3 of 6 (node2, node4, node6)" in caught.value.message
    assert "raise policy_limits.infrastructure.max_nodes_down to deploy anyway" in caught.value.message
