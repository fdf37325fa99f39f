"""One remote Docker host over real SSH (issue 4): deploy, promote, lock, fab -H, teardown.

The "remote host" is this machine behind a real sshd on 127.0.0.31, reached by the CLI as
`inv ... --hosts root@127.0.0.31:PORT` (and `fab -H`), with its own stack (prefix sdr1) and
project directory (``project`` under the login's own home: the sshd sets ``$HOME``). sshd
logs at DEBUG1, so the tests can see each SSH tunnel (direct-tcpip channel) the CLI opened to
the OPA sidecar and the admin port. The stack is deployed once for the module and the tests
run in file order against it, as a user would walk through it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import yaml

from swiftlib.netstat import is_loopback, listening_ports
from swiftlib.remote import lock as deploy_lock
from swiftlib.remote.workspace import RemoteWorkspace
from tests.conftest import SWIFTDEPLOY, exited as ok
from tests.integration.fleet_env import ClientHome, RemoteSshd, ensure_opa_standin, fake_df_command
from tests.integration.one_host import home, server  # noqa: F401 - fixtures
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import (
    Load, container_id_and_start, docker, leftovers, make_project, remove_stack, wait_for,
)

pytestmark = [pytest.mark.sshd, pytest.mark.docker]

PREFIX = "sdr1"
PORT = 21080  # nginx; admin 21081; OPA 21181 (make_project: base + 101)
ADMIN_PORT, OPA_PORT = PORT + 1, PORT + 101
ADDRESS = "127.0.0.31"
REMOTE_DIR = "project"  # deploy.remote_dir: relative to the login's home on the host


def events(manifest: Path, event_type: str, host: str) -> list[dict]:
    lines = (manifest.parent / "history.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event_type"] == event_type and e.get("host") == host]


@pytest.fixture(scope="module")
def remote_dir(server) -> Path:
    """The project directory as a path on "the host" (this machine): <login home>/REMOTE_DIR."""
    return server.home / REMOTE_DIR


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, home, server):
    standin = ensure_opa_standin()  # the sidecar path: OPA on the host's loopback, reached by tunnel
    path = make_project(tmp_path_factory.mktemp("proj-sdr1"), prefix=PREFIX, base_port=PORT,
                        opa={"image": standin, "engine": "sidecar"}, deploy={"remote_dir": REMOTE_DIR})
    yield path
    home.inv(path, "teardown", "--clean", "--hosts", server.host_spec)
    remove_stack(PREFIX)


@pytest.fixture(scope="module")
def name(server) -> str:
    return f"{server.address}:{server.port}"  # how the CLI names a --hosts target


def test_deploy_over_ssh(manifest, home, server, remote_dir, name):
    result = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec))
    out = result.stdout
    assert f"changed: [{name}] => policies: canary.rego, infrastructure.rego, lib.rego" in out
    assert f"ok: [{name}] => sidecar:" in out and "PLAY RECAP" in out and "unreachable=0" in out
    answer = requests.get(f"http://{ADDRESS}:{PORT}/", timeout=5)
    assert answer.status_code == 200 and answer.headers["X-Deployed-By"] == "swiftdeploy"
    assert answer.json()["mode"] == "stable"
    # The files and policies went to the host's project directory, not the controller's checkout.
    for rendered in ("docker-compose.yml", "nginx.conf"):
        assert (remote_dir / rendered).is_file()
        assert not (manifest.parent / rendered).exists()
    shipped = {p.name: p.read_bytes() for p in (remote_dir / "policies").iterdir()}
    assert shipped == {p.name: p.read_bytes() for p in (manifest.parent / "policies").iterdir()}
    # Compose ran there: the containers' working dir is the remote project directory.
    label = docker("inspect", "--format", '{{index .Config.Labels "com.docker.compose.project.working_dir"}}',
                   f"{PREFIX}-nginx")
    assert label == str(remote_dir)
    # The pre_deploy question went to the OPA sidecar through an SSH tunnel.
    assert server.tunnels_to(OPA_PORT) >= 1, server.log.read_text()[-2000:]


def test_a_remote_dir_linked_out_of_the_home_is_refused_before_anything_starts(tmp_path, home, server):
    linked = "linked-out"
    (server.home / linked).symlink_to(tmp_path, target_is_directory=True)
    try:
        path = make_project(tmp_path / "proj", prefix=PREFIX + "link", base_port=PORT + 600,
                            opa={"engine": "embedded"}, deploy={"remote_dir": linked})
        result = home.inv(path, "deploy", "--hosts", server.host_spec)
        said = result.stdout + result.stderr
        assert result.returncode == 2, said
        assert f"deploy.remote_dir '{linked}' resolves to {tmp_path}" in said and "not inside the login's home" in said
        assert leftovers(PREFIX + "link") == ""
        assert not (tmp_path / "docker-compose.yml").exists() and not (tmp_path / ".swiftdeploy").exists()
    finally:
        (server.home / linked).unlink()


def test_host_stats_in_the_audit(manifest, name):
    checks = [e for e in events(manifest, "policy_check", name) if e["data"]["context"] == "pre_deploy"]
    assert checks, "no pre_deploy policy_check event for the remote host"
    stats = checks[-1]["data"]["input"]["stats"]
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total_mb = int(meminfo["MemTotal"].split()[0]) * 1024 / 1e6
    assert 0 < stats["disk_free_gb"] < 1e6
    assert 0 <= stats["cpu_load"] < 1000
    assert stats["cpu_count"] == os.cpu_count()  # the "remote" is this machine
    assert 0 < stats["mem_available_mb"] <= total_mb
    assert checks[-1]["data"]["engine"] == "sidecar" and checks[-1]["data"]["allow"] is True


def test_stats_come_from_the_host_itself(tmp_path, client_key):  # noqa: F811
    """A host whose `df` reports 123456789 KiB free: that figure can only come from it."""
    wrapper = fake_df_command(tmp_path / "wrap", 123456789)
    odd = RemoteSshd(tmp_path / "sshd", "127.0.0.32", client_key, home=tmp_path / "login",
                     force_command=wrapper).start()
    try:
        home = ClientHome(tmp_path / "home", client_key, (odd,))
        project = make_project(tmp_path / "proj", prefix="sdr9", base_port=21090,
                               deploy={"remote_dir": "remote"})
        result = ok(home.inv(project, "opa-check", "--hosts", odd.host_spec))
        assert "disk free 126.42 GB" in result.stdout, result.stdout
        [check] = events(project, "policy_check", f"{odd.address}:{odd.port}")
        assert check["data"]["input"]["stats"]["disk_free_gb"] == 126.42
        local = ok(home.inv(project, "opa-check"))  # this machine, no SSH: its real disk
        assert "disk free 126.42 GB" not in local.stdout
    finally:
        odd.stop()


def test_admin_and_opa_ports_only_on_loopback(home, server, manifest):
    host = home.connect(server, "netstat")
    try:
        tables = host.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout
    finally:
        host.connection.close()
    ports = listening_ports(tables)
    for port in (ADMIN_PORT, OPA_PORT):
        assert ports.get(port), f"nothing listens on {port}"
        assert all(is_loopback(a) for a in ports[port]), (port, ports[port])
    # The check can fail: the public port does listen beyond loopback.
    assert not all(is_loopback(a) for a in ports[PORT]), ports[PORT]
    assert docker("port", f"{PREFIX}-opa").splitlines() == [f"{OPA_PORT}/tcp -> 127.0.0.1:{OPA_PORT}"]
    assert docker("port", f"{PREFIX}-nginx", f"{ADMIN_PORT}/tcp") == f"127.0.0.1:{ADMIN_PORT}"


def test_second_deploy_uploads_nothing(manifest, home, server, name):
    before = container_id_and_start(f"{PREFIX}-nginx")
    out = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec)).stdout
    assert f"ok: [{name}] => policies and images already on the host" in out
    assert f"ok: [{name}] => up to date: docker-compose.yml, nginx.conf" in out
    assert "changed:" not in out, out
    assert "changed=0" in out and "failed=0" in out
    assert container_id_and_start(f"{PREFIX}-nginx") == before


def test_the_other_tasks_work_remotely(manifest, home, server, name):
    hosts = ("--hosts", server.host_spec)
    assert f"ok: [{name}] => up to date: docker-compose.yml" in ok(home.inv(manifest, "render", *hosts)).stdout
    assert f"ok: [{name}] => 9 checks passed" in ok(home.inv(manifest, "validate", *hosts)).stdout  # OPA's image too
    assert f"ok: [{name}] => all containers already up to date" in ok(home.inv(manifest, "up", *hosts)).stdout
    assert f"/healthz at http://127.0.0.1:{PORT} on {name} (through SSH) ok" in \
        ok(home.inv(manifest, "health", *hosts)).stdout
    assert "infrastructure: allow (sidecar)" in ok(home.inv(manifest, "opa-check", *hosts)).stdout
    scrapes = server.tunnels_to(ADMIN_PORT)
    frame = json.loads(ok(home.inv(manifest, "status", "--json", *hosts)).stdout)
    assert frame["mode"] == "stable", frame
    assert server.tunnels_to(ADMIN_PORT) > scrapes  # the dashboard read /metrics through SSH


def test_health_is_asked_on_the_host_so_a_firewall_before_its_public_port_does_not_matter(manifest, home, server):
    """A public port the operator cannot reach (NAT, a port-forward, a firewall) fails only the outside check."""
    rule = ["OUTPUT", "-d", ADDRESS, "-p", "tcp", "--dport", str(PORT), "-j", "DROP"]
    subprocess.run(["iptables", "-t", "raw", "-I", *rule], check=True)
    try:
        with pytest.raises(requests.RequestException):
            requests.get(f"http://{ADDRESS}:{PORT}/healthz", timeout=2)  # this machine cannot reach it
        assert "(through SSH) ok" in ok(home.inv(manifest, "health", "--hosts", server.host_spec)).stdout
        outside = manifest.with_name("manifest-outside.yaml")
        outside.write_text(manifest.read_text().replace("deploy:\n", "deploy:\n  health_check_from: controller\n", 1))
        refused = home.inv(outside, "health", "--timeout", "3", "--hosts", server.host_spec)
        assert refused.returncode == 5 and f"http://{ADDRESS}:{PORT}/healthz not healthy" in refused.stdout, \
            refused.stdout + refused.stderr
    finally:
        subprocess.run(["iptables", "-t", "raw", "-D", *rule], check=True)


def _watch(home, manifest: Path, *args: str) -> subprocess.Popen:
    """A long-running `inv` as a person starts it in a terminal (Ctrl-C delivered as SIGINT)."""
    argv = [*SWIFTDEPLOY, *args, "--manifest", str(manifest)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=manifest.parent,
                            env=home.env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _ctrl_c(proc: subprocess.Popen) -> tuple[int, str, float]:
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"Ctrl-C did not end it within 15 s:\n{out}")
    return proc.returncode, out, time.monotonic() - started


def test_the_web_dashboard_watches_the_remote_host_through_ssh(manifest, home, server, name):
    scrapes = server.tunnels_to(ADMIN_PORT)
    proc = _watch(home, manifest, "dashboard", "--port", "0", "--interval", "0.5", "--hosts", server.host_spec)
    try:
        first = proc.stdout.readline()
        assert f"dashboard for {name}: http://127.0.0.1:" in first, first
        url = first.split(": ", 1)[1].split()[0]
        state = wait_for(f"{url}api/state", lambda r: r.status_code == 200 and r.json().get("frame"), timeout=60).json()
        assert state["host"] == name and state["frame"]["mode"] == "stable" and state["ok"], state
        assert server.tunnels_to(ADMIN_PORT) > scrapes  # the frames came through SSH, as the CLI's do
        assert requests.get(url, timeout=5).status_code == 200
    finally:
        code, out, took = _ctrl_c(proc)
    assert code == 0 and "dashboard stopped" in out, out


def test_ctrl_c_ends_status_on_a_remote_host(manifest, home, server):
    proc = _watch(home, manifest, "status", "--interval", "0.5", "--hosts", server.host_spec)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "SwiftDeploy status" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "SwiftDeploy status" in seen, seen
        time.sleep(1.2)  # Ctrl-C lands while frames are being taken over SSH
    finally:
        code, out, took = _ctrl_c(proc)
    assert code == 0, out  # and within _ctrl_c's 15 s: it used to wait for a frame that never ended


def test_lock_held_by_another_run(manifest, home, server, remote_dir, name):
    host = home.connect(server, "holder")
    workspace = RemoteWorkspace(host, REMOTE_DIR)
    assert workspace.root == str(remote_dir)
    held = deploy_lock.acquire(host, workspace, "deploy", "release 1.2 by hand")
    try:
        app_before = container_id_and_start(f"{PREFIX}-app")
        started = time.monotonic()
        refused = home.inv(manifest, "deploy", "--hosts", server.host_spec)
        took = time.monotonic() - started
        ok(refused, 1)
        assert took < 60, f"took {took:.1f}s to refuse"  # refused at the lock, not after a deploy
        assert "TASK [deploy lock]" in refused.stdout
        assert f"deploy lock is held by {held.info.holder} (pid {os.getpid()})" in refused.stdout
        assert "inv lock --status" in refused.stdout and "inv lock --release" in refused.stdout
        assert container_id_and_start(f"{PREFIX}-app") == app_before  # nothing was touched

        status = ok(home.inv(manifest, "lock", "--status", "--hosts", server.host_spec)).stdout
        assert f"held by {held.info.holder} (pid {os.getpid()})" in status
        assert "for `deploy`: 'release 1.2 by hand'" in status and "stale" not in status
        alive = ok(home.inv(manifest, "lock", "--release", "--hosts", server.host_spec), 1)
        assert "still looks alive" in alive.stdout and "--force" in alive.stdout
        assert deploy_lock.status(host, workspace) == held.info
        forced = ok(home.inv(manifest, "lock", "--release", "--force", "--hosts", server.host_spec)).stdout
        assert f"changed: [{name}] => released the lock of {held.info.holder}" in forced
        assert deploy_lock.status(host, workspace) is None
        held.held = False

        # A crashed run's lock: its process is gone. Detected as stale, released without --force.
        gone = subprocess.Popen(["true"])
        gone.wait()
        crashed = replace(deploy_lock.LockInfo.new("promote"), pid=gone.pid, pid_start=None)
        workspace.write(deploy_lock.LOCK_FILE, crashed.to_json() + "\n")
        stale = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec), 1)
        assert f"process {gone.pid}" in stale.stdout and "looks stale" in stale.stdout
        ok(home.inv(manifest, "lock", "--release", "--hosts", server.host_spec))
        free = ok(home.inv(manifest, "lock", "--hosts", server.host_spec)).stdout
        assert f"ok: [{name}] => free: no deploy lock held" in free
    finally:
        held.release()
        host.connection.close()


def test_check_mode_over_ssh_plans_the_blue_green_of_a_new_version(manifest, home, server, name):
    docker("tag", "swiftdeploy-app:1.0.0", "swiftdeploy-app:1.1.0-check")
    original = manifest.read_bytes()
    doc = yaml.safe_load(original)
    doc["services"].update(image="swiftdeploy-app:1.1.0-check", version="1.1.0-check")
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    stable = container_id_and_start(f"{PREFIX}-app")
    try:
        out = ok(home.inv(manifest, "deploy", "--check", "--hosts", server.host_spec)).stdout
    finally:
        manifest.write_bytes(original)
    # The compose file this run would write went to `docker compose config` on the host through stdin.
    assert f"changed: [{name}] => would start {PREFIX}-app-next (swiftdeploy-app:1.1.0-check, 1.1.0-check)" in out, out
    assert container_id_and_start(f"{PREFIX}-app") == stable and not docker("ps", "-aq", "--filter",
                                                                                f"name=^{PREFIX}-app-next$")


def test_promote_canary_then_stable_through_the_tunnel(manifest, home, server):
    public = f"http://{ADDRESS}:{PORT}/"
    with Load(public, rate=20) as load:
        ok(home.inv(manifest, "promote", "--mode", "canary", "--hosts", server.host_spec))
    assert load.results and load.dropped == []  # the split moved on the host, no request lost
    modes = [requests.get(public, timeout=5).json()["mode"] for _ in range(60)]
    assert "canary" in modes and "stable" in modes  # beside stable, on half the traffic
    scrapes_before = server.tunnels_to(ADMIN_PORT)
    chaos = ok(home.inv(manifest, "chaos", "--mode", "recover", "--hosts", server.host_spec))
    assert "TASK [chaos]" in chaos.stdout and server.tunnels_to(ADMIN_PORT) > scrapes_before  # POST /chaos via SSH
    scrapes_before = server.tunnels_to(ADMIN_PORT)
    with Load(public, rate=20) as load:
        result = ok(home.inv(manifest, "promote", "--mode", "stable", "--hosts", server.host_spec))
    assert load.results and "canary: allow (sidecar)" in result.stdout, result.stdout
    assert load.dropped == [], load.results
    assert server.tunnels_to(ADMIN_PORT) > scrapes_before  # /metrics was read through SSH
    wait_for(f"{public}healthz", lambda r: r.status_code == 200 and r.json()["mode"] == "stable", timeout=30)


def test_rollback_over_ssh(manifest, home, server, name):
    public = f"http://{ADDRESS}:{PORT}/"
    ok(home.inv(manifest, "promote", "--mode", "canary", "--hosts", server.host_spec))
    with Load(public, rate=20) as load:
        result = ok(home.inv(manifest, "rollback", "--reason", "remote test", "--hosts", server.host_spec))
    assert load.results and load.dropped == [], load.results
    assert f"changed: [{name}] => stable 100% (rollback)" in result.stdout, result.stdout
    assert docker("ps", "-aq", "--filter", f"name=^{PREFIX}-app-canary$") == ""
    assert [e["data"]["reason"] for e in events(manifest, "rollback", name)] == ["remote test"]


def test_fab_runs_the_same_tasks(manifest, home, server):
    result = ok(home.fab(manifest, server, "deploy"))
    assert "TASK [policy: pre_deploy]" in result.stdout and "changed=0" in result.stdout, result.stdout
    status = ok(home.fab(manifest, server, "lock"))
    assert "free: no deploy lock held" in status.stdout


def test_teardown_over_ssh(manifest, home, server, remote_dir):
    result = ok(home.inv(manifest, "teardown", "--clean", "--hosts", server.host_spec))
    assert "TASK [prepare host]" not in result.stdout  # nothing shipped just to remove it
    assert leftovers(PREFIX) == ""
    assert not (remote_dir / "docker-compose.yml").exists() and not (remote_dir / "nginx.conf").exists()
    assert not (remote_dir / "policies").exists()  # uploaded by SwiftDeploy, so removed by --clean
    assert (manifest.parent / "policies").is_dir()  # the controller's policies are the user's source
    with pytest.raises(requests.RequestException):
        requests.get(f"http://{ADDRESS}:{PORT}/", timeout=3)
