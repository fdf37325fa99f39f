"""lifecycle.admin_access: the admin listener's allow rule names the network's gateway, and only an address."""
from __future__ import annotations

import pytest

from swiftlib.lifecycle.admin_access import access_text


def test_the_rule_allows_the_gateway_and_denies_everything_else():
    text = access_text("172.18.0.1")
    assert text.splitlines()[1:] == ["allow 172.18.0.1;", "deny all;"]
    assert "allow fd00::1;" in access_text("fd00::1")


@pytest.mark.parametrize("bad", ["", "172.18.0.1; allow all", "all", "172.18.0.0/16", "localhost"])
def test_anything_but_one_address_never_reaches_nginx(bad):
    with pytest.raises(ValueError):
        access_text(bad)


def test_every_docker_hosts_gateway_is_allowed_on_a_swarm():
    # each node's docker_gwbridge may have its own subnet: the acting manager's must not be left out
    text = access_text("172.18.0.1", "172.20.0.1")
    assert text.splitlines()[1:] == ["allow 172.18.0.1;", "allow 172.20.0.1;", "deny all;"]
    with pytest.raises(ValueError):
        access_text()
    with pytest.raises(ValueError):
        access_text("172.18.0.1", "all")
