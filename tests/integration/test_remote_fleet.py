"""Many remote Docker hosts over real SSH (issue 4): inventories, batches, failures, host keys.

Three "remote hosts" are this machine behind real sshds on 127.0.0.41-43, each with its own
stack (prefixes sdr2-sdr4) from the per-host overrides of tests/fixtures/remote_fleet/fleet.yml
(SwiftDeploy's inventory format); each sshd gives its login a home of its own, below which
each host's project directory (a relative deploy.remote_dir) lives. batch_failure.yml
(Ansible's YAML format) puts a host that fails pre-flight first, to show --serial /
--max-fail-percentage stopping the next batch.
The fleet is deployed once for the module; connection failures use their own servers.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import SWIFTDEPLOY, exited as ok
from tests.integration.fleet_env import ClientHome, RemoteSshd, render_inventory
from tests.integration.sshd import client_key, closed_port, free_port  # noqa: F401 - fixture
from tests.integration.stack import evaluation_window, leftovers, make_project, remove_stack

pytestmark = [pytest.mark.sshd, pytest.mark.docker]

HOSTS = {"web1": ("127.0.0.41", "sdr2", 21110), "web2": ("127.0.0.42", "sdr3", 21120),
         "web3": ("127.0.0.43", "sdr4", 21130)}
BUSY_PORT = 21140  # bad1's nginx port in batch_failure.yml, held by the test
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def recap(output: str) -> dict[str, dict[str, int]]:
    keys = ("ok", "changed", "unreachable", "failed", "skipped")
    return {m[0]: dict(zip(keys, map(int, m[1:]))) for m in RECAP.findall(output)}


def host_events(manifest: Path) -> list[str]:
    history = manifest.parent / "history.jsonl"
    return [json.loads(line).get("host") for line in history.read_text().splitlines()] if history.exists() else []


@pytest.fixture(scope="module")
def servers(tmp_path_factory, client_key):  # noqa: F811
    base = tmp_path_factory.mktemp("sshd-fleet")
    started = {}
    try:
        for name, (address, _, _) in HOSTS.items():
            started[name] = RemoteSshd(base / name, address, client_key, home=base / f"login-{name}").start()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory, client_key, servers):  # noqa: F811
    return ClientHome(tmp_path_factory.mktemp("home-fleet"), client_key, tuple(servers.values()))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, home, servers, client_key):  # noqa: F811
    """(manifest, native inventory, Ansible inventory); everything torn down at the end."""
    root = tmp_path_factory.mktemp("proj-fleet")
    manifest = make_project(root, prefix="sdr2", base_port=21100, deploy={"remote_dir": "base"})
    values = dict(KEY=client_key.private, BUSY_PORT=BUSY_PORT,
                  **{f"{n.upper()}_PORT": s.port for n, s in servers.items()})
    native = render_inventory("fleet.yml", root / "fleet.yml", **values)
    ansible = render_inventory("batch_failure.yml", root / "batch_failure.yml", **values)
    yield manifest, native, ansible
    home.inv(manifest, "teardown", "--clean", "--inventory", str(native))
    home.inv(manifest, "teardown", "--clean", "--inventory", str(ansible))
    for _, prefix, _ in HOSTS.values():
        remove_stack(prefix)
    remove_stack("sdr5")


def test_three_hosts_deploy_in_parallel(fleet, home):
    manifest, native, _ = fleet
    result = ok(home.inv(manifest, "deploy", "--inventory", str(native)))
    counts = recap(result.stdout)
    assert sorted(counts) == sorted(HOSTS), result.stdout
    for name, (address, prefix, port) in HOSTS.items():
        assert counts[name]["failed"] == counts[name]["unreachable"] == 0 and counts[name]["changed"] >= 2
        answer = requests.get(f"http://{address}:{port}/healthz", timeout=5)
        assert answer.status_code == 200 and answer.json()["mode"] == "stable"
        assert sorted(leftovers(prefix).split()) == sorted([f"{prefix}-app", f"{prefix}-nginx"]), leftovers(prefix)
    # Three threads appended to one audit log: every event names its host, the chain is intact.
    hosts = host_events(manifest)
    for name in HOSTS:
        assert hosts.count(name) >= 3, hosts
    ok(home.inv(manifest, "audit", "--verify"))


def test_limit_picks_hosts_of_the_inventory(fleet, home):
    manifest, native, _ = fleet
    result = ok(home.inv(manifest, "health", "--inventory", str(native), "--limit", "web2"))
    assert list(recap(result.stdout)) == ["web2"], result.stdout
    result = ok(home.inv(manifest, "lock", "--inventory", str(native), "--limit", "web*:!web1"))
    assert sorted(recap(result.stdout)) == ["web2", "web3"], result.stdout


def test_ctrl_c_stops_a_rollout_on_every_host_of_a_parallel_batch(fleet, home, tmp_path):
    """Ctrl-C reaches the main thread only; each host's thread stops at its evaluation window."""
    manifest, native, _ = fleet
    argv = [*SWIFTDEPLOY, "rollout", "--manifest", str(manifest),
            "--inventory", str(native), "--limit", "web1:web2"]
    out_file, err_file = tmp_path / "out", tmp_path / "err"
    # No traffic, so a step's gate denies when its window ends; a long window keeps both hosts
    # inside step 1 when the press comes, however far apart their canaries started.
    with evaluation_window(manifest, 60), out_file.open("w") as out, err_file.open("w") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=manifest.parent, env=home.env(),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 180
        while not all(f"[{h}] step 1/" in out_file.read_text() for h in ("web1", "web2")):
            assert proc.poll() is None and time.monotonic() < deadline, out_file.read_text() + err_file.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        pressed = time.monotonic()
        code = proc.wait(timeout=60)
    stopped_after = time.monotonic() - pressed
    said = out_file.read_text() + err_file.read_text()
    assert code == 130, said
    assert stopped_after < 20, f"{stopped_after:.1f}s to stop\n{said}"  # a wait, not the rest of the rollout
    for name in ("web1", "web2"):
        assert f"interrupted: on {name} the canary keeps 10% of the traffic beside stable" in said, said
    for name in ("web1", "web2"):  # each left as the note says, and its lock given back
        assert f"{HOSTS[name][1]}-app-canary" in leftovers(HOSTS[name][1]).split()
    assert f"{HOSTS['web3'][1]}-app-canary" not in leftovers(HOSTS["web3"][1]).split()
    lock = ok(home.inv(manifest, "lock", "--inventory", str(native)))
    assert lock.stdout.count("free: no deploy lock held") == 3, lock.stdout
    ok(home.inv(manifest, "rollback", "--inventory", str(native), "--limit", "web1:web2", "--reason", "Ctrl-C test"))
    for name in ("web1", "web2"):
        assert f"{HOSTS[name][1]}-app-canary" not in leftovers(HOSTS[name][1]).split()


