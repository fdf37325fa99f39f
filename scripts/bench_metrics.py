#!/usr/bin/env python3
"""What the Prometheus metrics source costs, against the scrape source, on one stack in one run.

    .venv/bin/python scripts/bench_metrics.py [--rounds 20]

A stack with `metrics.source: prometheus` (scraping every second) runs a canary at 50% under
steady traffic. Measured, median of rounds:
  - reading one window once its wait is over: Prometheus (three PromQL instant queries per
    track, canary and stable)  vs  the scrape source (one /metrics scrape per track, parsed);
  - the canary gate's wall time with Prometheus (`prometheus_window.measure`: the window, the
    wait until every track was scraped past its end, the queries)  vs  the evaluation window itself.
Runs on loopback only and tears down what it started.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench import must, print_rows  # noqa: E402
from tests.conftest import run_cli as run_inv  # noqa: E402 - the swiftdeploy program, as inv runs it
from tests.integration.stack import Traffic, make_project  # noqa: E402

PREFIX, PORT, PROM_PORT = "sdbenchm", 22280, 22390
WINDOW = 4.0


def median_ms(fn, rounds: int) -> float:
    fn()  # warm-up: connections, imports
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    from swiftlib.observe import canary_window
    from swiftlib.observe import prometheus_window
    from swiftlib.lifecycle.context import Project, Target

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="swiftdeploy-bench-metrics-") as tmp:
        manifest = make_project(Path(tmp), prefix=PREFIX, base_port=PORT,
                                metrics={"source": "prometheus", "prometheus": {
                                    "port": PROM_PORT, "container_name": f"{PREFIX}-prometheus",
                                    "scrape_interval_seconds": 1}})
        try:
            must(run_inv(manifest, "bootstrap"))
            must(run_inv(manifest, "deploy"))
            must(run_inv(manifest, "promote", "--mode", "canary"))
            target = Target.local(Project.load(manifest))
            with Traffic(f"http://127.0.0.1:{PORT}/", interval=0.02):
                time.sleep(3 * WINDOW)  # both tracks have a window of samples in Prometheus
                figures["read_scrape_ms"] = median_ms(
                    lambda: [canary_window.scrape(target, track=t, remember=False) for t in ("canary", "stable")],
                    args.rounds)
                figures["read_prometheus_ms"] = median_ms(
                    lambda: prometheus_window.windows_at(target, WINDOW, time.time() - 1.5), args.rounds)
                gate = []
                for _ in range(3):
                    start = time.perf_counter()
                    prometheus_window.measure(target)
                    gate.append(time.perf_counter() - start)
                figures["gate_prometheus_s"] = statistics.median(gate)
            figures["window_s"] = WINDOW
        finally:
            run_inv(manifest, "teardown", "--clean")
    report(figures)


def report(f: dict[str, float]) -> None:
    rows = [
        ("read a window: scrape source (2 scrapes)", f"{f['read_scrape_ms']:.1f} ms", "1.00x (baseline)"),
        ("read a window: Prometheus (6 PromQL queries)", f"{f['read_prometheus_ms']:.1f} ms",
         f"{f['read_prometheus_ms'] / f['read_scrape_ms']:.2f}x the scrape source"),
        ("canary gate wall time, Prometheus", f"{f['gate_prometheus_s']:.2f} s",
         f"{f['gate_prometheus_s'] / f['window_s']:.2f}x the {f['window_s']:g} s window it judges"),
    ]
    print_rows(rows, f)


if __name__ == "__main__":
    main()
