"""Unit tests need nothing outside Python: no Docker engine answers them, on any machine.

DOCKER_HOST points at a socket that does not exist for the whole unit run, so a unit test
that reaches for Docker fails here too, not only on a machine without it. Tests that need
Docker, sshd, nginx or Ansible are integration tests, marked as such (tests/conftest.py).
"""
from __future__ import annotations

from typing import Iterator

import pytest

NO_DOCKER = "unix:///nonexistent/unit-tests-use-no-docker-engine.sock"


@pytest.fixture(scope="session", autouse=True)
def no_docker_engine() -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("DOCKER_HOST", NO_DOCKER)
    yield
    patch.undo()
