"""The in-process policy engine: the policies evaluated by regopy (Microsoft's rego-cpp).

Used where no OPA server runs. It loads every ``*.rego`` file under one directory once per
instance and answers ``data.swiftdeploy.<domain>.decision``. Every failure (a policy that
does not compile, an evaluation error, an undefined decision) becomes a PolicyEngineError,
so callers fail closed.

rego-cpp defects worked around here (see ENVIRONMENT.md):
- ``with input as ...`` can crash the process, so input is set per call with ``set_input``;
- errors are printed to stdout unless the log level is NONE (library code never prints);
- the interpreter is not safe to share between threads, so calls are serialised by a lock.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..errors import PolicyEngineError
from .decision import PACKAGE_ROOT, Decision, decision_entrypoint, decision_query, input_body


class EmbeddedEngine:
    """Evaluate the policies in-process with regopy."""

    name = "embedded"

    def __init__(self, policies_dir: str | Path) -> None:
        self.policies_dir = Path(policies_dir)
        self._interpreter: Any = None
        self._bundles: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddedEngine({str(self.policies_dir)!r})"

    def load(self) -> None:
        """Compile the policies now (decide() does it on first use); raise PolicyEngineError."""
        with self._lock:
            self._load_locked()

    def decide(self, domain: str, input: dict[str, Any]) -> Decision:
        """Evaluate ``data.swiftdeploy.<domain>.decision`` for ``input``."""
        query = decision_query(domain)
        # What OPA would receive over HTTP: JSON only (tuples become lists; NaN and sets are refused).
        document = json.loads(input_body(input))["input"]
        with self._lock:
            rego = self._load_locked()
            bundle = self._bundle_locked(rego, domain, query)
            try:
                from regopy import Input

                rego.set_input(Input(document))
                output = rego.query_bundle_entrypoint(bundle, decision_entrypoint(domain))
            except Exception as exc:  # RegoError, or regopy failing to parse its own output
                raise PolicyEngineError(
                    f"embedded policy engine failed on {query}: {_first_line(exc)}",
                    reason="engine_error",
                ) from exc
            if not output.ok():
                # rego-cpp gives no usable detail for evaluation errors (printing some of them crashes).
                raise PolicyEngineError(
                    f"embedded policy engine could not evaluate {query} "
                    f"(a conflict or built-in error in {self.policies_dir}); "
                    "run the policy tests (inv policy-test) to find the failing rule",
                    reason="engine_error",
                )
            results = [r.expressions for r in output.results if r.expressions]
        if not results:
            raise PolicyEngineError(
                f"{query} is undefined: no policy in {self.policies_dir} defines it for this input "
                f"(expected package {PACKAGE_ROOT}.{domain} with a `decision` rule)",
                reason="no_result",
            )
        return Decision.from_result(results[0][0], engine=self.name)

    def _bundle_locked(self, rego: Any, domain: str, query: str) -> Any:
        # A compiled plan per domain: ~3 ms a decision instead of ~40 ms for an ad-hoc query.
        bundle = self._bundles.get(domain)
        if bundle is None:
            try:
                bundle = rego.build(None, [decision_entrypoint(domain)])
                ok = bundle.ok()
            except Exception as exc:
                raise PolicyEngineError(
                    f"policies in {self.policies_dir} do not compile for {query}: {_first_lines(exc)}",
                    reason="engine_error",
                ) from exc
            if not ok:
                raise PolicyEngineError(
                    f"policies in {self.policies_dir} do not compile for {query}", reason="engine_error"
                )
            self._bundles[domain] = bundle
        return bundle

    def _load_locked(self) -> Any:
        if self._interpreter is not None:
            return self._interpreter
        try:
            from regopy import Interpreter, LogLevel
        except ImportError as exc:
            raise PolicyEngineError(
                "the embedded policy engine needs the regopy package (pip install regopy)",
                reason="unavailable",
            ) from exc
        except OSError as exc:  # its native library, or one it links against, does not load
            raise PolicyEngineError(_load_failure(exc), reason="unavailable") from exc
        files = sorted(self.policies_dir.rglob("*.rego")) if self.policies_dir.is_dir() else []
        if not files:
            raise PolicyEngineError(
                f"no .rego files found in {self.policies_dir}; point the engine at the policies/ directory",
                reason="engine_error",
            )
        rego = Interpreter()
        rego.log_level = LogLevel.NONE  # rego-cpp prints errors to stdout otherwise
        # Built-in errors stay "undefined", as in OPA: rego-cpp does not always evaluate a rule body
        # in written order, so a guard such as is_string(x) may not run before regex.match(.., x).
        # The policies derive `allow` from the conditions alone, so an undefined helper can only
        # lose a reason, never grant an allow; the case tables check every reason exactly.
        for path in files:
            try:
                rego.add_module(str(path.relative_to(self.policies_dir)), path.read_text(encoding="utf-8"))
            except Exception as exc:  # RegoError (syntax), OSError, UnicodeDecodeError
                raise PolicyEngineError(
                    f"policy file {path} does not load: {_first_lines(exc)}",
                    reason="engine_error",
                ) from exc
        self._interpreter = rego
        return rego


def _load_failure(exc: OSError) -> str:
    """What to tell a user whose regopy cannot load a shared library, and how to get it."""
    from ..bootstrap.syslibs import package_for

    package = package_for(str(exc))
    fix = (f"install Debian's {package} (`apt-get install {package}`, or run `inv bootstrap` as root)"
           if package else "reinstall regopy for this platform")
    return (f"the embedded policy engine (regopy) cannot load its native library: {_first_line(exc)}; "
            f"{fix}, or set opa.engine: sidecar to ask an OPA container instead")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _first_lines(exc: BaseException, limit: int = 8) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(line.strip() for line in lines[:limit]) or type(exc).__name__
