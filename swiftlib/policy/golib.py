"""The policies evaluated in-process by OPA's own Go evaluator.

``GoEngine`` has the same interface as ``EmbeddedEngine`` (``name``, ``load()``,
``decide(domain, input) -> Decision``) but evaluates with OPA's ``v1/rego`` package, built as a
c-shared library and wrapped with ctypes by the ``opa-golib-python-bindings`` wheel
(``import opa_bindings``). It answers exactly as an OPA server given the same files would,
which is what the test suite holds the embedded engine (rego-cpp) to.

That wheel declares Python >= 3.14 although it is ``py3-none-manylinux`` and works on 3.11, so
pip refuses it by default: ``scripts/install-opa-golib.sh`` installs it (``make unit`` and
``make test`` run it).

Semantics kept identical to an OPA server: an input of ``None`` is sent as *no* input (OPA's
``POST {"input": null}`` evaluates with ``input`` undefined). Every failure (the wheel missing,
a policy that does not parse or compile, an evaluation error, an undefined decision) becomes a
PolicyEngineError, so callers fail closed.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from ..errors import PolicyEngineError
from .decision import PACKAGE_ROOT, Decision, decision_entrypoint, decision_query, input_body
from .files import read_policy, rego_files

INSTALL_SCRIPT = "scripts/install-opa-golib.sh"
DISTRIBUTION = "opa-golib-python-bindings"

# "file.rego:6: rego_parse_error: message" followed by "\t<source line>" and "\t<spaces>^"
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+): (?P<message>.+)$")


class GoEngine:
    """Evaluate the policies in-process with OPA's Go evaluator (opa_bindings)."""

    name = "opa-golib"

    def __init__(self, policies_dir: str | Path) -> None:
        self.policies_dir = Path(policies_dir)
        self._opa: Any = None
        self._files: dict[str, Path] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GoEngine({str(self.policies_dir)!r})"

    def load(self) -> None:
        """Parse and compile the policies now (decide() does it on first use); raise PolicyEngineError."""
        with self._lock:
            self._load_locked()

    def close(self) -> None:
        with self._lock:
            if self._opa is not None:
                self._opa.close()
                self._opa = None

    def decide(self, domain: str, input: dict[str, Any]) -> Decision:
        """Evaluate ``data.swiftdeploy.<domain>.decision`` for ``input``."""
        query = decision_query(domain)
        path = decision_entrypoint(domain).replace("/", ".")
        # What OPA would receive over HTTP: JSON only (tuples become lists; NaN and sets are refused).
        document = json.loads(input_body(input))["input"]
        with self._lock:
            opa = self._load_locked()
        from opa_bindings import OpaError, OpaUndefinedError

        try:
            result = opa.eval_document(path, document)
        except OpaUndefinedError as exc:
            raise PolicyEngineError(
                f"{query} is undefined: no policy in {self.policies_dir} defines it for this input "
                f"(expected package {PACKAGE_ROOT}.{domain} with a `decision` rule)",
                reason="no_result",
            ) from exc
        except OpaError as exc:
            raise PolicyEngineError(
                f"OPA (Go) policy engine could not evaluate {query}: {self._describe(exc)}",
                reason="engine_error",
            ) from exc
        return Decision.from_result(result, engine=self.name)

    # -- internals -----------------------------------------------------------------

    def _load_locked(self) -> Any:
        if self._opa is not None:
            return self._opa
        try:
            from opa_bindings import OpaEngine, OpaError
        except ImportError as exc:
            raise PolicyEngineError(
                f"OPA's Go evaluator is not installed (Python package {DISTRIBUTION}, module opa_bindings); "
                f"run `make unit` (or `bash {INSTALL_SCRIPT}`) to install it into the virtualenv",
                reason="unavailable",
            ) from exc
        files = rego_files(self.policies_dir)
        if not files:
            raise PolicyEngineError(
                f"no .rego files found in {self.policies_dir}; point the engine at the policies/ directory",
                reason="engine_error",
            )
        try:
            opa = OpaEngine()
        except OSError as exc:  # libopabridge.so, or a library it links against, does not load
            raise PolicyEngineError(
                f"OPA's Go evaluator cannot load its native library: {exc}; "
                f"reinstall it with `bash {INSTALL_SCRIPT}`",
                reason="unavailable",
            ) from exc
        self._files = {}
        try:
            sources = [(path, read_policy(path, self.policies_dir)) for path in files]  # bad files: exit 2, not 4
        except BaseException:
            opa.close()
            raise
        for path, source in sources:
            name = str(path.relative_to(self.policies_dir))
            self._files[name] = path
            try:
                opa.add_policy(name, source)
            except (OSError, UnicodeDecodeError) as exc:
                opa.close()
                raise PolicyEngineError(f"policy file {path} does not load: {exc}", reason="engine_error") from exc
            except OpaError as exc:  # rego_parse_error
                opa.close()
                raise PolicyEngineError(
                    f"policy file {path} does not load: {self._describe(exc)}", reason="engine_error"
                ) from exc
        # OPA compiles every module together on the first evaluation: do it now, so a policy
        # that parses but does not compile (unsafe variable, unknown function, type error)
        # fails the load rather than the first decision.
        try:
            opa.eval_query("true")
        except OpaError as exc:
            opa.close()
            raise PolicyEngineError(
                f"policies in {self.policies_dir} do not compile: {self._describe(exc)}", reason="engine_error"
            ) from exc
        self._opa = opa
        return opa

    def _describe(self, exc: Any) -> str:
        """OPA's error as ``path:line:column: message`` lines joined by "; "."""
        return "; ".join(located_errors(str(exc.message), self._files)) or str(exc)


def located_errors(message: str, files: dict[str, Path] | None = None, limit: int = 8) -> list[str]:
    """Turn OPA's error text into ``path:line[:column]: message`` strings.

    OPA reports ``name.rego:6: rego_parse_error: ...`` and, for parse errors, the source line
    and a caret under the offending column on the two lines after it.
    """
    files = files or {}
    lines = message.splitlines()
    found: list[str] = []
    # A leading "N errors occurred:" (or "bundle activation failed: 1 error occurred: ") is dropped.
    head = re.sub(r"^.*?\d+ errors? occurred:\s*", "", lines[0]) if lines else ""
    lines = [head, *lines[1:]] if lines else []
    for index, text in enumerate(lines):
        match = _LOCATED.match(text.strip())
        if not match:
            continue
        name, line, detail = match["file"], match["line"], match["message"]
        where = f"{files.get(name, name)}:{line}"
        caret = lines[index + 2] if index + 2 < len(lines) else ""
        if caret.startswith("\t") and caret.strip() == "^":
            # OPA prints the line without its leading tabs and the caret under it.
            column = len(caret) - 1 + _leading_tabs(files.get(name), int(line))
            where += f":{column}"
        found.append(f"{where}: {detail}")
    if not found and lines:
        found = [" ".join(line.strip() for line in lines if line.strip())]
    return found[:limit]


def _leading_tabs(path: Path | None, line: int) -> int:
    try:
        text = path.read_text(encoding="utf-8").splitlines()[line - 1] if path else ""
    except (OSError, UnicodeDecodeError, IndexError):
        return 0
    return len(text) - len(text.lstrip("\t"))
