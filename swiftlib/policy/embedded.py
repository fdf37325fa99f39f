"""The in-process policy engine: the policies evaluated by regopy (Microsoft's rego-cpp).

Used where no OPA server runs. It loads every ``*.rego`` file under one directory once per
instance and answers ``data.swiftdeploy.<domain>.decision``; `shared_engine` keeps one instance per
directory and content for the process. Every failure (a policy that
does not compile, an evaluation error, an undefined decision) becomes a PolicyEngineError,
so callers fail closed.

rego-cpp defects worked around here (README, Policies, "Engines"):
- ``with input as ...`` can crash the process, so input is set per call with ``set_input_term``
  (JSON text: ``Input(value)`` rounds floats to about 6 significant digits);
- errors are printed to stdout unless the log level is NONE (library code never prints);
- the interpreter is not safe to share between threads, so calls are serialised by a lock;
- its errors are an S-expression with byte offsets: a policy that does not parse is reported
  as ``path:line:column: message`` instead (``located_errors``).
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


class EmbeddedEngine:
    """Evaluate the policies in-process with regopy."""

    name = "embedded"

    def __init__(self, policies_dir: str | Path) -> None:
        self.policies_dir = Path(policies_dir)
        self._interpreter: Any = None
        self._bundles: dict[str, Any] = {}
        self._sources: dict[str, tuple[Path, str]] = {}  # module name -> (file, text), for error locations
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddedEngine({str(self.policies_dir)!r})"

    def load(self) -> None:
        """Compile the policies now (decide() does it on first use); raise PolicyEngineError."""
        with self._lock:
            self._load_locked()

    def prepare(self, domain: str) -> None:
        """Compile the policies and ``domain``'s decision plan now, so its first decide() is only the
        evaluation (about 3 ms instead of 50); raise PolicyEngineError."""
        with self._lock:
            self._bundle_locked(self._load_locked(), domain, decision_query(domain))

    def decide(self, domain: str, input: dict[str, Any]) -> Decision:
        """Evaluate ``data.swiftdeploy.<domain>.decision`` for ``input``."""
        query = decision_query(domain)
        # What OPA would receive over HTTP: JSON only (tuples become lists; NaN and sets are refused).
        # The JSON text itself is the input term: regopy's Input(value) keeps only ~6 significant
        # digits of a float (0.0100001 became 0.01, 1e-07 became 0), which could turn a deny into
        # an allow; rego-cpp parses the text at full double precision.
        term = json.dumps(json.loads(input_body(input))["input"], allow_nan=False)
        with self._lock:
            rego = self._load_locked()
            bundle = self._bundle_locked(rego, domain, query)
            try:
                rego.set_input_term(term)
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
                    f"policies in {self.policies_dir} do not compile for {query}: {self._describe(exc)}",
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
        files = rego_files(self.policies_dir)
        if not files:
            raise PolicyEngineError(
                f"no .rego files found in {self.policies_dir}; point the engine at the policies/ directory",
                reason="engine_error",
            )
        rego = Interpreter()
        rego.log_level = LogLevel.NONE  # rego-cpp prints errors to stdout otherwise
        self._sources = {}
        # Built-in errors stay "undefined", as in OPA: rego-cpp does not always evaluate a rule body
        # in written order, so a guard such as is_string(x) may not run before regex.match(.., x).
        # The policies derive `allow` from the conditions alone, so an undefined helper can only
        # lose a reason, never grant an allow; the case tables check every reason exactly.
        sources = [(path, read_policy(path, self.policies_dir)) for path in files]  # bad files: exit 2, not 4
        for path, source in sources:
            name = str(path.relative_to(self.policies_dir))
            try:
                self._sources[name] = (path, source)
                rego.add_module(name, source)
            except Exception as exc:  # RegoError (syntax), OSError, UnicodeDecodeError
                raise PolicyEngineError(
                    f"policy file {path} does not load: {self._describe(exc)}",
                    reason="engine_error",
                ) from exc
        self._interpreter = rego
        return rego

    def _describe(self, exc: BaseException) -> str:
        """A rego-cpp error as ``path:line:column: message`` items, or its first lines otherwise."""
        return "; ".join(located_errors(str(exc), self._sources)) or _first_lines(exc)


# rego-cpp reports errors as an S-expression whose strings carry their byte length:
#   (rego-errorseq (error 11:broken.rego|132|1 (errormsg 16:this is unclosed) (errorast ...)) ...)
# where "broken.rego|132|1" is the module name, a byte offset into its source and a length.
_ERROR = re.compile(rb"\(error\s")
_LENGTH = re.compile(rb"(\d+):")
_SPAN = re.compile(rb"\|(\d+)\|(\d+)")
_MESSAGE = re.compile(rb"\(errormsg\s+")


def located_errors(text: str, sources: dict[str, tuple[Path, str]], limit: int = 8) -> list[str]:
    """``path:line:column: message`` for each error in a rego-cpp error sequence (empty if none parse)."""
    raw = text.encode("utf-8")
    found: list[str] = []
    starts = [m.end() for m in _ERROR.finditer(raw)]
    for at, end in zip(starts, starts[1:] + [len(raw)]):
        name = b""
        length = _LENGTH.match(raw, at)
        if length:  # "<n>:<name>" then "|<offset>|<length>"
            start = length.end()
            name = raw[start:start + int(length[1])]
            at = start + len(name)
        span = _SPAN.match(raw, at)
        msg = _MESSAGE.search(raw, at, end)
        if msg is None:
            continue
        size = _LENGTH.match(raw, msg.end())
        if size:
            message = raw[size.end():size.end() + int(size[1])]
        else:
            message = raw[msg.end():].split(b")", 1)[0]
        where = _where(name.decode("utf-8", "replace"), int(span[1]) if span else None, sources)
        item = f"{where}: {message.decode('utf-8', 'replace').strip()}" if where else message.decode("utf-8", "replace")
        if item not in found:
            found.append(item)
    return found[:limit]


def _where(name: str, offset: int | None, sources: dict[str, tuple[Path, str]]) -> str:
    """``path:line:column`` (1-based, columns in characters) for a byte offset into module ``name``."""
    path, source = sources.get(name, (None, None))
    label = str(path) if path is not None else name
    if offset is None or source is None:
        return label
    before = source.encode("utf-8")[:offset].decode("utf-8", "replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f"{label}:{line}:{column}"


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


_SHARED: dict[str, tuple[str, EmbeddedEngine]] = {}  # policies directory -> (content digest, its engine)
_SHARED_DIRECTORIES = 4  # a run uses one; each compiled engine holds about 10 MB
_SHARED_LOCK = threading.Lock()


def shared_engine(policies_dir: str | Path) -> EmbeddedEngine:
    """The process's engine for these policies: compiled once and reused by every gate of a run (a fleet's
    hosts, a rollout's steps, the work done during a canary's window). An edited policy is compiled afresh
    and replaces the old engine; a directory that cannot be read gets an engine of its own, whose first
    use reports why."""
    import hashlib

    path = Path(policies_dir)
    try:
        digest = hashlib.sha256()
        for file in rego_files(path):
            digest.update(f"{file.relative_to(path)}\0{read_policy(file, path)}\0".encode())
        where, content = str(path.resolve()), digest.hexdigest()
    except Exception:  # noqa: BLE001 - unreadable policies: the engine's own load says why, as before
        return EmbeddedEngine(path)
    with _SHARED_LOCK:
        known = _SHARED.pop(where, None)
        engine = known[1] if known and known[0] == content else EmbeddedEngine(path)
        _SHARED[where] = (content, engine)  # the newest last
        while len(_SHARED) > _SHARED_DIRECTORIES:
            del _SHARED[next(iter(_SHARED))]
        return engine
