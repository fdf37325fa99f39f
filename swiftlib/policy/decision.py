"""The decision model every policy engine returns.

A policy's ``decision`` document is ``{"domain", "question", "allow", "reasons"}``.
``Decision.from_result`` is the one place an engine's raw answer becomes a ``Decision``;
anything of another shape is refused (fail closed), never guessed at.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import PolicyEngineError

_KEYS = ("domain", "question", "allow", "reasons")
_DOMAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
PACKAGE_ROOT = "swiftdeploy"


def decision_entrypoint(domain: str) -> str:
    """``swiftdeploy/<domain>/decision``: the document path every engine asks for."""
    # The domain becomes part of a query and a URL, so only plain identifiers pass.
    if not _DOMAIN.match(domain):
        raise PolicyEngineError(
            f"policy domain {domain!r} is not a plain identifier (lower-case letters, digits, _)",
            reason="engine_error",
        )
    return f"{PACKAGE_ROOT}/{domain}/decision"


def decision_query(domain: str) -> str:
    """``data.swiftdeploy.<domain>.decision``."""
    return "data." + decision_entrypoint(domain).replace("/", ".")


def input_body(input: Any) -> str:
    """``{"input": ...}`` as JSON, the body OPA expects; refuse what is not JSON (sets, NaN)."""
    try:
        return json.dumps({"input": input}, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PolicyEngineError(
            f"policy input is not a JSON document ({exc}); build it with swiftlib.policy.inputs",
            reason="bad_input",
        ) from exc


@dataclass(frozen=True)
class Decision:
    """What a policy answered: ``allow`` and one or more human-readable ``reasons``."""

    domain: str
    question: str
    allow: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "question": self.question,
            "allow": self.allow,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_result(cls, obj: Any, *, engine: str) -> "Decision":
        """Validate an engine's raw ``decision`` document; raise PolicyEngineError(reason="bad_shape")."""
        problems = _shape_problems(obj)
        if problems:
            raise PolicyEngineError(
                f"policy engine '{engine}' returned a decision of the wrong shape "
                f"({'; '.join(problems)}): {_preview(obj)}; "
                "expected {domain: str, question: str, allow: bool, reasons: [str]} "
                "- check that the policy defines `decision` as documented in policies/",
                reason="bad_shape",
            )
        return cls(
            domain=obj["domain"],
            question=obj["question"],
            allow=obj["allow"],
            reasons=tuple(obj["reasons"]),
        )


def _shape_problems(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        return [f"not an object but {type(obj).__name__}"]
    problems = []
    missing = [k for k in _KEYS if k not in obj]
    extra = sorted(str(k) for k in obj if k not in _KEYS)
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected {', '.join(extra)}")
    for key in ("domain", "question"):
        if key in obj and not isinstance(obj[key], str):
            problems.append(f"{key} must be a string")
    # bool is checked by exact type: 1/0 or "true" must not pass for an answer.
    if "allow" in obj and type(obj["allow"]) is not bool:
        problems.append("allow must be true or false")
    if "reasons" in obj:
        reasons = obj["reasons"]
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            problems.append("reasons must be a list of strings")
        elif not reasons:
            problems.append("reasons must not be empty")
    return problems


def _preview(obj: Any, limit: int = 200) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "..."
