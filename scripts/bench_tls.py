#!/usr/bin/env python3
"""What HTTPS costs, and a certificate renewal under load.

    .venv/bin/python scripts/bench_tls.py [--rate 50] [--seconds 20] [--requests 300]

One stack on this machine, deployed with `tls.source: local`. Measured in the same run:

* a request on a new connection to nginx's own /nginx-health, over plain HTTP (the baseline,
  nginx.port) and over HTTPS (a full TLS 1.3 handshake each), median of --requests each;
* RATE requests/s to the app through nginx (a new connection each) for --seconds, over HTTPS,
  against the same load over plain HTTP to the same stack deployed without `tls` (the baseline);
* `inv certs --renew` under that HTTPS load: requests sent, failed (no answer or a 502/503/504).

Trust comes from the project CA, as a client of a `local` deployment gets it. Tears down what it started.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

import _bench_env  # noqa: F401,E402  (first: the commands run as a user's do)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import run_cli  # noqa: E402
from tests.integration.stack import Load, make_project, remove_stack  # noqa: E402

PREFIX, PORT, TLS_PORT = "sdbtls", 31280, 31643


def must(result) -> None:
    if result.returncode != 0:
        sys.exit(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")


def new_connection_ms(url: str, count: int, verify: str | bool = True) -> float:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        answer = requests.get(url, headers={"Connection": "close"}, timeout=10, verify=verify)
        took.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return statistics.median(took)


def loaded(url: str, rate: float, seconds: float, verify: str | bool = True) -> Load:
    with Load(url, rate=rate, verify=verify) as load:
        time.sleep(seconds)
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_project(Path(tmp), prefix=PREFIX, base_port=PORT)
        try:
            must(run_cli(manifest, "deploy"))
            plain_load = loaded(f"http://localhost:{PORT}/", args.rate, args.seconds)
            raw = yaml.safe_load(manifest.read_text())
            raw["tls"] = {"source": "local", "hosts": ["localhost"], "port": TLS_PORT}
            manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
            must(run_cli(manifest, "deploy"))
            ca = str(Path(tmp) / ".swiftdeploy/ca/ca.pem")
            plain_ms = new_connection_ms(f"http://localhost:{PORT}/nginx-health", args.requests)
            tls_ms = new_connection_ms(f"https://localhost:{TLS_PORT}/nginx-health", args.requests, ca)
            tls_load = loaded(f"https://localhost:{TLS_PORT}/", args.rate, args.seconds, ca)
            raw["tls"]["renew_days"] = 365  # past the leaf's 90 days: due
            manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
            with Load(f"https://localhost:{TLS_PORT}/", rate=args.rate, verify=ca) as renewal:
                time.sleep(2)
                must(run_cli(manifest, "certs", "--renew"))
                time.sleep(2)
        finally:
            run_cli(manifest, "teardown", "--clean")
            remove_stack(PREFIX)
    print(f"bench_tls (a new connection per request; loopback; {time.strftime('%Y-%m-%d')})")
    print("| what | value | against |\n|---|---|---|")
    print(f"| request to /nginx-health, plain HTTP | {plain_ms:.2f} ms | baseline |")
    print(f"| request to /nginx-health, HTTPS (full TLS 1.3 handshake) | {tls_ms:.2f} ms | "
          f"{tls_ms / plain_ms:.2f}x plain HTTP |")
    print(f"| p99 at {args.rate:g} req/s through nginx to the app, plain HTTP ({len(plain_load.results)} requests, "
          f"{len(plain_load.dropped)} failed) | {plain_load.p99_ms():.1f} ms | baseline |")
    print(f"| p99 at {args.rate:g} req/s, HTTPS ({len(tls_load.results)} requests, {len(tls_load.dropped)} failed) | "
          f"{tls_load.p99_ms():.1f} ms | {tls_load.p99_ms() / plain_load.p99_ms():.2f}x plain HTTP |")
    print(f"| `certs --renew` under {args.rate:g} req/s over HTTPS | {len(renewal.results)} requests, "
          f"{len(renewal.dropped)} failed | p99 {renewal.p99_ms():.1f} ms |")


if __name__ == "__main__":
    main()
