"""Policy what-if: change fields of a policy input by key path, and explain a decision (pure).

`inv opa-check --set metrics.error_rate=0.02` evaluates a changed input without collecting
or changing anything (the last audited input changed, or, when there is none, an input the --set
values and the manifest's limits make whole); `--explain` prints the exact input document the engine received and,
for a deny, each failed condition with its value and limit. Values are read as JSON when
they parse (numbers, true/false, null, lists, quoted strings), else kept as plain strings.
"""
from __future__ import annotations

import copy
import difflib
import json
import math
from typing import Any, Iterable, Mapping

from ..errors import UsageError
from .inputs import WINDOW_KEYS

# The policy reasons name conditions; the input field and the limit that go with each.
CONDITIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "canary": (("metrics.requests", "limits.min_requests"), ("metrics.error_rate", "limits.max_error_rate"),
               ("metrics.p99_latency_ms", "limits.max_p99_latency_ms")),
    "infrastructure": (("stats.disk_free_gb", "limits.min_disk_free_gb"), ("stats.cpu_load", "limits.max_cpu_load")),
}


def parse_set(text: str) -> tuple[tuple[str, ...], Any]:
    """`metrics.error_rate=0.02` -> (("metrics", "error_rate"), 0.02)."""
    key, sep, raw = text.partition("=")
    path = tuple(part for part in key.strip().split("."))
    if not sep or not all(path):
        raise UsageError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. --set metrics.error_rate=0.02")
    if path[0] == "context":
        raise UsageError(f"--set {text!r}: the context is chosen with --context, not changed by --set")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = raw
    return path, value


# Sections whose every field is a number in a real input (measured, or a limit).
NUMERIC_SECTIONS = ("metrics", "baseline", "stats", "limits")

# Sections a what-if may add when the audited input lacks them (the canary's baseline is optional),
# with the fields a window has there.
OPTIONAL_SECTIONS = {"baseline": WINDOW_KEYS}


def settable(policy_input: Mapping[str, Any]) -> list[str]:
    """Every key path --set may name for this input: its leaves, plus the optional sections' fields."""
    paths: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, Mapping) and value:
                walk(value, dotted + ".")
            elif dotted != "context":
                paths.append(dotted)

    walk(policy_input, "")
    if "metrics" in policy_input:  # only a canary input has a baseline
        for section, fields in OPTIONAL_SECTIONS.items():
            paths += [f"{section}.{name}" for name in fields if f"{section}.{name}" not in paths]
    return sorted(paths)


def _check_known(text: str, path: tuple[str, ...], known: list[str]) -> None:
    dotted = ".".join(path)
    if dotted in known:
        return
    # A typo (`host.cpu_load`) would be ignored by the policy and answer as if nothing were changed.
    close = difflib.get_close_matches(dotted, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise UsageError(f"--set {text!r}: the policy input has no field {dotted}{hint} "
                     f"(fields: {', '.join(known)})")


def _finite_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def apply_sets(policy_input: Mapping[str, Any], sets: Iterable[str]) -> dict[str, Any]:
    """A copy of ``policy_input`` with every --set applied; each path must be a field the input has
    (or a field of an optional section, created when absent). Anything else is a `UsageError`."""
    known = settable(policy_input)
    out = copy.deepcopy(dict(policy_input))
    for text in sets:
        path, value = parse_set(text)
        _check_known(text, path, known)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                if child is not None:
                    raise UsageError(f"--set {text!r}: {part} is {type(child).__name__}, not a mapping")
                child = node[part] = {}
            node = child
        if path[0] in NUMERIC_SECTIONS and value is not None and not _finite_number(value):
            # A measured number or a limit: a string here would be a deny (exit 3) for the wrong reason, and
            # NaN or Infinity (which JSON cannot carry to the engine) would arrive as null, denied as missing.
            raise UsageError(f"--set {text!r}: {'.'.join(path)} is a finite number (or null to leave it out), "
                             f"got {json.dumps(value)}")
        node[path[-1]] = value
    return out


# What a what-if must give itself when no earlier decision exists to start from (the manifest gives
# the limits): every measured field the policy requires.
MEASURED = {"canary": ("metrics", WINDOW_KEYS),
            "infrastructure": ("stats", ("disk_free_gb", "cpu_load", "cpu_count", "mem_available_mb"))}


def fresh_input(domain: str, context: str, limits: Mapping[str, Any], sets: Iterable[str]) -> dict[str, Any]:
    """The input the --set values describe by themselves, with ``limits``; a UsageError names what is missing."""
    sets = list(sets)
    section, fields = MEASURED[domain]
    given = {".".join(parse_set(text)[0]) for text in sets}
    missing = [f"{section}.{name}" for name in fields if f"{section}.{name}" not in given]
    if missing:
        raise UsageError(f"no earlier {domain} decision to start the what-if from, and --set does not give "
                         f"{', '.join(missing)}; set {'it' if len(missing) == 1 else 'them'} too (the limits come "
                         f"from the manifest), or run `inv opa-check --context {context}` once")
    skeleton = {"context": context, section: {name: None for name in fields}, "limits": dict(limits)}
    return apply_sets(skeleton, sets)


def lookup(document: Mapping[str, Any], dotted: str) -> Any:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def explain(domain: str, policy_input: Mapping[str, Any], decision: Mapping[str, Any]) -> list[str]:
    """Lines for --explain: the input as sent, then the decision and each condition's value and limit."""
    lines = ["input sent to the engine:"]
    lines += ["  " + line for line in json.dumps(policy_input, indent=2, sort_keys=True).splitlines()]
    verdict = "allow" if decision.get("allow") else "deny"
    lines.append(f"decision: {verdict}")
    for field, limit in CONDITIONS.get(domain, ()):
        lines.append(f"  {field} = {json.dumps(lookup(policy_input, field))}   ({limit} = "
                     f"{json.dumps(lookup(policy_input, limit))})")
    label = "failed conditions" if not decision.get("allow") else "reasons"
    lines.append(f"{label}:")
    lines += [f"  - {reason}" for reason in decision.get("reasons", [])]
    return lines
