"""The README's pre-deploy hook example, run as written: it refuses Friday afternoons and nothing else.

Its first version compared `date +%u%H` with 515 and so also refused every Saturday and Sunday.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLE = re.compile(r"cat > hooks/pre-deploy <<'SH'\n(.*?)\nSH\n", re.S)


def hook_from_readme() -> str:
    found = EXAMPLE.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert found, "the README's Hooks section has no pre-deploy example"
    return found.group(1) + "\n"


def run_at(tmp_path: Path, weekday: int, hour: int) -> subprocess.CompletedProcess:
    """The hook with `date` answering for ISO ``weekday`` (1 = Monday) at ``hour``."""
    hook = tmp_path / "pre-deploy"
    hook.write_text(hook_from_readme())
    hook.chmod(0o755)
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "date").write_text(f'#!/bin/sh\ncase "$1" in +%u) echo {weekday};; +%H) printf "%02d\\n" {hour};; '
                               f'*) echo "unexpected date $*" >&2; exit 9;; esac\n')
    (fake / "date").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([str(hook)], capture_output=True, text=True, env=env, timeout=10)


@pytest.mark.parametrize("weekday, hour", [(5, 15), (5, 23)])
def test_friday_afternoon_is_refused(tmp_path, weekday, hour):
    result = run_at(tmp_path, weekday, hour)
    assert result.returncode == 1 and "no deploys on Friday afternoon" in result.stderr


@pytest.mark.parametrize("weekday, hour", [(5, 9), (5, 14), (6, 16), (7, 10), (1, 16), (4, 23)])
def test_every_other_time_passes(tmp_path, weekday, hour):
    result = run_at(tmp_path, weekday, hour)
    assert result.returncode == 0, result.stderr
