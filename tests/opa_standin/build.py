"""Prepare the docker build context for the OPA test stand-in (see README.md).

``prepare_context(tmpdir)`` copies Dockerfile and server.py into ``tmpdir`` and downloads
the regopy wheel on the host into ``tmpdir/wheels/``, because pip inside containers cannot
verify TLS here. The wheel is chosen for the base image's python3 (Debian bookworm: CPython
3.11, glibc 2.36) on this machine's architecture, and pinned to the regopy version installed
on the host so the stand-in evaluates exactly like the embedded engine.
"""
from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("Dockerfile", "server.py", "README.md")
BASE_PYTHON = "3.11"  # Debian bookworm's python3
BASE_GLIBC_MINOR = 36  # Debian bookworm's glibc 2.36
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def wheel_platforms(machine: str | None = None) -> list[str]:
    """pip --platform tags a bookworm python3 on this architecture can load, newest first."""
    raw = (machine or platform.machine()).lower()
    arch = _ARCH.get(raw)
    if arch is None:
        raise RuntimeError(f"no regopy wheel mapping for architecture {raw!r}; expected x86_64 or aarch64")
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(BASE_GLIBC_MINOR, 16, -1)]
    return tags + [f"manylinux2014_{arch}"]


def download_command(dest: Path, *, machine: str | None = None, version: str | None = None) -> list[str]:
    """The pip argv that fetches the one regopy wheel for the base image into ``dest``."""
    version = version or metadata.version("regopy")
    argv = [
        sys.executable, "-m", "pip", "download", f"regopy=={version}",
        "--no-deps", "--only-binary=:all:", "--dest", str(dest),
        "--python-version", BASE_PYTHON, "--implementation", "cp",
        "--abi", "cp" + BASE_PYTHON.replace(".", ""),
    ]
    for tag in wheel_platforms(machine):
        argv += ["--platform", tag]
    return argv


def prepare_context(tmpdir: str | Path, *, machine: str | None = None) -> Path:
    """Fill ``tmpdir`` with a complete build context and return it."""
    context = Path(tmpdir)
    context.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(HERE / name, context / name)
    wheels = context / "wheels"
    wheels.mkdir(exist_ok=True)
    done = subprocess.run(
        download_command(wheels, machine=machine), capture_output=True, text=True, timeout=600
    )
    found = sorted(wheels.glob("regopy-*.whl"))
    if done.returncode != 0 or not found:
        raise RuntimeError(
            f"could not download the regopy wheel for the stand-in image (pip exited {done.returncode}):\n"
            + (done.stderr or done.stdout)[-2000:]
        )
    return context


if __name__ == "__main__":
    print(prepare_context(sys.argv[1] if len(sys.argv) > 1 else "build/opa-standin"))
