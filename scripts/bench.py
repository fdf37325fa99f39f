#!/usr/bin/env python3
"""Benchmark SwiftDeploy on this machine; every figure comes with a baseline from the same run.

    .venv/bin/python scripts/bench.py [--rounds 5]

Measures (median of rounds where repeatable):
  - `inv render` (warm)             vs  `inv --list` (Invoke's own start-up: the floor for any task)
  - `inv deploy` (warm, no change)  vs  `docker compose up -d` on the same running stack (what a script does)
  - `inv deploy` (cold)             vs  the same, for scale
  - policy decision latency: embedded (regopy, in-process) vs OPA's Go evaluator (in-process)
                             and vs sidecar (HTTP to the OPA stand-in container)
  - `inv promote --mode stable`     vs  the canary evaluation window it must wait (4 s, median of rounds;
                                        and once at the repository manifest's window)
Runs on loopback only and tears down what it started.
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

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import INV  # noqa: E402
from tests.integration.stack import Traffic, make_project  # noqa: E402

PREFIX, PORT = "sdbench", 22080


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_inv(manifest: Path, task: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`inv TASK --manifest M ARGS...` from this checkout (tests.conftest no longer has run_inv)."""
    return subprocess.run([*INV, task, "--manifest", str(manifest), *args], capture_output=True, text=True,
                          timeout=timeout)


def must(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def median_time(fn, rounds: int) -> float:
    return statistics.median(timed(fn) for _ in range(rounds))


def median_promotion(manifest: Path, rounds: int) -> float:
    """`inv promote --mode stable` under traffic, each round after its own `promote --mode canary` (untimed):
    the median, as for the other figures (one promotion alone varies by a few tens of ms)."""
    def one() -> float:
        must(run_inv(manifest, "promote", "--mode", "canary"))
        with Traffic(f"http://127.0.0.1:{PORT}/"):
            return timed(lambda: must(run_inv(manifest, "promote", "--mode", "stable")))
    return statistics.median(one() for _ in range(rounds))


def decision_latency(engine, domain: str, policy_input: dict, n: int = 200) -> float:
    engine.decide(domain, policy_input)  # warm-up (compile / connection)
    start = time.perf_counter()
    for _ in range(n):
        engine.decide(domain, policy_input)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="swiftdeploy-bench-") as tmp:
        manifest = make_project(Path(tmp), prefix=PREFIX, base_port=PORT)
        try:
            inv_floor = median_time(lambda: must(subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), "--list"],
                                                                capture_output=True, text=True)), args.rounds)
            must(run_inv(manifest, "render"))
            figures["render_s"] = median_time(lambda: must(run_inv(manifest, "render")), args.rounds)
            figures["invoke_floor_s"] = inv_floor

            must(run_inv(manifest, "teardown", "--clean"))
            figures["deploy_cold_s"] = timed(lambda: must(run_inv(manifest, "deploy")))
            figures["deploy_warm_s"] = median_time(lambda: must(run_inv(manifest, "deploy")), args.rounds)
            compose = ["docker", "compose", "-f", str(manifest.parent / "docker-compose.yml"), "-p", PREFIX, "up", "-d"]
            figures["compose_up_warm_s"] = median_time(
                lambda: subprocess.run(compose, capture_output=True, check=True), args.rounds)

            from swiftlib.policy.inputs import canary_input

            sample = canary_input({"error_rate": 0.0, "p99_latency_ms": 20.0, "requests": 100, "window_seconds": 30.0},
                                  {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20})
            figures.update(in_process_latency(sample))
            figures.update(sidecar_latency(sample))

            figures["promote_stable_s"] = median_promotion(manifest, max(3, args.rounds))
            figures["evaluation_window_s"] = 4.0
            # Again with the window a project starts with (the repository's manifest): what the cutover
            # after the window costs is fixed, so its share depends on the window.
            import yaml

            window = yaml.safe_load((REPO / "manifest.yaml").read_text())["policy_limits"]["canary"][
                "evaluation_window_seconds"]
            raw = yaml.safe_load(manifest.read_text())
            raw["policy_limits"]["canary"]["evaluation_window_seconds"] = window
            manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
            must(run_inv(manifest, "promote", "--mode", "canary"))
            with Traffic(f"http://127.0.0.1:{PORT}/"):
                figures["promote_default_window_s"] = timed(lambda: must(run_inv(manifest, "promote", "--mode", "stable")))
            figures["default_window_s"] = float(window)
        finally:
            run_inv(manifest, "teardown", "--clean")
    report(figures)


