"""A swarm service's state and an update's progress, from the docker CLI's JSON (swiftlib/runtime/swarm_state.py)."""
from __future__ import annotations

import json

import pytest

from swiftlib.runtime import swarm_state

OLD = {"Image": "app:1@sha256:aa", "Env": ["MODE=stable", "APP_VERSION=1"], "Labels": {"t": "stable"}}
NEW = {"Image": "app:2", "Env": ["MODE=stable", "APP_VERSION=2"], "Labels": {"t": "stable"}}


def service(spec=NEW, replicas=3, update=None, message=""):
    found = {"Spec": {"Mode": {"Replicated": {"Replicas": replicas}}, "TaskTemplate": {"ContainerSpec": spec}}}
    if update:
        found["UpdateStatus"] = {"State": update, "Message": message}
    return found


def task(state="running", desired="running", spec=NEW, node="n1", err="", when="2026-12-06T10:00:00Z"):
    status = {"State": state, "Timestamp": when, **({"Err": err} if err else {})}
    return {"ID": f"{node}-{state}-{len(err)}", "NodeID": node, "DesiredState": desired, "Status": status,
            "Spec": {"ContainerSpec": spec}}


def test_a_missing_service_is_absent_and_never_converges():
    assert swarm_state.state(None, []) == "absent"
    assert not swarm_state.progress(None, []).done


def test_every_replica_running_the_current_spec_is_running_healthy_and_converged():
    tasks = [task(node=f"n{i}") for i in range(3)]
    assert swarm_state.state(service(), tasks) == "running healthy"
    assert swarm_state.progress(service(update="completed"), tasks).done


def test_old_tasks_still_running_right_after_a_stack_deploy_are_not_the_new_version():
    # `docker stack deploy` returns before the update starts: only the spec tells old tasks from new ones
    tasks = [task(spec=OLD, node=f"n{i}") for i in range(3)]
    assert swarm_state.state(service(), tasks) == "running starting"
    seen = swarm_state.progress(service(), tasks)
    assert not seen.done and not seen.failed and "0/3" in seen.said


def test_an_update_under_way_is_not_converged_even_with_enough_new_tasks():
    tasks = [task(node=f"n{i}") for i in range(3)] + [task(spec=OLD, node="n0")]
    assert not swarm_state.progress(service(update="updating"), tasks).done
    assert swarm_state.state(service(update="updating"), tasks) == "running starting"


def test_the_image_digest_swarm_pins_does_not_make_a_task_look_outdated():
    pinned = dict(NEW, Image="app:2@sha256:bb")
    assert swarm_state.state(service(), [task(spec=pinned, node=f"n{i}") for i in range(3)]) == "running healthy"


def test_a_starting_task_is_not_healthy_yet():
    tasks = [task(node="n1"), task(node="n2"), task(state="starting", node="n3")]
    assert swarm_state.state(service(), tasks) == "running starting"
    assert not swarm_state.progress(service(), tasks).done


def test_no_task_running_is_exited():
    assert swarm_state.state(service(), [task(state="failed", desired="shutdown", err="boom")]) == "exited none"


@pytest.mark.parametrize("update", ["rollback_completed", "rollback_paused", "paused"])
def test_an_update_swarm_rolled_back_or_paused_fails_with_its_message_and_the_last_task_error(update):
    tasks = [task(spec=OLD, node=f"n{i}") for i in range(3)] + [
        task(state="failed", desired="shutdown", err="task: non-zero exit (1): dockerexec: unhealthy container",
             when="2026-12-06T10:00:09Z"),
        task(state="rejected", desired="shutdown", err="older", when="2026-12-06T10:00:01Z")]
    seen = swarm_state.progress(service(update=update, message="update rolled back due to failure or early "
                                                              "termination of task abc"), tasks)
    assert not seen.done
    assert seen.failed.startswith(f"Swarm {update.replace('_', ' ')}: update rolled back")
    assert "unhealthy container" in seen.failed and "older" not in seen.failed


def test_a_global_service_wants_one_task_per_node_it_placed():
    glob = {"Spec": {"Mode": {"Global": {}}, "TaskTemplate": {"ContainerSpec": NEW}}}
    tasks = [task(node="n1"), task(node="n2"), task(state="starting", node="n3")]
    assert swarm_state.wanted_replicas(glob, tasks) == 3
    assert swarm_state.state(glob, tasks) == "running starting"
    assert swarm_state.state(glob, tasks[:2]) == "running healthy"


