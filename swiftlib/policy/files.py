"""The policy files an engine loads: every ``*.rego`` under the policies directory, read safely.

Each must be a regular file that resolves inside the policies directory: a ``.rego`` link to a
file elsewhere would let something outside the project decide, and a FIFO named ``*.rego``
would block the read forever. Either is bad input (exit 2) naming the file, before any engine
is asked.
"""
from __future__ import annotations

from pathlib import Path

from ..fileio import MIB, read_regular_text

POLICY_LIMIT = 4 * MIB  # far beyond any real policy; a runaway file is refused, not loaded


def rego_files(policies_dir: str | Path) -> list[Path]:
    """The ``*.rego`` paths under ``policies_dir``, sorted ([] when it is not a directory)."""
    root = Path(policies_dir)
    return sorted(root.rglob("*.rego")) if root.is_dir() else []


def read_policy(path: Path, policies_dir: str | Path) -> str:
    """The text of one policy file; UnreadableFile (exit 2) unless it is a regular UTF-8 file inside the directory."""
    return read_regular_text(path, POLICY_LIMIT, "a policy file", within=policies_dir)
