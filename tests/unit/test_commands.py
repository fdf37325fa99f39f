"""swiftlib.commands: every argv builder, driven by tests/fixtures/commands/cases.yaml."""
from __future__ import annotations

import inspect
import shlex
from pathlib import Path

import pytest
import yaml

from swiftlib import commands

CASES = yaml.safe_load((Path(__file__).resolve().parents[1] / "fixtures" / "commands" / "cases.yaml").read_text())
IDS = [f"{i:02d}-{case['call']}" for i, case in enumerate(CASES)]


def build(case: dict) -> list[str]:
    return getattr(commands, case["call"])(*case.get("args", []), **case.get("kwargs", {}))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_builder_returns_exactly_the_expected_argv(case: dict):
    argv = build(case)
    assert argv == case["argv"]
    assert all(type(part) is str for part in argv), "every argument is a str (no ints reach the shell)"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shlex_join_round_trips(case: dict):
    argv = build(case)
    assert shlex.split(shlex.join(argv)) == argv


def test_every_public_builder_has_a_case():
    builders = {
        name for name, fn in inspect.getmembers(commands, inspect.isfunction)
        if fn.__module__ == commands.__name__ and not name.startswith("_")
    }
    assert builders == {case["call"] for case in CASES}


def test_builders_return_fresh_lists():
    first = commands.docker_info()
    first.append("--debug")
    assert commands.docker_info() == ["docker", "info", "--format", "{{.ServerVersion}}"]


def test_a_hostile_argument_stays_one_quoted_word():
    argv = commands.image_exists("app; rm -rf / #")
    assert argv[-1] == "app; rm -rf / #"
    assert shlex.join(argv) == "docker image inspect --format '{{.Id}}' 'app; rm -rf / #'"
