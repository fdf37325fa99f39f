"""Three sshd "hosts", one of them down: the runner keeps going, marks it unreachable."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from swiftlib.remote.connect import HostSpec, connect
from swiftlib.remote.runner import run_on_hosts
from swiftlib.remote.workspace import RemoteWorkspace
from tests.integration.sshd import client_key, closed_port, host_spec, known_hosts, sshd_factory  # noqa: F401

pytestmark = pytest.mark.sshd


def test_three_hosts_one_unreachable(sshd_factory, known_hosts: Path, client_key, tmp_path: Path) -> None:
    web1, web2 = sshd_factory(1), sshd_factory(2)  # each login has its own home
    specs = [host_spec(web1, "web1"), host_spec(web2, "web2"),
             HostSpec("web3", "127.0.0.1", closed_port(), "root", str(client_key.private))]

    def deploy(spec: HostSpec) -> str:
        host = connect(spec, connect_timeout=3, accept_new_host_keys=True, known_hosts=str(known_hosts))
        try:
            ws = RemoteWorkspace(host, spec.name)
            changed = ws.read("stamp") != spec.name
            ws.write("stamp", spec.name)
            return "changed" if changed else "ok"
        finally:
            host.connection.close()

    start = time.monotonic()
    out = run_on_hosts(specs, deploy, serial=None)
    assert time.monotonic() - start < 30  # the unreachable host does not hold up the others for long
    assert {n: o.status for n, o in out.items()} == {"web1": "changed", "web2": "changed", "web3": "unreachable"}
    assert out["web3"].exit_code == 6 and "connection refused" in out["web3"].msg
    assert (web2.home / "web2/stamp").read_text() == "web2"
    # both keys were recorded by concurrent threads, one line each
    assert len(known_hosts.read_text().splitlines()) == 2

    out = run_on_hosts(specs, deploy, serial=1, max_fail_percentage=0)
    assert [o.status for o in out.values()] == ["ok", "ok", "unreachable"]  # second run: nothing changed

    out = run_on_hosts(list(reversed(specs)), deploy, serial=1, max_fail_percentage=0)
    assert [o.status for o in out.values()] == ["unreachable", "skipped", "skipped"]