def test_a_service_section_changed_in_the_stack_file_changes_its_digest_only():
    a = {"services": {"app": {"image": "x:1", "deploy": {"replicas": 2}}, "nginx": {"image": "n"}}}
    b = json.loads(json.dumps(a))
    b["services"]["app"]["deploy"]["replicas"] = 3
    ha, hb = swarm_state.spec_hashes(a), swarm_state.spec_hashes(b)
    assert ha["nginx"] == hb["nginx"] and ha["app"] != hb["app"]
    assert swarm_state.spec_hashes(a) == ha  # deterministic


def test_docker_inspect_output_parses_to_objects():
    assert swarm_state.parse_json_list("") == []
    assert swarm_state.parse_json_list('[{"ID": "x"}, 3]') == [{"ID": "x"}]
    assert swarm_state.parse_json_list("[]\n[]\n") == []  # `docker service inspect` of none, then our echo


def test_a_rollback_left_from_an_earlier_deploy_does_not_fail_a_deploy_of_the_spec_that_runs():
    section = {"image": "app:2", "environment": {"MODE": "stable", "APP_VERSION": "2"}}
    tasks = [task(node=f"n{i}") for i in range(3)]
    rolled = service(update="rollback_completed", message="rolled back")
    assert swarm_state.progress(rolled, tasks, section).done
    # the file asks for another spec than the one Swarm went back to: this deploy's update failed
    newer = {"image": "app:3", "environment": {"MODE": "stable", "APP_VERSION": "3"}}
    assert swarm_state.progress(rolled, tasks, newer).failed.startswith("Swarm rollback completed")


def test_the_addresses_of_running_tasks_on_the_app_network_are_where_each_is_scraped():
    def attached(t, net, address):
        t["NetworksAttachments"] = [{"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.9/24"]},
                                    {"Network": {"Spec": {"Name": net}}, "Addresses": [f"{address}/24"]}]
        return t
    tasks = [attached(task(node="n1"), "app-net", "10.0.1.7"), attached(task(node="n2"), "app-net", "10.0.1.3"),
             attached(task(state="starting", node="n3"), "app-net", "10.0.1.4"),
             attached(task(state="shutdown", desired="shutdown", node="n3"), "app-net", "10.0.1.5")]
    assert swarm_state.task_addresses(tasks, "app-net") == ["10.0.1.3", "10.0.1.7"]


def test_secrets_the_stack_file_no_longer_names_are_stale():
    stack = {"secrets": {"DB_PASSWORD": {"file": "/p/.swiftdeploy/secrets/DB_PASSWORD", "name": "shop_DB_PASSWORD_bbb"},
                         "API_KEY": {"file": "/p/x", "name": "shop_API_KEY_bbb"}}}
    existing = ["shop_DB_PASSWORD_aaa", "shop_DB_PASSWORD_bbb", "shop_API_KEY_bbb", "shop_OLD_aaa"]
    assert swarm_state.stale_secrets(stack, existing) == ["shop_DB_PASSWORD_aaa", "shop_OLD_aaa"]
    assert swarm_state.stale_secrets({}, ["shop_X_1"]) == ["shop_X_1"]  # no secrets in the manifest any more


def test_the_swarm_runtime_says_what_its_stack_file_check_vouches_for():
    from types import SimpleNamespace

    from swiftlib.runtime.swarm import SwarmRuntime

    def runtime(text: str) -> SwarmRuntime:
        host = SimpleNamespace(run=lambda argv, **kw: SimpleNamespace(stdout=text))
        return SwarmRuntime(SimpleNamespace(host=host), {}, layout=None)

    assert runtime("services:\n  app: {image: x}\n").refuses("/p/docker-compose.yml") is None
    assert runtime("services: {}\n").refuses("/p/f") == "no services in the stack file"
    assert runtime("services: [unclosed\n").refuses("/p/f").startswith("not YAML")
    assert "no `docker stack config`" in SwarmRuntime.accepted  # never claims Docker accepted it


def test_the_convergence_deadline_covers_the_monitor_of_a_long_healthcheck():
    """The wait for a rolled service ends after each replica's health time plus the stack file's monitor,
    which follows services.healthcheck: a fixed 30 s gave up while Swarm was still watching a slow app."""
    from types import SimpleNamespace

    from swiftlib.manifest.model import Healthcheck
    from swiftlib.runtime.swarm import SwarmRuntime

    slow = Healthcheck(interval=10, timeout=5, retries=6, start_period=120)  # monitor: 180 s
    manifest = SimpleNamespace(services=SimpleNamespace(replicas=2, healthcheck=slow),
                               canary=SimpleNamespace(replicas=1), deploy=SimpleNamespace(health_timeout_seconds=60))
    runtime = SwarmRuntime(SimpleNamespace(manifest=manifest), {}, layout=None)
    assert runtime._convergence_seconds("app") == 60 * 2 + 180