def in_process_latency(sample: dict) -> dict[str, float]:
    """Decision latency of the two in-process engines: the embedded one and OPA's Go evaluator.

    Measured here rather than asserted in the unit tests: a time limit there fails on a loaded
    machine and says nothing on an idle one.
    """
    from swiftlib.policy import EmbeddedEngine, GoEngine

    policies = REPO / "policies"
    return {"decision_embedded_ms": 1000 * decision_latency(EmbeddedEngine(policies), "canary", sample),
            "decision_golib_ms": 1000 * decision_latency(GoEngine(policies), "canary", sample)}


def sidecar_latency(sample: dict) -> dict[str, float]:
    """Decision latency through HTTP to the OPA stand-in container (the sidecar code path)."""
    from swiftlib.policy.sidecar import SidecarEngine
    from tests.opa_standin.build import prepare_context

    image, name, port = "swiftdeploy-test/opa-standin:local", "sdbench-opa", 22181
    with tempfile.TemporaryDirectory() as ctx:
        context = prepare_context(ctx)
        subprocess.run(["docker", "build", "-q", "--build-arg", "BASE_IMAGE=swiftdeploy/python-base:bookworm",
                        "-t", image, str(context)], check=True, capture_output=True)
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8181",
                    "-v", f"{REPO / 'policies'}:/policies:ro", image], check=True, capture_output=True)
    try:
        engine = SidecarEngine(f"http://127.0.0.1:{port}", 2.0)
        engine.wait_ready(30)
        return {"decision_sidecar_ms": 1000 * decision_latency(engine, "canary", sample)}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def report(f: dict[str, float]) -> None:
    rows = [
        ("inv render (warm)", f"{f['render_s']:.2f} s", f"{f['render_s'] / f['invoke_floor_s']:.2f}x Invoke start-up ({f['invoke_floor_s']:.2f} s)"),
        ("inv deploy (warm, no change)", f"{f['deploy_warm_s']:.2f} s",
         f"{f['deploy_warm_s'] / f['compose_up_warm_s']:.2f}x bare `docker compose up -d` ({f['compose_up_warm_s']:.2f} s)"),
        ("inv deploy (cold)", f"{f['deploy_cold_s']:.2f} s", f"{f['deploy_cold_s'] / f['compose_up_warm_s']:.2f}x bare compose up"),
        ("decision, embedded", f"{f['decision_embedded_ms']:.2f} ms", "1.00x (baseline)"),
        ("decision, OPA's Go evaluator", f"{f['decision_golib_ms']:.2f} ms",
         f"{f['decision_golib_ms'] / f['decision_embedded_ms']:.2f}x embedded"),
        ("decision, sidecar (HTTP)", f"{f['decision_sidecar_ms']:.2f} ms",
         f"{f['decision_sidecar_ms'] / f['decision_embedded_ms']:.2f}x embedded"),
        ("inv promote --mode stable", f"{f['promote_stable_s']:.2f} s",
         f"{f['promote_stable_s'] / f['evaluation_window_s']:.2f}x the {f['evaluation_window_s']:g} s window it waits"),
        ("inv promote --mode stable (default window)", f"{f['promote_default_window_s']:.2f} s",
         f"{f['promote_default_window_s'] / f['default_window_s']:.2f}x the {f['default_window_s']:g} s window it waits"),
    ]
    print_rows(rows, f)


def print_rows(rows: list[tuple[str, str, str]], figures: dict[str, float]) -> None:
    """The (what, figure, ratio) rows aligned, then every raw figure as JSON (the other bench scripts use it)."""
    width = max(len(r[0]) for r in rows)
    for name, value, ratio in rows:
        print(f"{name:<{width}}  {value:>10}  {ratio}")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