@pytest.mark.parametrize("serial, ran", [("1", ["bad1"]), ("2", ["bad1", "web2"])])
def test_failed_batch_stops_the_next(fleet, home, serial, ran):
    manifest, _, ansible = fleet
    before = host_events(manifest)
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("0.0.0.0", BUSY_PORT))
        busy.listen(1)
        result = home.inv(manifest, "deploy", "--inventory", str(ansible), "--serial", serial,
                          "--max-fail-percentage", "0")
    ok(result, 2)  # the pre-flight failure's code (README, Exit codes: 2 invalid input)
    out = result.stdout
    counts = recap(out)
    assert sorted(counts) == ["bad1", "web2", "web3"], out  # every host is accounted for
    assert counts["bad1"]["failed"] == 1 and f"{BUSY_PORT}" in out
    skipped = [h for h in ("web2", "web3") if h not in ran]
    for name in skipped:
        assert counts[name] == {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 1}, out
        assert f"skipping: [{name}] => not run: batch 1 had 1 of {len(ran)} hosts fail, " \
               "more than --max-fail-percentage 0" in out
    if "web2" in ran:
        assert counts["web2"]["failed"] == 0 and counts["web2"]["ok"] >= 5 and counts["web2"]["changed"] == 0
    after = host_events(manifest)[len(before):]
    assert not set(skipped) & set(after), after  # the skipped batch never touched its hosts
    assert leftovers("sdr5") == ""  # the failing host started nothing
    # The failed host's deploy lock was given back.
    lock = ok(home.inv(manifest, "lock", "--inventory", str(ansible), "--limit", "bad1"))
    assert "free: no deploy lock held" in lock.stdout


