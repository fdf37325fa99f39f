"""The real ansible-playbook drives SwiftDeploy through ansible-compat/ (the swiftdeploy action).

Against the controller (``ansible_connection=local``): a first run deploys (changed),
a second run reports changed=0, ``--check`` touches no container and no file even
when the manifest would change something, a denying gate fails the play and starts
nothing, and promote.yml switches the mode (and is idempotent too). Against a real
sshd on 127.0.0.2: the same playbook, twice, the second run with changed=0.

The controller stack is deployed once for the module; its tests run in file order
against it, as a user would walk through it. Everything deployed is torn down with
``inv teardown`` in the fixtures' finalizers.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conftest import REPO, ansible_tool, run_cli
from tests.integration.fleet_env import stack_overrides
from tests.integration.sshd import client_key, closed_port, known_hosts, sshd_factory  # noqa: F401
from tests.integration.stack import Load, container_id_and_start, docker, make_project, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.sshd, pytest.mark.ansible]

COMPAT = REPO / "ansible-compat"
PREFIX, PORT = "sdansible", 20080  # the controller's stack
SSH_PREFIX, SSH_PORT = "sdansssh", 20280  # the sshd host's stack (via swiftdeploy_overrides)
DENY_PREFIX, DENY_PORT = "sdansdeny", 20480  # a project whose gate says no
IDLE_PREFIX, IDLE_PORT = "sdansidle", 20580  # rendered, never started
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)
RESULT = re.compile(r"^(?:ok|changed|fatal): \[([^\]]+)\](?:: (?:FAILED|UNREACHABLE)!)? => (\{.*\})$", re.M)


def _tool(name: str) -> str:
    return ansible_tool(name)


def test_documentation_matches_the_plugin_arguments() -> None:
    """`ansible-doc` reads library/swiftdeploy.py; its options must be what the action accepts."""
    spec = importlib.util.spec_from_file_location("swiftdeploy_action", COMPAT / "action_plugins/swiftdeploy.py")
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    proc = subprocess.run([_tool("ansible-doc"), "--json", "-M", str(COMPAT / "library"), "swiftdeploy"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stderr
    documented = json.loads(proc.stdout)["swiftdeploy"]["doc"]["options"]
    assert set(documented) == set(plugin.ARGUMENT_SPEC)
    for name, arg in plugin.ARGUMENT_SPEC.items():
        doc = documented[name]
        assert (doc["type"], doc.get("default"), doc.get("choices")) == \
            (arg["type"], arg.get("default"), arg.get("choices")), name


def ansible_env(home: Path) -> dict[str, str]:
    """ansible-playbook with our ansible.cfg, temp dirs and a HOME whose known_hosts the test controls."""
    (home / ".ssh").mkdir(parents=True, exist_ok=True, mode=0o700)
    return dict(
        os.environ,
        HOME=str(home),
        ANSIBLE_CONFIG=str(COMPAT / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(home / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(home / "ansible-remote"),
        ANSIBLE_HOME=str(home / ".ansible"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_DEPRECATION_WARNINGS="False",
    )


def playbook(env: dict[str, str], inventory: Path, manifest: Path, *extra: str,
             book: str = "deploy.yml") -> subprocess.CompletedProcess[str]:
    """`ansible-playbook -v -i INVENTORY ansible-compat/BOOK -e swiftdeploy_manifest=M ...`."""
    argv = [_tool("ansible-playbook"), "-v", "-i", str(inventory), str(COMPAT / book),
            "-e", f"swiftdeploy_manifest={manifest}", *extra]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, cwd=manifest.parent)


def recap(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    rows = {m[1]: dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, m.groups()[1:])))
            for m in RECAP.finditer(proc.stdout)}
    assert rows, f"no PLAY RECAP in the output:\n{proc.stdout}\n{proc.stderr}"
    return rows


def task_result(proc: subprocess.CompletedProcess[str], host: str) -> dict[str, Any]:
    """The swiftdeploy task's result for ``host``, as `-v` prints it."""
    found = [json.loads(m[2]) for m in RESULT.finditer(proc.stdout) if m[1] == host]
    assert len(found) == 1, f"expected one result for {host}:\n{proc.stdout}\n{proc.stderr}"
    return found[0]


def steps(result: dict[str, Any]) -> dict[str, str]:
    return {step["task"]: step["status"] for step in result["results"]}


