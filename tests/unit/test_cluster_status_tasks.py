"""`inv cluster` counts the project's running tasks on each node, per track (swiftlib/cluster/status.py)."""
from __future__ import annotations

from swiftlib.cluster.status import NodeRow, tasks_per_node

LISTING = "\n".join([
    "node1\tshop_app.1", "node2\tshop_app.2", "node2\tshop_app-canary.1", "node1\tshop_nginx.k2x9",
    "node2\tshop_nginx.q8w1", "node3\tshop_nginx.z0z0", "", "node3\tshop_app.3",
])


def test_running_tasks_are_counted_per_node_and_track():
    assert tasks_per_node(LISTING, "shop") == {
        "node1": {"stable": 1, "nginx": 1},
        "node2": {"stable": 1, "canary": 1, "nginx": 1},
        "node3": {"stable": 1, "nginx": 1},
    }


def test_no_stack_no_tasks():
    assert tasks_per_node("", "shop") == {}


def test_a_row_says_its_tasks_only_when_they_were_asked_for():
    row = NodeRow("node2", "worker", True, True, "ready", "active", "worker", tasks={"stable": 1, "canary": 1})
    assert row.summary() == "reachable, ready, active, worker, tasks: stable 1, canary 1"
    assert row.to_dict()["tasks"] == {"stable": 1, "canary": 1}
    idle = NodeRow("node4", "worker", True, True, "ready", "active", "worker", tasks={})
    assert idle.summary().endswith("tasks: none")
    unasked = NodeRow("node5", "worker", True, True, "ready", "active", "worker")
    assert "tasks" not in unasked.summary() and "tasks" not in unasked.to_dict()
