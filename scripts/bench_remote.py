#!/usr/bin/env python3
"""Benchmark remote deploys over SSH against local ones; every figure measured in this one run.

    python3 scripts/bench_remote.py [--rounds 3]

Measures (median of rounds; each round alternates the order of what it compares):
  - `inv deploy` of one project on this machine        vs  the same project `--hosts root@127.0.0.61:PORT`
    (cold: after a teardown; warm: nothing to change)
  - `inv deploy --inventory` of three hosts, `--serial 1`  vs  the default (all hosts at once, in threads)
The remote hosts are this machine behind real sshd servers on 127.0.0.61-63 (as the tests set
them up), sharing its Docker engine: so the images are already "on the host" and never streamed,
and the figures show the cost of SSH itself (connection, round trips, uploads, tunnels), not of
a network or of a second machine's CPUs. Tears down everything it started.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integration.fleet_env import ClientHome, RemoteSshd, stack_overrides  # noqa: E402
from tests.integration.sshd import keygen  # noqa: E402
from tests.integration.stack import make_project, remove_stack  # noqa: E402

SINGLE_PREFIX, SINGLE_PORT = "sdb1", 21580
FLEET = {f"bench{i}": (f"127.0.0.{60 + i}", f"sdb{1 + i}", 21600 + 10 * i) for i in (1, 2, 3)}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def must(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def write_inventory(path: Path, servers: dict[str, RemoteSshd], key: Path, remote_dir: str) -> Path:
    """Each host's project directory is ``remote_dir`` under its login's own home."""
    hosts = {}
    for name, (_, prefix, port) in FLEET.items():
        server = servers[name]
        hosts[name] = {"address": server.address, "port": server.port, "user": "root", "key": str(key),
                       "vars": {"swiftdeploy_overrides": stack_overrides(prefix, port, remote_dir)}}
    path.write_text(yaml.safe_dump({"hosts": hosts}, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {k: [] for k in (
        "local_cold", "remote_cold", "local_warm", "remote_warm", "fleet_serial1", "fleet_parallel")}
    servers: dict[str, RemoteSshd] = {}
    with tempfile.TemporaryDirectory(prefix="swiftdeploy-bench-remote-") as tmp_name:
        tmp = Path(tmp_name)
        key = keygen(tmp / "id_ed25519", comment="swiftdeploy-bench")
        try:
            for name, (address, _, _) in FLEET.items():
                servers[name] = RemoteSshd(tmp / f"sshd-{name}", address, key,
                                           home=tmp / f"login-{name}").start()
            home = ClientHome(tmp / "home", key, tuple(servers.values()))
            single = make_project(tmp / "single", prefix=SINGLE_PREFIX, base_port=SINGLE_PORT,
                                  deploy={"remote_dir": "remote-single"})  # under bench1's login home
            fleet_manifest = make_project(tmp / "fleet", prefix="sdb9", base_port=21980)
            inventory = write_inventory(tmp / "fleet" / "fleet.yml", servers, key.private, "remote-fleet")
            remote = ["--hosts", servers["bench1"].host_spec]

            def deploy_single(where: list[str], label: str) -> None:
                must(home.inv(single, "teardown", "--clean", *where))
                samples[f"{label}_cold"].append(timed(lambda: must(home.inv(single, "deploy", *where))))
                samples[f"{label}_warm"].append(timed(lambda: must(home.inv(single, "deploy", *where))))
                must(home.inv(single, "teardown", "--clean", *where))

            def deploy_fleet(extra: list[str], label: str) -> None:
                must(home.inv(fleet_manifest, "teardown", "--clean", "--inventory", str(inventory)))
                samples[label].append(timed(lambda: must(
                    home.inv(fleet_manifest, "deploy", "--inventory", str(inventory), *extra))))

            for round_no in range(args.rounds):
                pair = [([], "local"), (remote, "remote")]
                fleets = [(["--serial", "1"], "fleet_serial1"), ([], "fleet_parallel")]
                if round_no % 2:
                    pair.reverse()
                    fleets.reverse()
                for where, label in pair:
                    deploy_single(where, label)
                for extra, label in fleets:
                    deploy_fleet(extra, label)
                print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            home.inv(fleet_manifest, "teardown", "--clean", "--inventory", str(inventory))
        finally:
            for server in servers.values():
                server.stop()
            for prefix in [SINGLE_PREFIX] + [p for _, p, _ in FLEET.values()]:
                remove_stack(prefix)
    report({k: statistics.median(v) for k, v in samples.items() if v}, args.rounds)


def report(f: dict[str, float], rounds: int) -> None:
    def x(a: str, b: str) -> str:
        return f"{f[a] / f[b]:.2f}x"

    rows = [
        ("inv deploy, local (cold)", f["local_cold"], "1.00x (baseline)"),
        ("inv deploy --hosts, 1 host over SSH (cold)", f["remote_cold"], f"{x('remote_cold', 'local_cold')} local"),
        ("inv deploy, local (warm, no change)", f["local_warm"], "1.00x (baseline)"),
        ("inv deploy --hosts, 1 host over SSH (warm)", f["remote_warm"], f"{x('remote_warm', 'local_warm')} local"),
        ("inv deploy --inventory, 3 hosts, --serial 1 (cold)", f["fleet_serial1"],
         f"{x('fleet_serial1', 'remote_cold')} one remote host"),
        ("inv deploy --inventory, 3 hosts in parallel (cold)", f["fleet_parallel"],
         f"{x('fleet_parallel', 'fleet_serial1')} --serial 1, {x('fleet_parallel', 'remote_cold')} one host"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"median of {rounds} round(s)")
    for name, seconds, ratio in rows:
        print(f"{name:<{width}}  {seconds:>7.2f} s  {ratio}")
    print(json.dumps({k: round(v, 3) for k, v in f.items()}, indent=2))


if __name__ == "__main__":
    main()
