"""The audit trail's seal: the chain's head kept apart from the log, so cutting or rewriting it shows.

A hash chain proves only that the lines agree with each other: removing the last lines, or
rewriting the history and recomputing every hash, leaves a valid chain. So every append also
records, under the history's lock, where the history ended and the hash of its last line, in a
seal file *outside* the project directory, one per history (named by the SHA-256 of its real
path), in ``$SWIFTDEPLOY_STATE_DIR``, else ``$XDG_STATE_HOME/swiftdeploy``, else
``~/.local/state/swiftdeploy``.

``check`` compares the history with its seal:

- fewer bytes than sealed: lines were cut from the end;
- the sealed last line no longer ends where it did, or hashes differently: the history was
  rewritten (a recomputed chain included);
- more bytes after the sealed line: appended since (by another machine sharing the history
  through git, say); the seal vouches for what was written here.

Limits: someone who can also write the operator's state directory can move the seal along with
the log; a history never sealed on this machine (a fresh clone) is checked by its chain alone,
and ``check`` says so.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_text

STATE_ENV = "SWIFTDEPLOY_STATE_DIR"


def state_dir() -> Path:
    given = os.environ.get(STATE_ENV, "").strip()
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "swiftdeploy"


def seal_path(history: str | os.PathLike[str]) -> Path:
    real = os.path.realpath(os.fspath(history))
    return state_dir() / "seals" / f"{hashlib.sha256(real.encode()).hexdigest()[:32]}.json"


def record(history: str | os.PathLike[str], size: int, last_line: bytes) -> None:
    """Seal ``history`` as ``size`` bytes ending with ``last_line`` (called under the history's lock)."""
    path = seal_path(history)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {"history": os.path.realpath(os.fspath(history)), "bytes": size,
            "head": hashlib.sha256(last_line).hexdigest()}
    atomic_write_text(path, json.dumps(body, sort_keys=True) + "\n", mode=0o600)


def check_writable() -> None:
    """Raise OSError unless a seal could be written now (its directory exists or can be made, writable)."""
    seals = state_dir() / "seals"
    seals.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not os.access(seals, os.W_OK | os.X_OK):
        raise PermissionError(13, "Permission denied", str(seals))


@dataclass(frozen=True)
class SealCheck:
    ok: bool
    sealed_line: int | None  # the line the seal vouches for (None: no seal here)
    problem: str = ""
    note: str = ""


def check(history: str | os.PathLike[str], raw: bytes) -> SealCheck:
    """``raw`` (the history's bytes) against its seal (pure but for reading the seal)."""
    try:
        seal = json.loads(seal_path(history).read_text(encoding="utf-8"))
        size, head = int(seal["bytes"]), str(seal["head"])
    except FileNotFoundError:
        return SealCheck(True, None, note="not sealed on this machine (written elsewhere, or before sealing): "
                                          "the chain alone cannot show lines cut from the end")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return SealCheck(False, None, problem=f"the seal {seal_path(history)} is unreadable ({exc}); "
                                              "it cannot vouch for the history")
    lines_now = raw.count(b"\n")
    if len(raw) < size:
        return SealCheck(False, None, problem=f"the history was cut: it ends after line {lines_now} ({len(raw)} "
                                              f"bytes) but was sealed at {size} bytes; lines were removed from the end")
    sealed_line = raw[:size].count(b"\n")
    start = raw.rfind(b"\n", 0, max(0, size - 1)) + 1
    if size == 0 or raw[size - 1:size] != b"\n" or hashlib.sha256(raw[start:size - 1]).hexdigest() != head:
        return SealCheck(False, sealed_line, problem=f"line {sealed_line} is not the line sealed there: the history "
                                                     "was rewritten (even with its hashes recomputed)")
    after = lines_now - sealed_line
    return SealCheck(True, sealed_line, note=f"sealed through line {sealed_line} on this machine"
                                             + (f"; {after} lines appended since" if after else ""))
