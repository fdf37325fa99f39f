#!/usr/bin/env python3
"""Failed requests and p99 latency through every delivery transition, under steady traffic.

    .venv/bin/python scripts/bench_delivery.py [--rate 50]

A load of RATE requests/s (a new connection each, loopback) runs through each transition;
each row gives the requests sent, those that failed (no answer, or nginx's 502/503/504) and
the p99 latency. The baseline, measured first in the same run on the same stack, is what
the seed did for every promotion: recreate the one app container in place
(`docker compose up -d --no-deps --force-recreate app`). Tears down what it started.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from swiftlib import commands  # noqa: E402
from tests.conftest import run_cli as run_inv  # noqa: E402 - the swiftdeploy program, as inv runs it
from tests.integration.stack import Load, docker, make_project  # noqa: E402

PREFIX, PORT = "sdbdel", 26080


def must(result, code: int = 0) -> None:
    if result.returncode != code:
        sys.exit(f"exit {result.returncode}, expected {code}\n{result.stdout}\n{result.stderr}")


def edit(manifest: Path, **sections) -> None:
    doc = yaml.safe_load(manifest.read_text())
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def tag(version: str) -> str:
    docker("tag", "swiftdeploy-app:1.0.0", f"swiftdeploy-app:{version}")
    return f"swiftdeploy-app:{version}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    rows: list[tuple[str, Load, float]] = []
    url = f"http://127.0.0.1:{PORT}/"

    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_project(Path(tmp), prefix=PREFIX, base_port=PORT,
                                canary={"image": tag("2.0.0"), "version": "2.0.0", "weight": 30, "steps": [30, 60]})
        must(run_inv(manifest, "deploy"))

        def measure(name: str, action) -> None:
            with Load(url, rate=args.rate) as load:
                time.sleep(1)
                start = time.monotonic()
                action()
                took = time.monotonic() - start
                time.sleep(1)
            rows.append((name, load, took))

        try:
            recreate = commands.compose_recreate(tmp, PREFIX, "app")
            measure("baseline: recreate the app in place (the seed)", lambda: docker(*recreate[1:]))
            measure("promote --mode canary", lambda: must(run_inv(manifest, "promote", "--mode", "canary")))
            measure("rollback", lambda: must(run_inv(manifest, "rollback")))
            must(run_inv(manifest, "promote", "--mode", "canary"))
            measure("promote --mode stable (new version)", lambda: must(run_inv(manifest, "promote", "--mode", "stable")))
            edit(manifest, canary={"image": tag("3.0.0"), "version": "3.0.0"})
            measure("rollout to stable (2 steps)", lambda: must(run_inv(manifest, "rollout")))
            edit(manifest, canary={"image": tag("4.0.0"), "version": "4.0.0"})
            must(run_inv(manifest, "promote", "--mode", "canary"))
            must(run_inv(manifest, "chaos", "--mode", "error", "--rate", "0.5"))
            measure("rollout rolled back by chaos", lambda: must(run_inv(manifest, "rollout"), 3))
            edit(manifest, services={"image": tag("5.0.0"), "version": "5.0.0"})
            measure("deploy of a new version (blue/green)", lambda: must(run_inv(manifest, "deploy")))
        finally:
            run_inv(manifest, "teardown", "--clean")

    base_p99 = rows[0][1].p99_ms()
    print(f"\n{args.rate:g} requests/s through each transition (a new connection per request)\n")
    print("| transition | requests | failed | p99 | p99 vs baseline | took |")
    print("|---|---|---|---|---|---|")
    for name, load, took in rows:
        p99 = load.p99_ms()
        print(f"| {name} | {len(load.results)} | {len(load.dropped)} | {p99:.0f} ms | "
              f"{p99 / base_p99:.2f}x | {took:.1f} s |")


if __name__ == "__main__":
    main()
