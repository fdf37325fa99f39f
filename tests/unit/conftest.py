"""Unit tests need nothing outside Python: no Docker engine answers them, on any machine.

DOCKER_HOST points at a socket that does not exist for the whole unit run, so a unit test
that reaches for Docker fails here too, not only on a machine without it. Tests that need
Docker, sshd, nginx or Ansible are integration tests, marked as such (tests/conftest.py).

What they do need is Python: the virtualenv with the ``[test]`` extra and OPA's Go evaluator
(module ``opa_bindings``, from the opa-golib-python-bindings wheel), which the policy tests
compare regopy with. `make unit` installs both when missing; a run without the wheel fails
every test that asks for it (never skips it), and one line below the list of failures says
how to install it.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from swiftlib.lifecycle.context import Project

REPO = Path(__file__).resolve().parents[2]

NO_DOCKER = "unix:///nonexistent/unit-tests-use-no-docker-engine.sock"
GO_EVALUATOR_MISSING = (
    "OPA's Go evaluator (module opa_bindings) is not installed, so every opa-golib test failed: "
    "run `make unit`, or `bash scripts/install-opa-golib.sh` in an existing virtualenv"
)


@pytest.fixture(scope="package", autouse=True)  # undone on leaving tests/unit, whatever runs next
def no_docker_engine() -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv("DOCKER_HOST", NO_DOCKER)
    yield
    patch.undo()


@pytest.fixture
def project(tmp_path) -> Project:
    """The repository's manifest and policies in a fresh directory (a test's own fixture of the same name wins)."""
    shutil.copy(REPO / "manifest.yaml", tmp_path / "manifest.yaml")
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    return Project.load(tmp_path / "manifest.yaml")


def go_evaluator_missing() -> str:
    """Why OPA's Go evaluator cannot be imported here ('' when it can)."""
    return "" if importlib.util.find_spec("opa_bindings") is not None else GO_EVALUATOR_MISSING


def go_evaluator_lines(reports) -> list[str]:
    """What the summary says about the Go evaluator (tests/conftest.py writes it below the failures):
    how to install it, once, when unit tests ran without it."""
    ran_unit = any(str(getattr(report, "nodeid", "")).startswith("tests/unit/") for report in reports)
    missing = go_evaluator_missing() if ran_unit else ""
    return [missing] if missing else []
