"""HTTPS on a remote host over real SSH: the project CA stays on the controller, the leaf and its key
travel in the SSH session only (the key lands 0400, root's), the deploy's health check reaches the
HTTPS port through the SSH session and verifies the certificate, and `certs --hosts` reads it there."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.conftest import exited as ok
from tests.integration.one_host import home, server  # noqa: F401 - fixtures
from tests.integration.sshd import client_key  # noqa: F401 - fixture
from tests.integration.stack import make_project, remove_stack

pytestmark = [pytest.mark.sshd, pytest.mark.docker]

PREFIX, PORT, TLS_PORT, ADDRESS = "sdrtls", 30680, 30743, "127.0.0.49"
REMOTE_DIR = "tls-project"


def test_a_remote_host_serves_the_project_cas_certificate_placed_over_ssh(tmp_path, home, server):  # noqa: F811
    manifest = make_project(tmp_path / "project", prefix=PREFIX, base_port=PORT, deploy={"remote_dir": REMOTE_DIR})
    raw = yaml.safe_load(manifest.read_text())
    raw["tls"] = {"source": "local", "hosts": ["localhost"], "port": TLS_PORT}
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        deployed = ok(home.inv(manifest, "deploy", "--hosts", server.host_spec)).stdout
        assert f"https://127.0.0.1:{TLS_PORT} on " in deployed and "(through SSH)" in deployed  # checked on the host
        on_host = server.home / REMOTE_DIR / ".swiftdeploy" / "tls"
        key = os.stat(on_host / "privkey.pem")
        assert (key.st_mode & 0o777, key.st_uid) == (0o400, 0)
        ca = manifest.parent / ".swiftdeploy" / "ca" / "ca.pem"
        assert ca.exists() and not (manifest.parent / ".swiftdeploy" / "tls").exists()  # no leaf key here
        body = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(ca), f"https://localhost:{TLS_PORT}/healthz"],
                              capture_output=True, text=True, timeout=30)
        assert body.returncode == 0 and json.loads(body.stdout)["status"] == "ok", body.stderr
        shown = json.loads(ok(home.inv(manifest, "certs", "--json", "--hosts", server.host_spec)).stdout)
        cert = shown["results"][0]["data"]["certificates"][0]
        assert cert["names"] == ["localhost"] and cert["issuer"] == f"SwiftDeploy local CA ({PREFIX})"
        key_body = "".join((on_host / "privkey.pem").read_text().splitlines()[1:-1])
        assert key_body[:40] not in deployed + json.dumps(shown) + (manifest.parent / "history.jsonl").read_text()
        ok(home.inv(manifest, "teardown", "--clean", "--hosts", server.host_spec))
        assert not (on_host / "privkey.pem").exists()
    finally:
        home.inv(manifest, "teardown", "--clean", "--hosts", server.host_spec)
        remove_stack(PREFIX)
