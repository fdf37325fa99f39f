"""Fixtures for a module that deploys to one remote host over real SSH.

The module names the host with ``ADDRESS`` (a 127.0.0.x of its own) and ``PREFIX`` (its
stack's names); ``server`` is that host's sshd, logging at DEBUG1 so a test can count the
tunnels it opened, with a login home of its own; ``home`` is the client side, trusting it.
Import both with ``from tests.integration.one_host import home, server  # noqa: F401``.
"""
from __future__ import annotations

import pytest

from tests.integration.fleet_env import ClientHome, RemoteSshd
from tests.integration.sshd import client_key  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, client_key):  # noqa: F811
    address, label = request.module.ADDRESS, request.module.PREFIX
    sshd = RemoteSshd(tmp_path_factory.mktemp(f"sshd-{label}"), address, client_key,
                      home=tmp_path_factory.mktemp(f"login-{label}"), log_level="DEBUG1").start()
    yield sshd
    sshd.stop()


@pytest.fixture(scope="module")
def home(request, tmp_path_factory, client_key, server):  # noqa: F811
    return ClientHome(tmp_path_factory.mktemp(f"home-{request.module.PREFIX}"), client_key, (server,))
