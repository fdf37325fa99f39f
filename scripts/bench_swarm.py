#!/usr/bin/env python3
"""Rolling updates and a node failure on a real three-node Docker Swarm; baselines from the same run.

    .venv/bin/python scripts/bench_swarm.py [--runs 3] [--rate 50] [--proxy-timeout S] [--json] [--show-output]

(`make bench-swarm`; about 4 minutes with --runs 1 and 7 to 8 with the default 3 on 2 cores.)

Three docker-in-docker nodes on one Docker network of this machine (tests/integration/swarm_nodes.py),
node1 the manager, node2 and node3 workers, formed by `inv cluster --init`; version A deployed with
`services.replicas: 3` (`deploy.runtime: swarm`). Then:

1. Rolling a new version, --runs times each, alternating which goes first. Every step is a new
   version: a new tag of the same app image (the app answers with APP_VERSION, so the new image and
   environment are a real rolling update of the three tasks, start-first, one at a time).
   - ours: the manifest's `services.image`/`services.version` edited, `inv deploy --inventory`
     timed until it exits 0 (it waits until every replica runs the new spec healthy);
   - baseline: the stack file SwiftDeploy rendered on node1, with the app's image and APP_VERSION
     edited, given to a raw `docker stack deploy --resolve-image never -c FILE STACK` on node1
     (through `docker exec`), then polled every 0.2 s until every task the app service wants
     running runs the new image healthy (`docker service ps`: all `Running`) and the service's
     UpdateStatus is no longer `updating` (`docker service inspect`). Docker 20.10 (Debian 12's
     docker.io, what the nodes run) has no `--detach=false` for `docker stack deploy` (its help lists
     no --detach; later CLIs have one; only `docker service update` waits), so a script must poll.
   Both start with the new tag already on every node (tagged there from the same image ID, which is
   what `docker save | docker load` would leave), so neither pays a transfer: the figures compare
   the rollouts. One more `inv deploy` without the tag on the nodes shows what shipping it costs
   (SwiftDeploy streams `docker save | ssh | docker load` to each node).
2. Failover, once per run of the script (it costs a node): under about 50 requests/s spread over
   the three nodes' public ports (tests/integration/stack.py's ``Load`` requests, a new connection
   each, but sent on schedule without waiting for the previous answer: ``OpenLoad``), the worker
   running the most app tasks is killed (`docker kill` of its container: gone
   as a crashed server is). Measured:
   seconds until the manager reports the node down and until three app replicas run again on the
   two nodes left; the failed requests (no answer, or nginx's 502/503/504), those aimed at the dead
   node (they die with it) apart from those aimed at the live nodes, and the span from the first
   failed request to the last; then `inv cluster --inventory` (status) with the node down: its time
   and exit code (5: a node down in the swarm; 6: a node unreachable over SSH).

Everything runs on this machine, over loopback and a Docker bridge: the nodes share its CPUs (the
1-minute load average is recorded: another job on the machine slows both sides, not always alike).
The nodes, their volumes and network are removed at the end, on an error or Ctrl-C too.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from swiftlib.render import APP_HEALTHCHECK  # noqa: E402
from tests.conftest import SWIFTDEPLOY  # noqa: E402
from tests.integration.fleet_env import ClientHome  # noqa: E402
from tests.integration.sshd import keygen  # noqa: E402
from tests.integration.stack import Load, make_project  # noqa: E402
from tests.integration.swarm_nodes import SwarmNodes, docker, trusting_home  # noqa: E402

PREFIX, PORT = "sdbsw", 23380
APP_SERVICE = f"{PREFIX}_app"
BASE_IMAGE = "swiftdeploy-app:1.0.0"
REMOTE_DIR = "/root/swiftdeploy"   # deploy.remote_dir (swiftdeploy) under root's home on every node
BASELINE_FILE = "/root/bench-stack.yml"
POLL = 0.2
FAILED = (0, 502, 503, 504)
SLOW = 1.0    # seconds: an answered request slower than this is counted as slow


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class OpenLoad(Load):
    """``Load``'s requests (a new connection each, its timeout, its idea of a failed request), sent on
    schedule whether or not the earlier ones have answered, and recorded with the time each was sent.

    ``Load`` sends its next request once the previous one answered: when a request hangs on a task of the
    dead node (until the client's 10 s timeout), that stream sends nothing else meanwhile, so the requests
    that would have failed in those seconds are never made. Clients of a public endpoint do not wait for
    each other, so the failover's load does not either."""

    def __init__(self, url: str, *, rate: float, workers: int = 256) -> None:
        super().__init__(url, rate=rate)
        self.timed: list[tuple[float, int, float]] = []  # (sent, status or 0, seconds)
        self._pool = ThreadPoolExecutor(workers)
        self._lock = threading.Lock()

    def _one(self, sent: float) -> None:
        try:
            status = requests.get(self.url, timeout=10, headers={"Connection": "close"}).status_code
        except requests.RequestException:
            status = 0
        took = time.monotonic() - sent
        with self._lock:
            self.results.append((status, took))
            self.timed.append((sent, status, took))

    def _loop(self) -> None:
        next_at = time.monotonic()
        deadline = next_at + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._pool.submit(self._one, time.monotonic())
            next_at += self.period
            time.sleep(max(0.0, next_at - time.monotonic()))

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._pool.shutdown(wait=True)  # the requests under way end by their timeout


class Bench:
    """The project (manifest, inventory, client HOME) on the nodes, and what the benchmark does with it."""

    def __init__(self, root: Path, nodes: SwarmNodes, home: ClientHome) -> None:
        self.root, self.nodes, self.home = root, nodes, home
        self.manifest = root / "project" / "manifest.yaml"
        self.inventory = root / "project" / "hosts.ini"
        self.manager = nodes["node1"]

    # -- the CLI ---------------------------------------------------------------------------
    def inv(self, task: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return self.home.inv(self.manifest, task, "--inventory", str(self.inventory), "--connect-timeout", "5",
                             *args, timeout=timeout)

    def must_inv(self, task: str, *args: str) -> tuple[float, str, list[tuple[str, float]]]:
        """Run `inv TASK` as ``inv`` does, reading its output as it comes: (seconds, output, steps), each step
        (its TASK name) with the seconds from the previous step's result line to its own (the first from the
        start: the connections to the nodes are in it)."""
        argv = [*SWIFTDEPLOY, task, "--manifest", str(self.manifest), "--inventory", str(self.inventory),
                "--connect-timeout", "5", *args]
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=self.manifest.parent, env={**self.home.env(), "PYTHONUNBUFFERED": "1"})
        lines, steps, task_name, last = [], [], "", started
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
                now = time.perf_counter()
                if line.startswith("TASK ["):
                    task_name = line[6:line.index("]")]
                elif line.split(":", 1)[0] in ("ok", "changed", "fatal", "skipping", "failed") and task_name:
                    steps.append((task_name, now - last))
                    last = now
            code = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:  # interrupted (SIGTERM reaches only this process): not left running
                proc.kill()
                proc.wait()
        took = time.perf_counter() - started
        output = "".join(lines)
        if code != 0:
            raise SystemExit(f"`inv {task} {' '.join(args)}` exited {code}:\n{output}")
        steps.append(("(exit)", took - (last - started)))
        return took, output, steps

    def set_version(self, image: str, version: str) -> None:
        doc = yaml.safe_load(self.manifest.read_text())
        doc["services"].update(image=image, version=version)
        self.manifest.write_text(yaml.safe_dump(doc, sort_keys=False))

    # -- the project -------------------------------------------------------------------------
    def write_project(self, proxy_timeout: int | None = None) -> None:
        make_project(self.manifest.parent, prefix=PREFIX, base_port=PORT)
        doc = yaml.safe_load(self.manifest.read_text())
        if proxy_timeout is not None:
            doc["nginx"]["proxy_timeout"] = proxy_timeout
        doc["deploy"].update(runtime="swarm", health_timeout_seconds=90)
        doc["services"]["replicas"] = 3
        doc["opa"]["engine"] = "embedded"
        self.manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
        n = self.nodes
        line = lambda name: f"{name} ansible_host={n[name].address} ansible_user=root"  # noqa: E731
        self.inventory.write_text(f"[managers]\n{line('node1')}\n\n[workers]\n{line('node2')}\n{line('node3')}\n")

    def tag_everywhere(self, tag: str, nodes=None) -> None:
        """``tag`` on this machine and on ``nodes`` (default all): the image ID the nodes already hold."""
        docker("tag", BASE_IMAGE, tag)
        for node in self.nodes.nodes if nodes is None else nodes:
            node.sh(f"docker tag {BASE_IMAGE} {tag}")

    # -- the baseline ------------------------------------------------------------------------
    def baseline_file(self, image: str, version: str) -> None:
        """The stack file SwiftDeploy last rendered on node1, with the app's image and APP_VERSION changed."""
        doc = yaml.safe_load(self.manager.sh(f"cat {REMOTE_DIR}/docker-compose.yml").stdout)
        app = doc["services"]["app"]
        app["image"] = image
        app["environment"]["APP_VERSION"] = version
        docker("exec", "-i", self.manager.container, "sh", "-c", f"cat > {BASELINE_FILE}",
               stdin=yaml.safe_dump(doc, sort_keys=False))

    def converged_on(self, image: str) -> bool:
        script = (f"docker service inspect --format '{{{{if .UpdateStatus}}}}{{{{.UpdateStatus.State}}}}{{{{end}}}}' "
                  f"{APP_SERVICE}; echo '--'; docker service ps --filter desired-state=running "
                  f"--format '{{{{.Image}}}} {{{{.CurrentState}}}}' {APP_SERVICE}")
        out = self.manager.sh(script, check=False).stdout
        update, _, tasks = out.partition("--")
        rows = [line.split() for line in tasks.strip().splitlines() if line.strip()]
        return (update.strip() != "updating" and len(rows) == 3
                and all(r[0].split("@")[0] == image and r[1] == "Running" for r in rows))

    def baseline_roll(self, image: str, version: str) -> float:
        self.baseline_file(image, version)
        started = time.perf_counter()
        self.manager.sh(f"docker stack deploy --resolve-image never -c {BASELINE_FILE} {PREFIX}", timeout=300)
        deadline = time.monotonic() + 600
        while not self.converged_on(image):
            if time.monotonic() > deadline:
                raise SystemExit(f"baseline: {APP_SERVICE} did not converge on {image} in 600 s")
            time.sleep(POLL)
        return time.perf_counter() - started

    def ours_roll(self, image: str, version: str) -> tuple[float, str, list[tuple[str, float]]]:
        self.set_version(image, version)
        took, said, steps = self.must_inv("deploy")
        if not self.converged_on(image):
            raise SystemExit(f"`inv deploy` exited 0 but {APP_SERVICE} does not run {image} on 3 healthy tasks")
        return took, said, steps

    def versions_answered(self) -> set[str]:
        return {requests.get(f"http://{n.address}:{PORT}/", timeout=5).json()["version"] for n in self.nodes.nodes}

    # -- failover ----------------------------------------------------------------------------
    def swarm_view(self, dead: str) -> tuple[str, int]:
        """(the dead node's state as the manager sees it, app tasks Running on the other nodes)."""
        script = (f"docker node inspect --format '{{{{.Status.State}}}}' {dead}; echo '--'; "
                  f"docker service ps --filter desired-state=running --format '{{{{.Node}}}} {{{{.CurrentState}}}}' "
                  f"{APP_SERVICE}")
        out = self.manager.sh(script, check=False, timeout=30).stdout
        state, _, tasks = out.partition("--")
        rows = [line.split() for line in tasks.strip().splitlines() if line.strip()]
        return state.strip(), sum(1 for r in rows if r[0] != dead and r[1] == "Running")

    def placement(self) -> dict[str, int]:
        """App tasks meant to run, by node."""
        out = self.manager.sh(f"docker service ps --filter desired-state=running --format '{{{{.Node}}}}' "
                              f"{APP_SERVICE}").stdout.split()
        return {n.name: out.count(n.name) for n in self.nodes.nodes}

    def failover(self, rate: float) -> dict:
        # The worker with the most app tasks: a node that runs none would test nothing. Swarm's start-first
        # updates leave the tasks where each new one fitted, not necessarily one per node.
        placed = self.placement()
        dead = max((n for n in self.nodes.nodes if n.name != "node1"), key=lambda n: placed[n.name])
        if not placed[dead.name]:
            raise SystemExit(f"no worker runs an app task ({placed}): nothing to fail over")
        loads = {n.name: OpenLoad(f"http://{n.address}:{PORT}/", rate=rate / len(self.nodes.nodes))
                 for n in self.nodes.nodes}
        out: dict = {"killed": dead.name, "placement_before": placed, "tasks_on_killed_node": placed[dead.name]}
        for load in loads.values():
            load.__enter__()
        try:
            time.sleep(5)  # steady traffic first
            killed_at = time.monotonic()
            docker("kill", dead.container)
            down_at = back_at = None
            while (back_at is None or down_at is None) and time.monotonic() - killed_at < 300:
                state, running = self.swarm_view(dead.name)
                now = time.monotonic()
                if down_at is None and state == "down":
                    down_at = now
                if back_at is None and running >= 3:
                    back_at = now
                time.sleep(POLL)
            time.sleep(5)  # the tail: requests still failing after the replicas are back
        finally:
            for load in loads.values():
                load.__exit__(None, None, None)
        out["node_down_s"] = None if down_at is None else round(down_at - killed_at, 2)
        out["replicas_back_s"] = None if back_at is None else round(back_at - killed_at, 2)

        def tally(names: list[str]) -> dict:
            rows = [r for name in names for r in loads[name].timed]
            after = [r for r in rows if r[0] + r[2] >= killed_at]
            failed = sorted(r for r in rows if r[1] in FAILED)
            span = {}
            if failed:
                span = {"first_failed_s": round(failed[0][0] - killed_at, 2),
                        "last_failed_started_s": round(failed[-1][0] - killed_at, 2),
                        "last_failed_s": round(max(r[0] + r[2] for r in failed) - killed_at, 2)}
                span["span_s"] = round(span["last_failed_s"] - span["first_failed_s"], 2)
            codes: dict[str, int] = {}
            for r in failed:
                codes[str(r[1])] = codes.get(str(r[1]), 0) + 1
            took = sorted(r[2] for r in after) or [0.0]
            return {"requests": len(rows), "after_kill": len(after), "failed": len(failed), "codes": codes,
                    "slow_after_kill": sum(1 for r in after if r[1] not in FAILED and r[2] > SLOW),
                    "slowest_after_kill_s": round(took[-1], 2), **span}

        out["dead_node"] = tally([dead.name])
        out["live_nodes"] = tally([n.name for n in self.nodes.nodes if n is not dead])
        out["placement_after"] = self.placement()
        started = time.perf_counter()
        status = self.inv("cluster", timeout=300)
        out["cluster_status_s"] = round(time.perf_counter() - started, 2)
        out["cluster_status_exit"] = status.returncode
        out["cluster_status_output"] = (status.stdout + status.stderr).strip()
        return out


def interrupted(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: either way the nodes are removed


def run(args: argparse.Namespace, root: Path, nodes: SwarmNodes) -> dict:
    key = keygen(root / "client_key", comment="swiftdeploy-bench")
    nodes.client = key
    log("starting 3 docker-in-docker nodes")
    nodes.start()
    home = trusting_home(root / "home", key, nodes)
    bench = Bench(root, nodes, home)
    bench.write_project(args.proxy_timeout)
    figures: dict = {"runs": args.runs, "rate": args.rate, "proxy_timeout": args.proxy_timeout,
                     "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                     "update_monitor_s": APP_HEALTHCHECK.settled_seconds}
    figures["load_average_at_start"] = round(os.getloadavg()[0], 2)  # another job on this machine skews every figure
    took, _, _ = bench.must_inv("cluster", "--init")
    figures["cluster_init_s"] = round(took, 2)
    log(f"swarm formed in {figures['cluster_init_s']:.1f} s; deploying version A (images streamed to every node)")
    took, figures["first_deploy_output"], steps = bench.must_inv("deploy")
    figures["first_deploy_s"] = round(took, 2)
    figures["first_deploy_steps_s"] = {name: round(t, 2) for name, t in steps}

    ours: list[float] = []
    baseline: list[float] = []
    outputs: list[str] = []
    ours_steps: dict[str, list[float]] = {}
    step = 0
    for run_no in range(args.runs):
        order = ("ours", "baseline") if run_no % 2 == 0 else ("baseline", "ours")
        for who in order:
            step += 1
            tag, version = f"swiftdeploy-app:bench-{step}", f"9.{step}.0"
            bench.tag_everywhere(tag)
            if who == "ours":
                took, said, steps = bench.ours_roll(tag, version)
                ours.append(took)
                outputs.append(said)
                for name, seconds in steps:
                    ours_steps.setdefault(name, []).append(seconds)
            else:
                baseline.append(bench.baseline_roll(tag, version))
            answered = bench.versions_answered()
            if answered != {version}:
                raise SystemExit(f"after {who}'s roll to {version} the nodes answer {answered}")
            log(f"run {run_no + 1}/{args.runs}: {who} rolled to {version} in "
                f"{(ours if who == 'ours' else baseline)[-1]:.1f} s")
    figures["ours_s"] = [round(t, 2) for t in ours]
    figures["baseline_s"] = [round(t, 2) for t in baseline]
    figures["ours_median_s"] = round(statistics.median(ours), 2)
    figures["baseline_median_s"] = round(statistics.median(baseline), 2)
    figures["ratio"] = round(figures["ours_median_s"] / figures["baseline_median_s"], 2)
    figures["ours_last_output"] = outputs[-1]
    # where `inv deploy`'s time goes: each step's median, from its result line's arrival
    figures["ours_steps_median_s"] = {name: round(statistics.median(v), 2) for name, v in ours_steps.items()}

    step += 1
    tag, version = f"swiftdeploy-app:bench-{step}", f"9.{step}.0"
    docker("tag", BASE_IMAGE, tag)  # here only: `inv deploy` ships it to the three nodes
    took, said, steps = bench.ours_roll(tag, version)
    figures["ours_shipping_s"] = round(took, 2)
    figures["ours_shipping_output"] = said
    figures["ours_shipping_steps_s"] = {name: round(t, 2) for name, t in steps}
    log(f"inv deploy with the new tag shipped to 3 nodes: {took:.1f} s")

    figures["load_average_after_rolls"] = round(os.getloadavg()[0], 2)
    log(f"failover: killing a worker under {args.rate:g} req/s")
    figures["failover"] = bench.failover(args.rate)
    fo = figures["failover"]
    log(f"{fo['killed']} killed ({fo['tasks_on_killed_node']} app task(s) on it, placement {fo['placement_before']}): "
        f"down after {fo['node_down_s']} s, replicas back after {fo['replicas_back_s']} s")
    return figures


def failed_text(side: dict) -> str:
    """How many failed after the kill, what they got, when they were sent and until when they failed; how many
    others answered slowly."""
    slow = f"; {side['slow_after_kill']} answered in more than {SLOW:g} s" if side.get("slow_after_kill") else ""
    if not side["failed"]:
        return f"0 of {side['after_kill']} after the kill{slow}"
    codes = ", ".join(f"{n}x {'no answer' if c == '0' else c}" for c, n in sorted(side["codes"].items()))
    return (f"{side['failed']} of {side['after_kill']} after the kill ({codes}), "
            f"sent from +{side['first_failed_s']:.1f} s to +{side['last_failed_started_s']:.1f} s, "
            f"failing until +{side['last_failed_s']:.1f} s ({side['span_s']:.1f} s){slow}")


def report(f: dict) -> None:
    fo, base = f["failover"], f["baseline_median_s"]
    rows = [
        ("raw `docker stack deploy` + poll until 3/3 healthy on the new image", f"{base:.2f} s", "baseline"),
        ("`inv deploy` of a new version (3 replicas rolled)", f"{f['ours_median_s']:.2f} s",
         f"{f['ratio']:.2f}x baseline"),
        ("`inv deploy`, the new tag also shipped to the 3 nodes (1 run)", f"{f['ours_shipping_s']:.2f} s",
         f"{f['ours_shipping_s'] / base:.2f}x baseline"),
        (f"failover: {fo['killed']} killed ({fo['tasks_on_killed_node']} of 3 app tasks); the manager says down",
         f"{fo['node_down_s']} s", "after the kill"),
        ("failover: 3 app replicas running again on the 2 nodes left", f"{fo['replicas_back_s']} s", "after the kill"),
        ("failed requests aimed at the live nodes", "", failed_text(fo["live_nodes"])),
        ("failed requests aimed at the dead node", "", failed_text(fo["dead_node"])),
        ("`inv cluster` (status) with the node down", f"{fo['cluster_status_s']:.2f} s",
         f"exit {fo['cluster_status_exit']}"),
    ]
    print(f"bench_swarm (3 docker-in-docker nodes on one bridge, median of {f['runs']} run(s), "
          f"{f['date']}, {f['cpus']} CPUs, 1-minute load {f['load_average_at_start']:g} at the start, "
          f"{f['load_average_after_rolls']:g} after the rolls"
          + (f", nginx.proxy_timeout {f['proxy_timeout']} s" if f["proxy_timeout"] is not None else "") + ")")
    print("| what | time | against |\n|---|---|---|")
    for what, value, against in rows:
        print(f"| {what} | {value} | {against} |")
    steps = ", ".join(f"{name} {t:.1f} s" for name, t in f["ours_steps_median_s"].items())
    print(f"\nours {f['ours_s']} s, baseline {f['baseline_s']} s; `inv cluster --init` {f['cluster_init_s']:.1f} s; "
          f"first deploy (both images streamed to 3 nodes) {f['first_deploy_s']:.1f} s.\n"
          f"`inv deploy`'s steps (median; each until its result line): {steps}; with the tag shipped, "
          f"prepare host took {f['ours_shipping_steps_s'].get('prepare host', 0):.1f} s.")
    print(f"\nRolling three replicas to a new version took `inv deploy` {f['ours_median_s']:.1f} s against "
          f"{base:.1f} s for a raw `docker stack deploy` polled until converged ({f['ratio']:.2f}x): both wait for "
          f"Swarm's start-first update, one task at a time, then its {f['update_monitor_s']} s monitor window; "
          f"`inv deploy` adds its checks before and after (its `up` step alone took "
          f"{f['ours_steps_median_s'].get('up', 0):.1f} s). Shipping the new tag to the three nodes in the same "
          f"command made it {f['ours_shipping_s']:.1f} s. With a worker killed under {f['rate']:g} requests/s, the "
          f"manager said it was down after {fo['node_down_s']} s and three replicas ran again after "
          f"{fo['replicas_back_s']} s; requests to the live nodes: {failed_text(fo['live_nodes'])}; to the dead node: "
          f"{failed_text(fo['dead_node'])}. `inv cluster` reported the node in {fo['cluster_status_s']:.1f} s, "
          f"exit {fo['cluster_status_exit']}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rolls of each (ours, baseline); default 3")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s during failover, over the 3 nodes")
    parser.add_argument("--proxy-timeout", type=int, metavar="S",
                        help="the project's nginx.proxy_timeout (default: the manifest's, 30): also nginx's connect "
                             "timeout to a task, which decides whether a request sent to the dead node's task is "
                             "retried on another before the client's 10 s timeout")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON instead of the table")
    parser.add_argument("--show-output", action="store_true",
                        help="also print (on stderr) what `inv deploy` and `inv cluster` said")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupted)
    with tempfile.TemporaryDirectory(prefix="swiftdeploy-bench-swarm-") as tmp:
        nodes = SwarmNodes("sdbsw", 3, None)  # the client key is made in run()
        try:
            figures = run(args, Path(tmp), nodes)
        except KeyboardInterrupt:
            log("interrupted")
            raise SystemExit(130)
        finally:
            log("removing the nodes")
            nodes.close()
            for tag in docker("images", "--format", "{{.Repository}}:{{.Tag}}", "swiftdeploy-app",
                              check=False).stdout.split():
                if ":bench-" in tag:
                    docker("rmi", tag, check=False)
    said = {k: figures.pop(k) for k in [k for k in figures if k.endswith("_output")]}
    said["cluster_status_output"] = figures["failover"].pop("cluster_status_output")
    if args.show_output:
        for name, text in said.items():
            print(f"--- {name}\n{text}", file=sys.stderr)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    main()
