"""A small, bounded local time series of what status observes (per track), apart from the audit trail.

The audit trail (history.jsonl) records decisions and changes; a frame of `inv status`
every two seconds is neither, so frames go here instead: one JSON line per sample in
``.swiftdeploy/metrics-<host>.jsonl`` under the project directory, at most ``MAX_SAMPLES``
lines (about two hours at the default two-second interval). When a file grows past
that, its oldest half is dropped by an atomic rewrite, so appends stay cheap and the
file stays bounded. Losing this file loses only charts, never the record of a decision.
"""
from __future__ import annotations

import calendar
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable

from ..fileio import atomic_write_text

MAX_SAMPLES = 3600
TRACK_FIELDS = ("req_per_s", "error_rate", "p99_latency_ms", "requests", "chaos")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def sample_of(frame: dict[str, Any]) -> dict[str, Any]:
    """The part of a status frame worth charting (pure)."""
    return {
        "timestamp": frame["timestamp"],
        "mode": frame["mode"],
        "weight": frame.get("weight", 0),
        "version": frame.get("version"),
        "canary_version": frame.get("canary_version"),
        "tracks": {name: {k: t.get(k) for k in TRACK_FIELDS} for name, t in frame.get("tracks", {}).items()},
        "decisions": [{"domain": p["domain"], "allow": p["allow"], "reasons": p["reasons"]}
                      for p in frame.get("policies", [])],
    }


def history_path(project_root: Path, host: str) -> Path:
    return project_root / ".swiftdeploy" / f"metrics-{_UNSAFE.sub('_', host)}.jsonl"


def record(project_root: Path, host: str, frame: dict[str, Any], *, limit: int = MAX_SAMPLES) -> None:
    """Append one sample; trim to the newest half of ``limit`` once the file exceeds it."""
    path = history_path(project_root, host)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(sample_of(frame), separators=(",", ":"), sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > limit * len(line) * 0.9:  # cheap pre-check before counting lines
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        if len(lines) > limit:
            atomic_write_text(path, "".join(lines[-(limit // 2):]))


def read(project_root: Path, host: str, *, since: float | None = None) -> list[dict[str, Any]]:
    """Samples, oldest first; unreadable lines (a torn last write) are skipped."""
    path = history_path(project_root, host)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            sample = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting in a planted line
            continue
        if isinstance(sample, dict) and (since is None or _epoch(sample.get("timestamp", "")) >= since):
            out.append(sample)
    return out


def _epoch(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))  # UTC, no DST guess
    except ValueError:
        return 0.0


def files(project_root: Path) -> Iterable[Path]:
    return sorted((project_root / ".swiftdeploy").glob("metrics-*.jsonl"))
