"""`make unit` runs the unit tier from a machine where only `make deploy` (or `make setup`) ran:
it installs what the unit tests import beyond the project's dependencies, OPA's Go evaluator
wheel, and a run without that wheel says how to get it below the list of failures."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from importlib.machinery import ModuleSpec
from types import ModuleType, SimpleNamespace

import pytest

from tests.unit import conftest as unit_conftest

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = "scripts/install-opa-golib.sh"


def recipes(makefile: str) -> dict[str, tuple[list[str], list[str]]]:
    """Each target of a Makefile: (its prerequisites, its recipe lines)."""
    targets: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in makefile.splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
            continue
        rule = re.match(r"^([A-Za-z0-9_.$()/-]+):(?!=)\s*(.*)$", line)
        if rule:
            current = []
            targets[rule.group(1)] = (rule.group(2).split(), current)
        elif not line.startswith("#"):
            current = None
    return targets


def runs(targets: dict[str, tuple[list[str], list[str]]], target: str, seen: frozenset[str] = frozenset()) -> str:
    """Every recipe line `make TARGET` runs: its prerequisites' and the targets it calls with $(MAKE)."""
    if target in seen or target not in targets:
        return ""
    prerequisites, lines = targets[target]
    called = [word for line in lines for word in re.findall(r"\$\(MAKE\)(?:\s+--?[\w-]+)*\s+([\w-]+)", line)]
    nested = [runs(targets, name, seen | {target}) for name in [*prerequisites, *called]]
    return "\n".join([*nested, *lines])


def test_make_unit_installs_opas_go_evaluator_before_the_tests() -> None:
    targets = recipes((REPO / "Makefile").read_text())
    unit = runs(targets, "unit")
    assert INSTALL_SCRIPT in unit, "make unit must install the wheel its policy tests import"
    assert unit.index(INSTALL_SCRIPT) < unit.index("pytest tests/unit")
    assert INSTALL_SCRIPT in runs(targets, "test")


def test_the_install_script_is_not_part_of_setup() -> None:
    """The wheel is an alpha for tests only: `make deploy` never installs it."""
    targets = recipes((REPO / "Makefile").read_text())
    assert INSTALL_SCRIPT not in runs(targets, "deploy")


def summary(monkeypatch: pytest.MonkeyPatch, installed: bool) -> list[str]:
    if installed:  # found, whether or not this machine has the wheel
        stand_in = ModuleType("opa_bindings")
        stand_in.__spec__ = ModuleSpec("opa_bindings", None)
        monkeypatch.setitem(sys.modules, "opa_bindings", stand_in)
    else:
        monkeypatch.setitem(sys.modules, "opa_bindings", None)  # import opa_bindings now fails
    assert unit_conftest.go_evaluator_lines([SimpleNamespace(nodeid="tests/integration/test_x.py::t")]) == []
    return unit_conftest.go_evaluator_lines([SimpleNamespace(nodeid="tests/unit/test_policies.py::t")])


def test_a_run_without_the_go_evaluator_ends_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    [line] = summary(monkeypatch, installed=False)
    assert "opa_bindings" in line and "make unit" in line and INSTALL_SCRIPT in line


def test_a_run_with_the_go_evaluator_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert summary(monkeypatch, installed=True) == []
