"""`--hosts` parsing: fixture cases in tests/fixtures/remote/host_strings.yaml."""
from __future__ import annotations

import pytest
import yaml

from swiftlib.errors import UsageError
from swiftlib.remote.connect import HostSpec, parse_host_list, parse_host_string
from tests.conftest import REPO

CASES = yaml.safe_load((REPO / "tests/fixtures/remote/host_strings.yaml").read_text())


@pytest.mark.parametrize("case", CASES["valid"], ids=lambda c: c["text"])
def test_parse_host_string(case: dict) -> None:
    spec = parse_host_string(case["text"])
    assert (spec.name, spec.address, spec.port, spec.user) == (case["name"], case["address"], case["port"], case["user"])
    assert spec.key_file is None


@pytest.mark.parametrize("case", CASES["invalid"], ids=lambda c: c["text"] or "empty")
def test_parse_host_string_refuses(case: dict) -> None:
    with pytest.raises(UsageError) as err:
        parse_host_string(case["text"])
    assert case["error"] in str(err.value)
    assert err.value.exit_code == 2


def test_host_list_keeps_order_and_refuses_duplicates() -> None:
    specs = parse_host_list("deploy@h1, deploy@h2:2222,h3")
    assert [s.name for s in specs] == ["h1", "h2:2222", "h3"]
    with pytest.raises(UsageError, match="h1 given more than once"):
        parse_host_list("a@h1,b@h1")
    with pytest.raises(UsageError):
        parse_host_list(" , ")


def test_from_inventory_host() -> None:
    from swiftlib.inventory.model import InventoryHost

    host = InventoryHost(name="web1", address="10.0.0.5", port=2222, user="deploy", key_file="~/.ssh/k")
    assert HostSpec.from_inventory(host) == HostSpec("web1", "10.0.0.5", 2222, "deploy", "~/.ssh/k")


def test_a_gateway_socket_is_left_as_it_is() -> None:
    """Nagle goes off on a TCP socket only: a ProxyCommand's pipe or a ProxyJump channel has no such
    option, and the Transport is still built on it."""
    import socket

    from swiftlib.remote.connect import _nodelay_transport

    ours, theirs = socket.socketpair()  # AF_UNIX: what a gateway hands paramiko is no TCP socket either
    try:
        transport = _nodelay_transport(ours)
        assert transport.sock is ours
        transport.close()
    finally:
        theirs.close()
