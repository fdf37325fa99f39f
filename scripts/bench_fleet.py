#!/usr/bin/env python3
"""Host stats and the infrastructure policy on a fleet of real sshd hosts, against Ansible's ad-hoc `shell`.

    .venv/bin/python scripts/bench_fleet.py [--hosts 100] [--rounds 3]

N sshd servers on 127.0.1.1, 127.0.1.2, ... (this machine behind real OpenSSH, as the tests set
them up) in one Ansible INI inventory. All of them share this machine's one Docker engine, which
each host's stats ask for its data root: with many hosts at once that engine is the bottleneck of
both tools alike (a real fleet has an engine per host). Measured in the same run, median of --rounds, forks = N for both:

* `swiftdeploy opa-check --context pre_deploy -i INV --forks N`: on every host, over SSH, the stats
  the policy needs (disk, load, CPUs, memory), then the infrastructure policy's decision;
* the baseline, `ansible all -i INV -m shell -a '<the same stats commands>' -f N`: Ansible reading
  the same numbers and deciding nothing.

Both connect with the same key and known_hosts, through a fresh process each round.
"""
from __future__ import annotations

import argparse
import os
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

from tests.conftest import SWIFTDEPLOY, ansible_tool  # noqa: E402
from tests.integration.fleet_env import ClientHome  # noqa: E402
from tests.integration.sshd import SshdServer, keygen  # noqa: E402
from tests.integration.stack import make_project  # noqa: E402

# What swiftlib/hoststats.py reads (Docker's data root, its disk, load, CPUs, memory), as one shell line.
STATS = ("df -Pk \"$(docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /)\"; cat /proc/loadavg; nproc; "
         "cat /proc/meminfo")


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    took = time.perf_counter() - started
    if done.returncode != 0:
        failures = [line for line in (done.stdout + done.stderr).splitlines() if "fatal" in line or "FAILED" in line]
        sys.exit(f"{' '.join(argv[:4])}... exited {done.returncode}\n" + "\n".join(failures[:5])
                 + "\n" + done.stdout[-1500:] + done.stderr[-1500:])
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = keygen(root / "client_key")
        servers = [SshdServer(root / f"sshd{i}", f"127.0.1.{i}", key) for i in range(1, args.hosts + 1)]
        try:
            for server in servers:
                server.start()
            home = ClientHome(root / "home", key, tuple(servers))
            manifest = make_project(root / "project", prefix="sdbfleet", base_port=31480)
            raw = yaml.safe_load(manifest.read_text())
            raw["opa"]["engine"] = "embedded"
            manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
            inventory = root / "fleet.ini"
            inventory.write_text("[fleet]\n" + "".join(
                f"h{i} ansible_host={s.address} ansible_port={s.port} ansible_user=root "
                f"ansible_ssh_private_key_file={key.private}\n" for i, s in enumerate(servers, 1)))
            env = {**home.env(), "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                   "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={home.known_hosts} -o ControlMaster=no",
                   "ANSIBLE_LOCALHOST_WARNING": "False"}
            ours = [*SWIFTDEPLOY, "opa-check", "--context", "pre_deploy", "--manifest", str(manifest),
                    "-i", str(inventory), "--forks", str(args.hosts)]
            # {% raw %}: Ansible would read Docker's {{.DockerRootDir}} as a template of its own.
            ansible = [ansible_tool("ansible"), "all", "-i", str(inventory), "-m", "shell",
                       "-a", STATS.replace("{{.DockerRootDir}}", "{% raw %}{{.DockerRootDir}}{% endraw %}"),
                       "-f", str(args.hosts)]
            timed(ours, env, manifest.parent)  # warm both once (imports, page cache)
            timed(ansible, env, manifest.parent)
            mine, theirs = [], []
            for round_number in range(args.rounds):  # alternate which goes first
                pair = [(mine, ours), (theirs, ansible)]
                for into, argv in pair if round_number % 2 == 0 else reversed(pair):
                    into.append(timed(argv, env, manifest.parent))
        finally:
            for server in servers:
                server.stop()
    ours_s, theirs_s = statistics.median(mine), statistics.median(theirs)
    print(f"bench_fleet ({args.hosts} sshd hosts on loopback, forks {args.hosts}, median of {args.rounds}, "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs)")
    print("| what | time | against |\n|---|---|---|")
    print(f"| Ansible ad-hoc `shell` reading the same stats | {theirs_s:.2f} s | baseline |")
    print(f"| `swiftdeploy opa-check --context pre_deploy` (stats + infrastructure policy per host) | "
          f"{ours_s:.2f} s | {ours_s / theirs_s:.2f}x Ansible |")


if __name__ == "__main__":
    main()
