"""The append-only audit trail: one JSON object per line in history.jsonl.

Line format (compact JSON, keys in exactly this order, UTF-8, ``\\n``-terminated)::

    {"timestamp":"2025-01-02T03:04:05.678Z","event_type":"deploy","host":"local",
     "actor":"ops@box","data":{...},"prev_hash":"<64 hex>","hash":"<64 hex>"}

Hash chain, decided here once:

- ``prev_hash`` = sha256 (hex) of the previous line's raw bytes, without its newline
  and including that line's own ``hash``; 64 zeros on the first line.
- ``hash`` = sha256 (hex) of this line's bytes up to the ``hash`` key, closed with
  ``}`` -- i.e. the compact JSON of the first six keys. It is always the last key,
  so the line ends with ``,"hash":"<64 hex>"}``.

``verify`` walks the file and names the first bad line:

- a line edited in place fails its own ``hash`` -> that line is named;
- a line rewritten *with* a recomputed ``hash`` breaks the next line's ``prev_hash``;
- a removed line breaks the ``prev_hash`` of the line that now follows it;
- swapped lines break ``prev_hash`` at the first of them;
- a truncated or garbled last line is not valid JSON or lacks its newline.

A damaged history is still reported: ``read(skip_unreadable=True)`` returns every
line that is a JSON object, and a failed ``verify`` lists in ``unreadable_lines``
every line that is not, for the report to name.

The chain alone is not keyed, so someone who can rewrite the whole file can forge a
consistent one, and dropping lines from the *end* leaves a valid (shorter) chain. Each append
therefore also seals the history (``audit_seal``: its size and last line's hash, kept outside
the project directory), and ``verify`` checks the seal too: a cut or rewritten history fails.

Appends are serialised by ``fileio.locked_append_line`` (an flock on ``<file>.lock``);
the timestamp is taken under that lock, so timestamps never go backwards in the file.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Mapping

from . import seal as audit_seal
from ..errors import ConfigError
from ..fileio import check_appendable, lock_path, locked_append_line, locked_read_bytes
from ..workspace import inside


class EventType(StrEnum):
    """Event types the tasks record (any other non-empty ``[a-z_]+`` name is allowed)."""

    DEPLOY = "deploy"
    UP = "up"
    HEALTH = "health"
    MODE_CHANGE = "mode_change"
    PROMOTE = "promote"
    POLICY_CHECK = "policy_check"
    POLICY_VIOLATION = "policy_violation"
    POLICY_ENGINE_FAILURE = "policy_engine_failure"
    STATUS_SCRAPE = "status_scrape"
    TEARDOWN = "teardown"
    RENDER = "render"
    VALIDATE = "validate"
    CHAOS = "chaos"
    LOCK = "lock"


KNOWN_EVENT_TYPES = frozenset(e.value for e in EventType)
KEYS = ("timestamp", "event_type", "host", "actor", "data", "prev_hash", "hash")
GENESIS_HASH = "0" * 64
ACTOR_ENV = "SWIFTDEPLOY_ACTOR"

_EVENT_TYPE = re.compile(r"[a-z_]+")
_HEX64 = re.compile(rb"[0-9a-f]{64}")
_HASH_SUFFIX_LEN = len(',"hash":"') + 64 + len('"}')


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    lines: int
    first_bad_line: int | None
    problem: str
    head_hash: str = GENESIS_HASH  # what the next appended line's prev_hash will be
    # Every line that is not a JSON object (not only the first bad one): what
    # ``read(skip_unreadable=True)`` leaves out, for the report to name.
    unreadable_lines: tuple[int, ...] = ()
    seal: str = ""  # what the seal kept outside the project vouches for (audit_seal)


def default_actor() -> str:
    """``$SWIFTDEPLOY_ACTOR``, else ``user@hostname`` of this process."""
    actor = os.environ.get(ACTOR_ENV, "").strip()
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER, e.g. in a bare container
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def build_line(record: Mapping[str, Any], prev_line: bytes | None) -> str:
    """The line for ``record`` (timestamp..data) chained to ``prev_line``."""
    body = {k: record[k] for k in KEYS[:5]}
    body["prev_hash"] = GENESIS_HASH if prev_line is None else _sha256(prev_line)
    # default=str: a Path or datetime in data is recorded, not a crashed deploy.
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
    own = _sha256(text.encode("utf-8"))
    return f'{text[:-1]},"hash":"{own}"}}'


def _parse_line(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the line's JSON object, '') or (None, why it is not one)."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return None, f"not valid JSON ({exc})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object per line, got {type(record).__name__}"
    return record, ""


def _line_problem(n: int, raw: bytes, expected_prev: str) -> str:
    """Why line ``n`` (raw bytes, no newline) is bad, or '' when it is sound."""
    if not raw.strip():
        return f"line {n} is empty"
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return f"line {n} is not valid JSON ({exc}): it was truncated or edited"
    if not isinstance(record, dict) or tuple(record) != KEYS:
        return f"line {n} does not have the audit fields {', '.join(KEYS)} in that order"
    suffix = raw[-_HASH_SUFFIX_LEN:]
    own = suffix[len(',"hash":"'):-2]
    body = raw[:-_HASH_SUFFIX_LEN] + b"}"
    if not (suffix.startswith(b',"hash":"') and _HEX64.fullmatch(own)) or _sha256(body) != own.decode():
        return f"line {n} was altered: its content does not match its hash"
    if record["prev_hash"] != expected_prev:
        if n == 1:
            return ("line 1 does not start the chain (prev_hash is not all zeros): "
                    "earlier lines were removed or lines were reordered")
        return (f"line {n} does not follow line {n - 1} (prev_hash mismatch): a line between "
                f"them was removed, lines were reordered, or line {n - 1} was rewritten")
    return ""


class AuditLog:
    """The history file at ``path``; appends are safe across processes.

    Appends never go through a symbolic link: the history and its ``.lock`` must not be
    links, and with ``root`` (the project directory) both must resolve inside it, so a
    committed ``history.jsonl -> /elsewhere`` or a linked directory is refused (exit 2)
    instead of appended to.
    """

    def __init__(self, path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> None:
        self.path = os.fspath(path)
        self.root = os.fspath(root) if root is not None else None

    def __repr__(self) -> str:
        return f"AuditLog({self.path!r})"

    def append(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        host: str = "local",
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Record one event and return it exactly as written (all seven keys).

        Raises ValueError for an event type that is not ``[a-z_]+``, an empty host,
        or ``data`` that is not a mapping (these are programming errors).
        """
        event_type = str(event_type)
        if not _EVENT_TYPE.fullmatch(event_type):
            raise ValueError(f"audit event type must match [a-z_]+, got {event_type!r}")
        if not host:
            raise ValueError("audit host must be a non-empty name")
        if not isinstance(data, Mapping):
            raise ValueError(f"audit data must be a mapping, got {type(data).__name__}")
        who = actor or default_actor()
        self._check_append_target()

        def make_line(prev_line: bytes | None) -> str:
            record = {"timestamp": _utc_now(), "event_type": event_type, "host": host,
                      "actor": who, "data": dict(data)}
            return build_line(record, prev_line)

        def seal(size: int, line: bytes) -> None:
            try:
                audit_seal.record(self.path, size, line)
            except OSError:
                pass  # the line is written; `ensure_writable` checked the seal's directory before the command

        try:
            return json.loads(locked_append_line(self.path, make_line, seal))
        except OSError as exc:
            raise self._unusable(exc) from exc

    def ensure_writable(self) -> None:
        """Raise ConfigError (exit 2) unless an event could be appended now.

        Asked before a command changes anything, so nothing changes without its record.
        """
        self._check_append_target()
        try:
            check_appendable(self.path)
            audit_seal.check_writable()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot append to the audit history ({exc.strerror}), so nothing was "
                              "changed (every change is recorded there); make it a writable regular file, "
                              "or check audit.history_file in the manifest") from exc

    def _check_append_target(self) -> None:
        """Refuse a history (or its lock) that is a symbolic link or resolves outside ``root``."""
        for path in (self.path, lock_path(self.path)):
            if self.root is not None:
                real_root = os.path.realpath(self.root)
                inside(real_root, os.path.relpath(os.path.abspath(path), os.path.abspath(self.root)))
            if os.path.islink(path):
                raise ConfigError(f"{path}: is a symbolic link; the audit history is appended only to a "
                                  "regular file in the project directory, never through a link "
                                  "(check audit.history_file in the manifest)")

    def _unusable(self, exc: OSError) -> ConfigError:
        return ConfigError(f"{self.path}: cannot use as the audit history ({exc.strerror}); "
                           "check audit.history_file in the manifest")

    def _raw(self) -> bytes:
        try:
            return locked_read_bytes(self.path) or b""
        except OSError as exc:
            raise self._unusable(exc) from exc

    def _raw_lines(self, raw: bytes | None = None) -> tuple[list[bytes], bool]:
        """Lines without newlines, and whether the file ends with a newline."""
        if raw is None:
            raw = self._raw()
        if not raw:
            return [], True
        lines = raw.split(b"\n")
        ends_with_newline = lines[-1] == b""
        if ends_with_newline:
            lines.pop()
        return lines, ends_with_newline

    def read(self, *, skip_unreadable: bool = False) -> list[dict[str, Any]]:
        """Every event in file order; ``[]`` when there is no history yet.

        A line that is not a JSON object (a write cut off by a crash leaves one at the
        end) raises ConfigError naming file and line; with ``skip_unreadable`` it is left
        out and every other line is still returned (``verify().unreadable_lines`` names
        the lines left out). Either way the events are not checked against the chain:
        that is ``verify``'s job.
        """
        events: list[dict[str, Any]] = []
        for n, raw in enumerate(self._raw_lines()[0], start=1):
            record, why = _parse_line(raw)
            if record is not None:
                events.append(record)
            elif not skip_unreadable:
                raise ConfigError(f"{self.path}:{n}: {why}; the history is damaged -- "
                                  "run the audit verification and restore the file from a backup")
        return events

    def verify(self) -> VerifyResult:
        """Check every line and the hash chain; names the first bad line.

        When the chain fails, ``unreadable_lines`` also lists every line that is not a
        JSON object, before and after the first bad one.
        """
        raw = self._raw()
        lines, ends_with_newline = self._raw_lines(raw)
        head = _sha256(lines[-1]) if lines else GENESIS_HASH
        expected_prev = GENESIS_HASH
        for n, line in enumerate(lines, start=1):
            problem = _line_problem(n, line, expected_prev)
            if not problem and n == len(lines) and not ends_with_newline:
                problem = f"line {n} is incomplete (no newline at the end): a write was cut off"
            if problem:
                unreadable = tuple(i for i, line in enumerate(lines, start=1) if _parse_line(line)[0] is None)
                return VerifyResult(False, len(lines), n, problem, head, unreadable)
            expected_prev = _sha256(line)
        sealed = audit_seal.check(self.path, raw)
        if not sealed.ok and sealed.sealed_line is None:  # an append may have moved the seal since the read
            raw = self._raw()
            sealed = audit_seal.check(self.path, raw)
        if not sealed.ok:
            return VerifyResult(False, len(lines), sealed.sealed_line or len(lines) + 1, sealed.problem, head)
        return VerifyResult(True, len(lines), None, "", head, seal=sealed.note)
