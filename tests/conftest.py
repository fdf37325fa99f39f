"""Shared test helpers: where the repository is, and how to run `inv` like a user does."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_inv(manifest: Path, task: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `inv TASK --manifest M ARGS...` from the repository, as a user would."""
    argv = [sys.executable, "-m", "invoke", "-r", str(REPO), task, "--manifest", str(manifest), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=manifest.parent)


def ansible_tool(name: str) -> str:
    """Path of an ansible-core command; prefer the one beside this interpreter (skips slow shims)."""
    import shutil
    import sys as _sys

    import pytest

    beside = Path(_sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install ansible-core (pip install ansible-core)")
    return found
