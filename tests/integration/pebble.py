"""Debian's pebble (Let's Encrypt's test ACME server) on loopback, as the tests' ACME CA.

It validates HTTP-01 challenges for real (no PEBBLE_VA_ALWAYS_VALID): it connects to
``http://<name>:<http_port>/.well-known/acme-challenge/<token>``, so ``http_port`` must be the
nginx.port of the stack under test. Its own listener gets a certificate from a throwaway CA
(``directory_ca``); what it issues chains to a root it makes at start (``root``).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

from swiftlib.tls import certinfo, local_ca


@contextmanager
def pebble(directory: Path, *, http_port: int, port: int = 26914,
           nonce_reject_percent: int = 5) -> Iterator[dict[str, str]]:
    """{"directory": URL, "directory_ca": path, "root": path} of a running pebble; it answers
    ``nonce_reject_percent`` of signed requests with badNonce (5 is its own default)."""
    binary = shutil.which("pebble") or "/usr/bin/pebble"
    assert Path(binary).exists(), "pebble is missing: `make test-deps` installs Debian's pebble package"
    directory.mkdir(parents=True, exist_ok=True)
    now = certinfo.now_utc()
    ca, ca_key = local_ca.new_ca("pebble listener", now)
    chain, key = local_ca.issue_leaf(ca, ca_key, ("localhost", "127.0.0.1"), now)
    (directory / "listener-ca.pem").write_bytes(ca)
    (directory / "cert.pem").write_bytes(chain)
    (directory / "key.pem").write_bytes(key)
    (directory / "config.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{port + 1}",
        "certificate": str(directory / "cert.pem"), "privateKey": str(directory / "key.pem"),
        "httpPort": http_port, "tlsPort": port + 2, "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    log = (directory / "pebble.log").open("w")
    process = subprocess.Popen([binary, "-config", str(directory / "config.json")], stdout=log,
                               stderr=subprocess.STDOUT, env={"PEBBLE_VA_NOSLEEP": "1", "PATH": "/usr/bin:/bin",
                                    "PEBBLE_WFE_NONCEREJECT": str(nonce_reject_percent)})
    try:
        root = directory / "root.pem"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"https://localhost:{port + 1}/roots/0", verify=str(directory / "listener-ca.pem"),
                                      timeout=2)
                if answer.status_code == 200:
                    root.write_text(answer.text)
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, \
                f"pebble did not start: {(directory / 'pebble.log').read_text()[-2000:]}"
            time.sleep(0.2)
        yield {"directory": f"https://localhost:{port}/dir", "directory_ca": str(directory / "listener-ca.pem"),
               "root": str(root)}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
