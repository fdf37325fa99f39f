"""Policy gates: the decision model, input builders, both engines and the case runner.

All allow/deny logic lives in policies/*.rego; this package only builds the input, asks an
engine and validates the answer. Every engine has ``.name`` and ``.decide(domain, input)``
returning a ``Decision`` or raising ``PolicyEngineError`` (fail closed):

- ``EmbeddedEngine(policies_dir)`` evaluates in-process with regopy (rego-cpp);
- ``GoEngine(policies_dir)`` evaluates in-process with OPA's own Go evaluator (the
  opa-golib-python-bindings wheel, installed by scripts/install-opa-golib.sh); the test suite
  holds the embedded engine to it;
- ``SidecarEngine(base_url, timeout)`` asks an OPA server over its REST API.
"""
from __future__ import annotations

from .cases import Case, CaseResult, Engine, check_case, load_case_dir, load_cases, run_cases
from .decision import Decision, decision_entrypoint, decision_query
from .embedded import EmbeddedEngine
from .golib import GoEngine
from .inputs import CANARY_CONTEXT, INFRASTRUCTURE_CONTEXT, canary_input, cluster_input, infrastructure_input


def __getattr__(name: str):
    # The sidecar engine imports requests (50 ms): only a run that asks OPA's API pays for it.
    if name == "SidecarEngine":
        from .sidecar import SidecarEngine

        return SidecarEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CANARY_CONTEXT",
    "INFRASTRUCTURE_CONTEXT",
    "Case",
    "CaseResult",
    "Decision",
    "EmbeddedEngine",
    "Engine",
    "GoEngine",
    "SidecarEngine",
    "canary_input",
    "check_case",
    "cluster_input",
    "decision_entrypoint",
    "decision_query",
    "infrastructure_input",
    "load_case_dir",
    "load_cases",
    "run_cases",
]
