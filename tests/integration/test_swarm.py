"""The lifecycle on a real three-node Swarm (`deploy.runtime: swarm`), over real SSH.

Four docker-in-docker nodes (tests/integration/swarm_nodes.py), node1-node3 managers and node4 a
worker, formed by `inv cluster --init`, are shared by the module; the tests run in order on one
stack, as a user would: deploy (images streamed to every node), a second deploy that changes
nothing, a canary beside stable, promotion under load (a rolling update of every stable task), a
version that never gets healthy (Swarm rolls it back; we exit 5), rollback, then failures: the
worker killed under load (its tasks rescheduled, a deploy while it is down as the policy says), the
acting manager killed (deploys and rollbacks go on through another), and teardown. Requests go to
every node's public port: nginx runs on each (host-mode port) and reaches the app's tasks on any
node over the overlay network.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import exited
from tests.integration.fleet_env import ClientHome
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import Load, make_project
from tests.integration.swarm_nodes import SwarmNodes, docker, started_nodes, trusting_home

pytestmark = [pytest.mark.docker, pytest.mark.sshd]

PREFIX = "sdsw"
PORT = 18380
BROKEN_IMAGE = "swiftdeploy-app:swarm-never-healthy"


@pytest.fixture(scope="module")
def nodes(client_key):  # noqa: F811
    with started_nodes("sdswl", 4, client_key) as started:
        yield started


@pytest.fixture(scope="module")
def home(tmp_path_factory, client_key, nodes):  # noqa: F811
    return trusting_home(tmp_path_factory.mktemp("swarm-home"), client_key, nodes)


@pytest.fixture(scope="module")
def project(tmp_path_factory, nodes, home) -> Path:
    root = tmp_path_factory.mktemp("swarm-project")
    for version in ("2.0.0", "3.0.0"):  # the app answers with APP_VERSION: a new tag is a new version
        docker("tag", "swiftdeploy-app:1.0.0", f"swiftdeploy-app:{version}")
    manifest = make_project(root, prefix=PREFIX, base_port=PORT)
    doc = yaml.safe_load(manifest.read_text())
    doc["deploy"].update(health_timeout_seconds=90)
    doc["opa"]["engine"] = "auto"
    doc["canary"].update(image="swiftdeploy-app:2.0.0", version="2.0.0")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    line = lambda n: f"{n} ansible_host={nodes[n].address} ansible_user=root"  # noqa: E731
    (root / "one.ini").write_text(line("node1") + "\n")  # where the project lives before it grows
    (root / "hosts.ini").write_text("\n".join(["[managers]", line("node1"), line("node2"), line("node3"), "",
                                               "[workers]", line("node4"), ""]))
    return root


def inv(home: ClientHome, project: Path, task: str, *args: str, timeout: float = 600,
        inventory: str = "hosts.ini") -> subprocess.CompletedProcess:
    return home.inv(project / "manifest.yaml", task, "--inventory", str(project / inventory),
                    "--connect-timeout", "5", *args, timeout=timeout)


def test_a_project_on_one_host_grows_into_a_cluster_as_the_readme_says(nodes, home, project):
    """README, "Growing from one host to a cluster": the steps in order, on a stack serving on node1."""
    node1 = f"http://{nodes['node1'].address}:{PORT}/"
    exited(inv(home, project, "bootstrap", inventory="one.ini", timeout=900))  # a host made ready (compose v2)
    exited(inv(home, project, "deploy", inventory="one.ini"))  # today: compose on one host
    assert requests.get(node1, timeout=5).json()["version"] == "1.0.0"
    exited(inv(home, project, "cluster", "--init"))  # 1. the swarm; the stack on node1 keeps serving
    assert requests.get(node1, timeout=5).json()["mode"] == "stable"
    # Forgetting step 2 (the one-host stack down first) is refused before anything changes: its names are taken.
    set_manifest(project, deploy={"runtime": "swarm"}, services={"replicas": 4}, canary={"replicas": 2})
    refused = inv(home, project, "deploy")
    assert refused.returncode == 2 and "compose project" in refused.stdout, refused.stdout + refused.stderr
    # (the images reached every node first; the canary's is the app's build under another tag: only tagged)
    assert "swiftdeploy-app:2.0.0 to node2 (the same image ID was there: tagged)" in refused.stdout, refused.stdout
    assert requests.get(node1, timeout=5).json()["mode"] == "stable"
    set_manifest(project, deploy={"runtime": "compose"}, services={"replicas": 1}, canary={"replicas": 1})
    exited(inv(home, project, "teardown", inventory="one.ini"))  # 2. the one-host stack down
    # 3. the manifest says swarm (4 tasks: one per node, the worker killed later runs one); 4. deploy
    set_manifest(project, deploy={"runtime": "swarm"}, services={"replicas": 4}, canary={"replicas": 2})
    # the audit trail goes on in the same file: the one-host events, then the swarm's
    events = [json.loads(line) for line in (project / "history.jsonl").read_text().splitlines()]
    assert {e["host"] for e in events if e["event_type"] == "deploy"} == {"node1"}


DEAD: set[str] = set()  # nodes a test has killed


def manager(nodes: SwarmNodes):
    return next(nodes[name] for name in ("node1", "node2", "node3") if name not in DEAD)


def live(nodes: SwarmNodes) -> list:
    return [node for node in nodes.nodes if node.name not in DEAD]


def services(nodes: SwarmNodes) -> dict[str, dict]:
    out = manager(nodes).sh("docker service ls --format '{{json .}}'").stdout
    return {s["Name"]: s for s in map(json.loads, out.splitlines())}


def task_nodes(nodes: SwarmNodes, service: str, state: str = "") -> list[str]:
    out = manager(nodes).sh(f"docker service ps --filter desired-state=running --format "
                            f"'{{{{.Node}}}} {{{{.CurrentState}}}}' {service}").stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip() and state in line)


def tasks_said(nodes: SwarmNodes, service: str) -> str:
    """For a failed assertion: each task of ``service``, where it ran, its state and error."""
    return manager(nodes).sh(f"docker service ps --no-trunc --format '{{{{.Node}}}} {{{{.CurrentState}}}} "
                             f"{{{{.Error}}}}' {service}", check=False).stdout


def answers(nodes: SwarmNodes, path: str = "/") -> dict[str, dict]:
    return {n.name: requests.get(f"http://{n.address}:{PORT}{path}", timeout=5).json() for n in live(nodes)}


def set_manifest(project: Path, **sections) -> None:
    doc = yaml.safe_load((project / "manifest.yaml").read_text())
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    (project / "manifest.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def test_deploy_runs_stable_on_every_node_behind_every_nodes_nginx(nodes, home, project):
    result = exited(inv(home, project, "deploy"))
    events = [json.loads(line) for line in (project / "history.jsonl").read_text().splitlines()]
    assert [e["host"] for e in events if e["event_type"] == "deploy"] == ["node1", "swarm"]
    assert "acting through manager node1" in result.stdout + result.stderr
    found = services(nodes)
    assert found[f"{PREFIX}_app"]["Replicas"] == "4/4"
    assert found[f"{PREFIX}_nginx"]["Mode"] == "global" and found[f"{PREFIX}_nginx"]["Replicas"] == "4/4", \
        tasks_said(nodes, f"{PREFIX}_nginx")
    assert task_nodes(nodes, f"{PREFIX}_app") == ["node1", "node2", "node3", "node4"]  # spread over the nodes
    # each node's own nginx answers on its own address, from stable
    for name, body in answers(nodes).items():
        assert body["mode"] == "stable" and body["version"] == "1.0.0", name
    # the files nginx mounts are on every node
    for node in nodes.nodes:
        node.sh("test -f /root/swiftdeploy/nginx.conf && test -f /root/swiftdeploy/nginx.d/traffic.conf")
    # no policy sidecar: the embedded engine decided
    assert f"{PREFIX}_opa" not in found
    assert "embedded" in result.stdout


def test_a_second_deploy_changes_nothing(nodes, home, project):
    before = nodes["node1"].sh(f"docker service ps -q {PREFIX}_app").stdout.split()
    result = exited(inv(home, project, "deploy"))
    assert nodes["node1"].sh(f"docker service ps -q {PREFIX}_app").stdout.split() == before
    assert "changed=0" in result.stdout.replace(" ", ""), result.stdout
    # --check agrees, and a new version is predicted (with --diff, the stack file's lines) and not made
    assert "changed=0" in exited(inv(home, project, "deploy", "--check")).stdout.replace(" ", "")
    set_manifest(project, services={"image": "swiftdeploy-app:3.0.0", "version": "3.0.0"})
    predicted = exited(inv(home, project, "deploy", "--check", "--diff")).stdout
    assert "+      APP_VERSION: \"3.0.0\"" in predicted and "changed: [swarm]" in predicted, predicted
    set_manifest(project, services={"image": "swiftdeploy-app:1.0.0", "version": "1.0.0"})
    assert nodes["node1"].sh(f"docker service ps -q {PREFIX}_app").stdout.split() == before


def test_a_canary_runs_beside_stable_on_its_share_of_the_traffic(nodes, home, project):
    exited(inv(home, project, "promote", "--mode", "canary"))
    assert services(nodes)[f"{PREFIX}_app-canary"]["Replicas"] == "2/2"
    seen = {requests.get(f"http://{nodes['node2'].address}:{PORT}/", timeout=5).json()["mode"] for _ in range(40)}
    assert seen == {"stable", "canary"}


def test_status_reads_every_task_of_each_track(nodes, home, project):
    frame = json.loads(exited(inv(home, project, "status", "--json")).stdout)
    assert frame["mode"] == "canary"
    # each task keeps its own counters: the canary's two tasks were scraped one by one
    cache = json.loads(nodes["node1"].sh("cat /root/swiftdeploy/.swiftdeploy/scrapes-canary.json").stdout)
    addresses = set(cache[-1]["texts"])
    running = nodes["node1"].sh(f"docker service ps -q --filter desired-state=running {PREFIX}_app-canary").stdout.split()
    assert len(addresses) == len(running) == 2
    assert all(address.startswith("10.") for address in addresses)
    # the admin listener is published on every interface on a swarm: only the node itself gets an answer
    refused = requests.get(f"http://{nodes['node1'].address}:{PORT + 1}/metrics", timeout=5,
                           headers={"Host": "127.0.0.1"})  # past the Host check: the allow rule decides
    assert refused.status_code == 403


def test_promotion_rolls_every_stable_task_without_a_failed_request(nodes, home, project):
    urls = [f"http://{n.address}:{PORT}/" for n in nodes.nodes[:3]]
    loads = [Load(url, rate=50 / len(urls)) for url in urls]
    for load in loads:
        load.__enter__()
    try:
        time.sleep(6)  # the canary's window fills with requests
        exited(inv(home, project, "promote", "--mode", "stable"))
        time.sleep(2)
    finally:
        for load in loads:
            load.__exit__(None, None, None)
    total = sum(len(load.results) for load in loads)
    dropped = [code for load in loads for code in load.dropped]
    assert total > 200 and dropped == [], f"{len(dropped)} of {total} requests failed: {dropped[:10]}"
    found = services(nodes)
    assert f"{PREFIX}_app-canary" not in found
    assert found[f"{PREFIX}_app"]["Image"] == "swiftdeploy-app:2.0.0" and found[f"{PREFIX}_app"]["Replicas"] == "4/4"
    assert {body["version"] for body in answers(nodes).values()} == {"2.0.0"}


def test_a_version_that_never_gets_healthy_is_rolled_back_by_swarm_and_fails_with_exit_5(nodes, home, project):
    # the same app, whose healthcheck never passes
    docker("build", "-t", BROKEN_IMAGE, "-", stdin="FROM swiftdeploy-app:2.0.0\nUSER root\n"
           "RUN printf 'import sys\\nsys.exit(1)\\n' > /app/healthcheck.py\nUSER 10001:10001\n", timeout=300)
    manifest = project / "manifest.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["services"].update(image=BROKEN_IMAGE, version="2.0.1")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    with Load(f"http://{nodes['node3'].address}:{PORT}/", rate=20) as load:
        result = inv(home, project, "deploy", timeout=900)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "rollback" in (result.stdout + result.stderr).lower()
    assert load.dropped == [] and len(load.results) > 20
    assert services(nodes)[f"{PREFIX}_app"]["Image"] == "swiftdeploy-app:2.0.0"
    assert {body["version"] for body in answers(nodes).values()} == {"2.0.0"}
    doc["services"].update(image="swiftdeploy-app:2.0.0", version="2.0.0")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_rollback_removes_the_canary_and_stable_serves_everything(nodes, home, project):
    doc = yaml.safe_load((project / "manifest.yaml").read_text())
    doc["canary"].update(image="swiftdeploy-app:3.0.0", version="3.0.0")
    (project / "manifest.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    exited(inv(home, project, "promote", "--mode", "canary"))
    assert f"{PREFIX}_app-canary" in services(nodes)
    exited(inv(home, project, "rollback"))
    assert f"{PREFIX}_app-canary" not in services(nodes)
    assert {body["mode"] for _ in range(5) for body in answers(nodes).values()} == {"stable"}


def test_a_worker_killed_under_load_has_its_tasks_rescheduled_and_only_its_own_requests_fail(nodes, home, project):
    on_tasks = task_nodes(nodes, f"{PREFIX}_app")
    if "node4" not in on_tasks:
        # Swarm does not spread a service again after start-first updates (a node may hold two tasks and
        # another none); a forced update places each new task on the node with the fewest: one per node.
        manager(nodes).sh(f"docker service update --force --quiet {PREFIX}_app >/dev/null", timeout=300)
        on_tasks = task_nodes(nodes, f"{PREFIX}_app")
    assert "node4" in on_tasks, on_tasks  # the worker runs a stable task
    survivors = [Load(f"http://{n.address}:{PORT}/", rate=15) for n in nodes.nodes[:3]]
    doomed = Load(f"http://{nodes['node4'].address}:{PORT}/", rate=5)
    for load in (*survivors, doomed):
        load.__enter__()
    try:
        time.sleep(3)
        killed_at = time.monotonic()
        docker("kill", nodes["node4"].container)
        dead_by = time.monotonic()  # the node died between killed_at and here
        DEAD.add("node4")
        deadline = killed_at + 120
        while time.monotonic() < deadline:
            running = task_nodes(nodes, f"{PREFIX}_app", "Running")
            if len(running) == 4 and "node4" not in running:
                break
            time.sleep(0.5)
        rescheduled = time.monotonic() - killed_at
        time.sleep(3)
    finally:
        for load in (*survivors, doomed):
            load.__exit__(None, None, None)
    assert len(running) == 4 and "node4" not in running, running
    lost = [(load.url, round(at - killed_at, 2), status, round(seconds, 2))
            for load in survivors for at, status, seconds in load.lost()]
    total = sum(len(load.results) for load in survivors)
    print(f"\nworker killed: 4 replicas again after {rescheduled:.1f}s; requests to the live nodes: "
          f"{len(lost)} of {total} failed {lost}; to the dead node: {len(doomed.dropped)} of {len(doomed.results)}")
    # A live node's nginx tries another task when a connect to the dead node's task times out (2 s), so
    # every request sent after the kill is answered. One it had already handed to that task when the node
    # died can only wait for its answer (nginx.proxy_timeout, 30 s, longer than the client waits), as the
    # README says: such a request was sent before the node was dead and got no answer in the client's time.
    after = [request for request in lost if request[1] >= dead_by - killed_at]
    assert after == [], f"requests to live nodes sent after the kill failed (url, sent s after kill, status, s): {after}"
    unwaited = [request for request in lost if request[2] != 0 or request[3] < Load.TIMEOUT]
    assert unwaited == [], f"requests to live nodes that failed without waiting for an answer: {unwaited}"
    assert {body["version"] for body in answers(nodes).values()} == {"2.0.0"}


def test_cluster_and_status_show_the_dead_node_down(nodes, home, project):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # Swarm marks a node down once its heartbeats stop
        result = inv(home, project, "cluster")
        if "down" in result.stdout:
            break
        time.sleep(2)
    assert result.returncode == 6 and "node4" in result.stdout and "down" in result.stdout, result.stdout
    # the live nodes' rows count the stack's tasks on each: node4's task was rescheduled on them
    assert re.search(r"ok: \[node1\] => reachable, ready, active, manager \(\w+\), tasks: stable \d, nginx 1",
                     result.stdout), result.stdout
    frame = json.loads(exited(inv(home, project, "status", "--json")).stdout)
    assert frame["mode"] == "stable"
    # status asks the infrastructure policy what a deploy's gate would: every node, node4 down
    infrastructure = next(p for p in frame["policies"] if p["domain"] == "infrastructure")
    assert not infrastructure["allow"] and "node4" in " ".join(infrastructure["reasons"]), infrastructure


def test_a_deploy_while_a_node_is_down_follows_the_infrastructure_policy(nodes, home, project):
    set_manifest(project, services={"image": "swiftdeploy-app:3.0.0", "version": "3.0.0"})
    refused = inv(home, project, "deploy")
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "node4" in refused.stdout and "max_nodes_down" in refused.stdout
    assert services(nodes)[f"{PREFIX}_app"]["Image"] == "swiftdeploy-app:2.0.0"  # nothing was touched
    doc = yaml.safe_load((project / "manifest.yaml").read_text())
    doc["policy_limits"]["infrastructure"]["max_nodes_down"] = 2
    (project / "manifest.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    exited(inv(home, project, "deploy"))
    assert {body["version"] for body in answers(nodes).values()} == {"3.0.0"}
    assert len(task_nodes(nodes, f"{PREFIX}_app", "Running")) == 4


def test_with_the_acting_manager_killed_deploys_and_rollbacks_go_on_through_another(nodes, home, project):
    docker("kill", nodes["node1"].container)
    DEAD.add("node1")
    set_manifest(project, canary={"image": "swiftdeploy-app:2.0.0", "version": "2.0.0", "replicas": 1})
    result = exited(inv(home, project, "promote", "--mode", "canary"))
    acting = re.search(r"acting through manager (node\d)", result.stdout)
    assert acting and acting[1] in ("node2", "node3"), result.stdout  # node1 is gone: another manager acts
    assert f"{PREFIX}_app-canary" in services(nodes)
    exited(inv(home, project, "rollback"))
    assert f"{PREFIX}_app-canary" not in services(nodes)
    assert {body["mode"] for body in answers(nodes).values()} == {"stable"}


def test_teardown_removes_the_stack_from_every_node_and_only_it(nodes, home, project):
    nodes["node3"].sh("docker volume create keep-me >/dev/null")
    exited(inv(home, project, "teardown"))
    assert services(nodes) == {}
    for node in live(nodes):
        assert node.sh(f"docker ps -aq --filter label=com.docker.stack.namespace={PREFIX}").stdout.strip() == ""
        assert PREFIX + "-logs" not in node.sh("docker volume ls -q").stdout
    assert "keep-me" in nodes["node3"].sh("docker volume ls -q").stdout
    assert manager(nodes).sh(f"docker network inspect {PREFIX}-net", check=False).returncode != 0
