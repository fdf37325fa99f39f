"""Prepare the docker build context for the OPA test stand-in (see README.md).

``prepare_context(tmpdir)`` copies Dockerfile and server.py into ``tmpdir`` and puts OPA's Go
evaluator (the opa-golib-python-bindings wheel) into ``tmpdir/wheels/``, because pip inside
containers cannot verify TLS here. The wheel comes from the host's download cache, the one
scripts/install-opa-golib.sh fills under the virtualenv (``.venv/cache/opa-golib``); only when
the cache has no wheel for the image's architecture is it downloaded, into that cache.

The wheel is ``py3-none-manylinux_2_34_<arch>`` (a Go c-shared library and a ctypes wrapper),
so it runs on the base image's python3 (Debian bookworm: CPython 3.11, glibc 2.36) although its
metadata asks for Python 3.14; the Dockerfile unpacks it rather than pip-installing it. The
version is the one installed on the host, so the stand-in evaluates exactly like the GoEngine
the unit tests hold the embedded engine to.
"""
from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FILES = ("Dockerfile", "server.py", "README.md")
DISTRIBUTION = "opa-golib-python-bindings"
DEFAULT_VERSION = "0.4.4"  # as scripts/install-opa-golib.sh
CACHE = ROOT / ".venv" / "cache" / "opa-golib"
WHEEL_PYTHON = "3.14"  # what the wheel's metadata requires; the wheel itself is py3-none
BASE_GLIBC_MINOR = 36  # Debian bookworm's glibc 2.36
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def architecture(machine: str | None = None) -> str:
    raw = (machine or platform.machine()).lower()
    arch = _ARCH.get(raw)
    if arch is None:
        raise RuntimeError(f"no {DISTRIBUTION} wheel mapping for architecture {raw!r}; expected x86_64 or aarch64")
    return arch


def wheel_platforms(machine: str | None = None) -> list[str]:
    """pip --platform tags a bookworm image on this architecture can load, newest first."""
    arch = architecture(machine)
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(BASE_GLIBC_MINOR, 16, -1)]
    return tags + [f"manylinux2014_{arch}"]


def wheel_version() -> str:
    """The version installed on the host (what the unit tests ran), else the install script's."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return DEFAULT_VERSION


def download_command(dest: Path, *, machine: str | None = None, version: str | None = None) -> list[str]:
    """The pip argv that fetches the one opa-golib wheel for the base image into ``dest``."""
    version = version or wheel_version()
    argv = [
        sys.executable, "-m", "pip", "download", f"{DISTRIBUTION}=={version}",
        "--no-deps", "--only-binary=:all:", "--dest", str(dest),
        "--python-version", WHEEL_PYTHON, "--implementation", "py", "--abi", "none",
    ]
    for tag in wheel_platforms(machine):
        argv += ["--platform", tag]
    return argv


def cached_wheel(cache: Path, *, machine: str | None = None, version: str | None = None) -> Path | None:
    """The cached wheel of ``version`` for the image's architecture, if any."""
    version = version or wheel_version()
    tags = set(wheel_platforms(machine))
    name = DISTRIBUTION.replace("-", "_")
    for path in sorted(cache.glob(f"{name}-{version}-*.whl")):
        platform_tags = path.stem.rsplit("-", 1)[-1].split(".")
        if tags & set(platform_tags):
            return path
    return None


def prepare_context(tmpdir: str | Path, *, machine: str | None = None, cache: Path | None = None) -> Path:
    """Fill ``tmpdir`` with a complete build context and return it."""
    context = Path(tmpdir)
    context.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(HERE / name, context / name)
    wheels = context / "wheels"
    wheels.mkdir(exist_ok=True)
    cache = cache or CACHE
    wheel = cached_wheel(cache, machine=machine)
    if wheel is None:
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(download_command(cache, machine=machine), capture_output=True, text=True, timeout=600)
        wheel = cached_wheel(cache, machine=machine)
        if wheel is None:
            raise RuntimeError(
                f"no {DISTRIBUTION} {wheel_version()} wheel for the stand-in image in {cache} and none could be "
                f"downloaded (pip exited {done.returncode}); run scripts/install-opa-golib.sh:\n"
                + (done.stderr or done.stdout)[-2000:]
            )
    shutil.copy2(wheel, wheels / wheel.name)
    return context


if __name__ == "__main__":
    print(prepare_context(sys.argv[1] if len(sys.argv) > 1 else "build/opa-standin"))
