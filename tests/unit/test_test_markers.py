"""What a test needs outside Python is declared with a marker, and a missing component fails
the test naming it (tests/conftest.py), never skips it."""
from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import conftest

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ("docker", "sshd", "nginx", "ansible")


def item(path: Path, *markers: str):
    return SimpleNamespace(path=path, get_closest_marker=lambda name: name if name in markers else None)


def test_the_markers_are_declared() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert sorted(line.split(":", 1)[0] for line in declared) == sorted(COMPONENTS)
    assert set(conftest.COMPONENTS) == set(COMPONENTS)


def test_a_missing_component_fails_the_test_naming_it(monkeypatch) -> None:
    conftest.missing_component.cache_clear()
    monkeypatch.setitem(conftest.COMPONENTS, "nginx", lambda: "nginx is required but not found; install it")
    try:
        with pytest.raises(pytest.fail.Exception, match="^nginx is required but not found; install it$"):
            conftest.pytest_runtest_setup(item(REPO / "tests" / "integration" / "test_x.py", "nginx"))
    finally:
        conftest.missing_component.cache_clear()


def test_an_unmarked_or_satisfied_test_runs(monkeypatch) -> None:
    conftest.missing_component.cache_clear()
    monkeypatch.setitem(conftest.COMPONENTS, "sshd", lambda: "")
    monkeypatch.setitem(conftest.COMPONENTS, "docker", lambda: "Docker is required")
    try:
        conftest.pytest_runtest_setup(item(REPO / "tests" / "integration" / "test_x.py", "sshd"))
        conftest.pytest_runtest_setup(item(REPO / "tests" / "integration" / "test_x.py"))
    finally:
        conftest.missing_component.cache_clear()


@pytest.mark.parametrize("marker", COMPONENTS)
def test_a_unit_test_may_not_need_a_component(marker: str) -> None:
    with pytest.raises(pytest.fail.Exception, match=f"marked {marker}: move it to tests/integration/"):
        conftest.pytest_runtest_setup(item(REPO / "tests" / "unit" / "test_x.py", marker))


def test_no_docker_engine_is_named(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("PATH", "/nonexistent")  # with or without the docker CLI
    assert conftest._docker().startswith("Docker is required but ")


def test_no_unit_test_file_uses_a_component_marker() -> None:
    for path in (REPO / "tests" / "unit").glob("test_*.py"):
        text = path.read_text()
        for marker in COMPONENTS:
            assert f"pytest.mark.{marker}" not in text, f"{path.name} is marked {marker}: move it to tests/integration"


def test_unit_tests_reach_no_docker_engine() -> None:
    import os

    from tests.unit.conftest import NO_DOCKER

    assert os.environ["DOCKER_HOST"] == NO_DOCKER