def test_unreachable_hosts_fail_fast(fleet, home, servers, tmp_path):
    manifest, _, _ = fleet
    refused = f"root@127.0.0.44:{closed_port('127.0.0.44')}"
    started = time.monotonic()
    result = ok(home.inv(manifest, "deploy", "--hosts", refused, "--connect-timeout", "3"), 6)
    assert time.monotonic() - started < 3 + 20  # the CLI's start-up included; a hang would be minutes
    name = refused.split("@")[1]
    assert recap(result.stdout)[name]["unreachable"] == 1 and "connection refused" in result.stdout

    # A port that accepts TCP but never speaks SSH: the connect timeout ends it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.45", 0))
        silent.listen(8)
        target = f"root@127.0.0.45:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = ok(home.inv(manifest, "deploy", "--hosts", target, "--connect-timeout", "2"), 6)
        took = time.monotonic() - started
    assert took < 2 + 20, f"took {took:.1f}s with a 2 s connect timeout"
    assert "within 2s" in result.stdout, result.stdout

    # One unreachable host does not stop the others; the run still ends 6.
    good = servers["web1"].host_spec
    result = ok(home.inv(manifest, "lock", "--hosts", f"{good},{refused}"), 6)
    counts = recap(result.stdout)
    assert counts[name]["unreachable"] == 1 and counts[good.split("@")[1]]["ok"] == 1, result.stdout


def test_unknown_and_changed_host_keys(fleet, client_key, tmp_path):  # noqa: F811
    manifest, _, _ = fleet
    server = RemoteSshd(tmp_path / "sshd", "127.0.0.46", client_key, home=tmp_path / "login").start()
    try:
        home = ClientHome(tmp_path / "home", client_key)  # trusts nobody yet
        unknown = ok(home.inv(manifest, "render", "--check", "--hosts", server.host_spec), 6)
        assert "is not in" in unknown.stdout and "--accept-new-host-keys" in unknown.stdout, unknown.stdout
        assert home.known_hosts.read_text() == ""  # refusing records nothing

        ok(home.inv(manifest, "render", "--check", "--hosts", server.host_spec, "--accept-new-host-keys"))
        assert home.known_hosts.read_text() == server.known_hosts_line() + "\n"
        ok(home.inv(manifest, "render", "--check", "--hosts", server.host_spec))  # known now: no flag needed

        server.stop()
        server.regenerate_host_key()
        server.start()
        changed = ok(home.inv(manifest, "render", "--check", "--hosts", server.host_spec,
                              "--accept-new-host-keys"), 6)
        assert "HOST KEY CHANGED" in changed.stdout and "man-in-the-middle" in changed.stdout
        assert server.known_hosts_line() not in home.known_hosts.read_text()  # the old key stays
    finally:
        server.stop()


def test_no_usable_key_is_an_authentication_failure(fleet, servers, client_key, tmp_path):  # noqa: F811
    manifest, _, _ = fleet
    keyless = ClientHome(tmp_path / "home", client_key, (servers["web1"],), identity=False)
    result = ok(keyless.inv(manifest, "lock", "--hosts", servers["web1"].host_spec), 6)
    assert "authentication failed for root@127.0.0.41" in result.stdout, result.stdout
    assert "check the user and key" in result.stdout