def show(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def stack_state(prefix: str) -> dict[str, str]:
    """Container name -> id and start time, for every container of the stack."""
    return {name: container_id_and_start(name) for name in project_containers(prefix).split()}


def project_containers(prefix: str) -> str:
    return docker("ps", "-a", "--filter", f"label=com.docker.compose.project={prefix}", "--format", "{{.Names}}")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible-home")


@pytest.fixture(scope="module")
def env(home: Path) -> dict[str, str]:
    return ansible_env(home)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = make_project(tmp_path_factory.mktemp("ansible-project"), prefix=PREFIX, base_port=PORT)
    yield path
    run_cli(path, "teardown", "--clean")


@pytest.fixture(scope="module")
def local_inventory(manifest: Path) -> Path:
    path = manifest.parent / "inventory.ini"
    path.write_text("[controllers]\ncontroller ansible_connection=local\n")
    return path


@pytest.fixture(scope="module")
def first_run(env, local_inventory, manifest) -> subprocess.CompletedProcess[str]:
    return playbook(env, local_inventory, manifest)


def test_first_run_deploys_and_reports_changed(first_run, manifest) -> None:
    assert first_run.returncode == 0, show(first_run)
    assert recap(first_run) == {"controller": dict(ok=1, changed=1, unreachable=0, failed=0, skipped=0)}
    result = task_result(first_run, "controller")
    assert result["rc"] == 0 and result["changed"] is True
    ran = steps(result)
    assert list(ran) == ["policy engine", "render", "validate", "policy: pre_deploy", "up", "admin access", "traffic", "health"], ran
    assert ran["render"] == "changed" and ran["up"] == "changed" and ran["policy: pre_deploy"] == "ok"
    answer = wait_for(f"http://127.0.0.1:{PORT}/", lambda r: r.status_code == 200, timeout=10)
    assert answer.headers["X-Deployed-By"] == "swiftdeploy" and answer.json()["mode"] == "stable"
    assert (manifest.parent / "docker-compose.yml").is_file()


def test_second_run_reports_no_change(first_run, env, local_inventory, manifest) -> None:
    proc = playbook(env, local_inventory, manifest)
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 0, show(proc)
    result = task_result(proc, "controller")
    assert result["changed"] is False and result["msg"] == "nothing to change"
    assert set(steps(result).values()) == {"ok"}, result["results"]


def test_check_mode_changes_nothing_even_with_a_pending_change(first_run, env, local_inventory, manifest) -> None:
    before = stack_state(PREFIX)
    manifest_bytes = manifest.read_bytes()
    compose_bytes = (manifest.parent / "docker-compose.yml").read_bytes()
    # The same manifest: a check finds nothing to do.
    proc = playbook(env, local_inventory, manifest, "--check")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 0, show(proc)
    # A new version next to it (same project directory): check and diff say what would change...
    bumped = yaml.safe_load(manifest_bytes)
    bumped["services"]["version"] = "1.0.1"
    pending = manifest.parent / "manifest-next.yaml"
    pending.write_text(yaml.safe_dump(bumped, sort_keys=False))
    pending_bytes = pending.read_bytes()
    proc = playbook(env, local_inventory, pending, "--check", "--diff")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 1, show(proc)
    result = task_result(proc, "controller")
    assert result["check_mode"] is True and steps(result)["render"] == "changed"
    assert steps(result)["up"] == "ok" and steps(result)["policy: pre_deploy"] == "ok"  # all containers run
    assert '-      APP_VERSION: "1.0.0"' in proc.stdout and '+      APP_VERSION: "1.0.1"' in proc.stdout, show(proc)
    # ... and touch nothing: same containers, same start times, same bytes on disk.
    assert stack_state(PREFIX) == before
    assert manifest.read_bytes() == manifest_bytes and pending.read_bytes() == pending_bytes
    assert (manifest.parent / "docker-compose.yml").read_bytes() == compose_bytes
    pending.unlink()


def test_check_on_a_stopped_stack_says_it_would_start_it(env, tmp_path: Path) -> None:
    idle = make_project(tmp_path / "idle", prefix=IDLE_PREFIX, base_port=IDLE_PORT)
    rendered = run_cli(idle, "render")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("controller ansible_connection=local\n")
    try:
        proc = playbook(env, inventory, idle, "--check")
        assert proc.returncode == 0, show(proc)
        assert recap(proc)["controller"]["changed"] == 1, show(proc)  # files are current; containers are not
        result = task_result(proc, "controller")
        assert steps(result)["render"] == "ok" and steps(result)["up"] == "changed", result["results"]
        assert project_containers(IDLE_PREFIX) == ""  # and still nothing was started
    finally:
        run_cli(idle, "teardown")


def test_denying_gate_fails_the_play_and_starts_nothing(env, tmp_path: Path) -> None:
    denied = make_project(tmp_path / "denied", prefix=DENY_PREFIX, base_port=DENY_PORT,
                          policy_limits={"infrastructure": {"min_disk_free_gb": 1e6, "max_cpu_load": 1000.0}})
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("controller ansible_connection=local\n")
    try:
        proc = playbook(env, inventory, denied)
        assert proc.returncode == 2, show(proc)  # ansible-playbook's "a host failed"
        assert recap(proc)["controller"] == dict(ok=0, changed=0, unreachable=0, failed=1, skipped=0)
        result = task_result(proc, "controller")
        assert result["rc"] == 3 and result["failed_step"] == "policy: pre_deploy", result
        assert "infrastructure policy denied" in result["msg"]
        assert "up" not in steps(result) and "health" not in steps(result)
        assert project_containers(DENY_PREFIX) == ""
        assert docker("network", "ls", "--filter", f"name=^{DENY_PREFIX}-net$", "--format", "{{.Name}}") == ""
    finally:
        run_cli(denied, "teardown")


def test_a_swarm_manifest_without_cluster_inventory_fails_naming_the_argument(env, tmp_path: Path) -> None:
    swarm = make_project(tmp_path / "swarm", prefix="sdansw", base_port=DENY_PORT, deploy={"runtime": "swarm"})
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("controller ansible_connection=local\n")
    proc = playbook(env, inventory, swarm)
    assert proc.returncode == 2, show(proc)
    result = task_result(proc, "controller")
    assert result["rc"] == 2 and "cluster_inventory" in result["msg"], result
    assert project_containers("sdansw") == ""


def test_promote_playbook_check_then_switch_then_no_change(first_run, env, local_inventory, manifest) -> None:
    before = stack_state(PREFIX)
    manifest_bytes = manifest.read_bytes()
    proc = playbook(env, local_inventory, manifest, "--check", "--diff", "-e", "mode=canary", book="promote.yml")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 1  # would switch
    assert '+  app-canary:' in proc.stdout and '+      MODE: "canary"' in proc.stdout, show(proc)
    assert stack_state(PREFIX) == before and manifest.read_bytes() == manifest_bytes

    proc = playbook(env, local_inventory, manifest, "-e", "mode=canary", book="promote.yml")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 1
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "canary"
    answer = wait_for(f"http://127.0.0.1:{PORT + 1}/tracks/canary/healthz", lambda r: r.status_code == 200, timeout=10)
    assert answer.json()["mode"] == "canary"
    after = stack_state(PREFIX)
    # The canary starts beside stable: nginx and the stable app are untouched.
    assert after[f"{PREFIX}-nginx"] == before[f"{PREFIX}-nginx"] and after[f"{PREFIX}-app"] == before[f"{PREFIX}-app"]
    assert f"{PREFIX}-app-canary" in after

    proc = playbook(env, local_inventory, manifest, "-e", "mode=canary", book="promote.yml")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 0, show(proc)
    assert stack_state(PREFIX) == after

    proc = playbook(env, local_inventory, manifest, "-e", "reason=from-ansible", book="rollback.yml")
    assert proc.returncode == 0, show(proc)
    assert recap(proc)["controller"]["changed"] == 1, show(proc)
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    assert f"{PREFIX}-app-canary" not in stack_state(PREFIX)
    proc = playbook(env, local_inventory, manifest, book="rollback.yml")
    assert proc.returncode == 0 and recap(proc)["controller"]["changed"] == 0, show(proc)


def test_rollout_playbook_promotes_through_the_steps_and_rolls_back_a_failing_canary(
        first_run, env, local_inventory, manifest) -> None:
    doc = yaml.safe_load(manifest.read_text())
    doc["canary"]["steps"] = [50, 80]
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    public = f"http://127.0.0.1:{PORT}/"
    with Load(public) as load:
        proc = playbook(env, local_inventory, manifest, book="rollout.yml")
    assert proc.returncode == 0 and recap(proc)["controller"]["changed"] == 1, show(proc)
    assert load.dropped == []
    done = steps(task_result(proc, "controller"))
    assert done["policy: pre_promote"] == "ok" and done["manifest"] == "changed", done
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    assert f"{PREFIX}-app-canary" not in stack_state(PREFIX)

    # A canary that fails its window: the host rolls back by itself and the play fails with rc 3.
    assert playbook(env, local_inventory, manifest, "-e", "mode=canary", book="promote.yml").returncode == 0
    chaos = run_cli(manifest, "chaos", "--mode", "error", "--rate", "0.5")
    assert chaos.returncode == 0, chaos.stdout + chaos.stderr
    with Load(public) as load:
        proc = playbook(env, local_inventory, manifest, book="rollout.yml")
    assert proc.returncode == 2, show(proc)  # ansible-playbook's "a host failed"
    result = task_result(proc, "controller")
    assert result["rc"] == 3 and "canary policy denied" in result["msg"], result
    assert steps(result)["rollback"] == "changed", result["results"]
    assert load.dropped == []
    assert yaml.safe_load(manifest.read_text())["services"]["mode"] == "stable"
    assert f"{PREFIX}-app-canary" not in stack_state(PREFIX)


def test_unreachable_host_is_reported_as_unreachable(env, manifest: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "dead.ini"
    inventory.write_text(f"deadhost ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=root\n")
    proc = playbook(env, inventory, manifest)
    assert proc.returncode == 4, show(proc)  # ansible-playbook's "a host was unreachable"
    assert recap(proc)["deadhost"] == dict(ok=0, changed=0, unreachable=1, failed=0, skipped=0)
    result = task_result(proc, "deadhost")
    assert result["rc"] == 6 and "connection refused" in result["msg"], result


def _ssh_inventory(path: Path, server: Any, remote_dir: str, *, local: bool = False) -> Path:
    overrides = stack_overrides(SSH_PREFIX, SSH_PORT, remote_dir)
    host = {"ansible_host": server.address, "ansible_port": server.port, "ansible_user": "root",
            "ansible_ssh_private_key_file": str(server.client.private), "swiftdeploy_overrides": overrides}
    path.write_text(yaml.safe_dump({"all": {"children": {"docker_hosts": {"hosts": {"sshbox": host}}}}}))
    return path


@pytest.fixture
def ssh_inventory(sshd_factory, manifest: Path, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    # 127.0.0.2: "a remote Docker host" (this machine's engine); its login's home is tmp_path/login
    server = sshd_factory(1, home=tmp_path / "login")
    home = tmp_path / "home"
    env = ansible_env(home)
    (home / ".ssh" / "known_hosts").write_text(server.known_hosts_line() + "\n")
    inventory = _ssh_inventory(tmp_path / "hosts.yml", server, "remote-project")  # under that home
    yield inventory, env
    # inv reads known_hosts from $HOME, like the playbook run did; the sshd is still up here.
    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        done = run_cli(manifest, "teardown", "-i", str(inventory))
    finally:
        if saved is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = saved
    if done.returncode != 0 or project_containers(SSH_PREFIX):
        subprocess.run(["docker", "compose", "-p", SSH_PREFIX, "down", "--volumes"], capture_output=True)
        pytest.fail(f"inv teardown over SSH failed: {done.stdout}\n{done.stderr}")


def test_playbook_against_an_sshd_host_twice(ssh_inventory, manifest: Path, tmp_path: Path) -> None:
    inventory, env = ssh_inventory
    proc = playbook(env, inventory, manifest)
    assert proc.returncode == 0, show(proc)
    assert recap(proc) == {"sshbox": dict(ok=1, changed=1, unreachable=0, failed=0, skipped=0)}
    result = task_result(proc, "sshbox")
    assert steps(result)["up"] == "changed" and steps(result)["prepare host"] in ("ok", "changed")
    assert (tmp_path / "login" / "remote-project" / "docker-compose.yml").is_file()  # rendered on "the host"
    answer = wait_for(f"http://127.0.0.2:{SSH_PORT}/healthz", lambda r: r.status_code == 200, timeout=10)
    assert answer.json()["status"] == "ok"
    assert container_id_and_start(f"{SSH_PREFIX}-app")

    again = playbook(env, inventory, manifest)
    assert again.returncode == 0, show(again)
    assert recap(again)["sshbox"]["changed"] == 0, show(again)
    assert set(steps(task_result(again, "sshbox")).values()) == {"ok"}
