"""Policy case tables: load them and run them through any engine.

A case file (tests/policy_cases/<domain>.yaml) looks like::

    domain: canary                 # optional; defaults to the file name
    cases:
      - name: error rate equal to the limit allows
        input: {...}               # sent to the engine as is, so mistyped fields can be tested
        allow: true
        reasons: ["..."]           # the exact list, in order; and/or
        reasons_contain: ["..."]   # each must be a substring of some reason

Used by ``inv policy-test`` (against whichever engine is configured) and by pytest, which runs
every table under both in-process evaluators (regopy and OPA's Go evaluator).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..errors import ConfigError, PolicyEngineError
from .decision import Decision


class Engine(Protocol):
    """What every policy engine offers."""

    name: str

    def decide(self, domain: str, input: dict[str, Any]) -> Decision: ...


@dataclass(frozen=True)
class Case:
    name: str
    domain: str
    input: Any
    allow: bool
    reasons: tuple[str, ...] | None = None
    reasons_contain: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class CaseResult:
    name: str
    domain: str
    passed: bool
    detail: str
    decision: Decision | None = field(default=None, compare=False)


_CASE_KEYS = {"name", "input", "allow", "reasons", "reasons_contain"}


def load_cases(path: str | Path) -> list[Case]:
    """Parse one case file; raise ConfigError naming the file and case on any malformed entry."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read policy cases: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise ConfigError(f"{path}: expected a mapping with a `cases:` list")
    domain = doc.get("domain", path.stem)
    if not isinstance(domain, str):
        raise ConfigError(f"{path}: domain: expected a string, got {domain!r}")
    cases: list[Case] = []
    seen: set[str] = set()
    for index, raw in enumerate(doc["cases"]):
        where = f"{path}: cases[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
        unknown = sorted(set(raw) - _CASE_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(_CASE_KEYS)}")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.name: expected a non-empty string")
        if name in seen:
            raise ConfigError(f"{where}.name: duplicate case name {name!r}")
        seen.add(name)
        if "input" not in raw:
            raise ConfigError(f"{where}.input: missing (use null to send no input)")
        if type(raw.get("allow")) is not bool:
            raise ConfigError(f"{where}.allow: expected true or false, got {raw.get('allow')!r}")
        reasons = raw.get("reasons")
        contain = raw.get("reasons_contain", [])
        if reasons is not None and not _str_list(reasons):
            raise ConfigError(f"{where}.reasons: expected a list of strings")
        if not _str_list(contain):
            raise ConfigError(f"{where}.reasons_contain: expected a list of strings")
        if reasons is None and not contain:
            # A case that checks only `allow` could pass with any reasons at all.
            raise ConfigError(f"{where}: give `reasons` or `reasons_contain`")
        cases.append(
            Case(
                name=name,
                domain=domain,
                input=raw["input"],
                allow=raw["allow"],
                reasons=tuple(reasons) if reasons is not None else None,
                reasons_contain=tuple(contain),
                source=str(path),
            )
        )
    return cases


def load_case_dir(cases_dir: str | Path) -> list[Case]:
    """Every case from every *.yaml file in ``cases_dir``, files in name order."""
    files = sorted(Path(cases_dir).glob("*.yaml"))
    if not files:
        raise ConfigError(f"{cases_dir}: no *.yaml policy case files found")
    return [case for path in files for case in load_cases(path)]


def check_case(engine: Engine, case: Case) -> CaseResult:
    """Run one case; an engine error is a failed case, not an exception."""
    try:
        decision = engine.decide(case.domain, case.input)
    except PolicyEngineError as exc:
        return CaseResult(case.name, case.domain, False, f"engine error ({exc.reason}): {exc}")
    problems = []
    if decision.allow is not case.allow:
        problems.append(f"allow is {decision.allow}, expected {case.allow}")
    if decision.domain != case.domain:
        problems.append(f"domain is {decision.domain!r}, expected {case.domain!r}")
    if case.reasons is not None and decision.reasons != case.reasons:
        problems.append(f"reasons are {list(decision.reasons)}, expected {list(case.reasons)}")
    for part in case.reasons_contain:
        if not any(part in reason for reason in decision.reasons):
            problems.append(f"no reason contains {part!r} (reasons: {list(decision.reasons)})")
    detail = "; ".join(problems) if problems else "ok"
    return CaseResult(case.name, case.domain, not problems, detail, decision)


def run_cases(engine: Engine, cases_dir: str | Path) -> list[CaseResult]:
    """Run every case in ``cases_dir`` through ``engine``, in file then table order.

    Policies that cannot be loaded at all (a syntax error, no .rego files, the engine's library
    missing) are not a failed case each: the engine's ``load()``, where it has one, raises that
    PolicyEngineError (exit code 4) before any case runs.
    """
    cases = load_case_dir(cases_dir)
    load = getattr(engine, "load", None)
    if callable(load):
        load()
    return [check_case(engine, case) for case in cases]


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
