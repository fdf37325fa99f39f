"""System libraries that SwiftDeploy's Python dependencies load at run time.

pip installs Python code, not the shared libraries a wheel links against. regopy (the
embedded Rego engine) loads ``libatomic.so.1``, which a minimal Debian lacks, so a fresh
machine failed its first policy gate. Both the bootstrap step and the engine's error
message read the same table, so what is installed and what is advised never drift apart.
"""
from __future__ import annotations

import re

from ..host import Host
from .steps import Apt, Progress, Step, Timer, no_progress

# soname -> (Debian package that ships it, who loads it)
SYSTEM_LIBRARIES: dict[str, tuple[str, str]] = {
    "libatomic.so.1": ("libatomic1", "regopy (the embedded Rego engine)"),
}

_SONAME = re.compile(r"(lib[\w.+-]+\.so(?:\.\d+)*)")


def package_for(load_error: str) -> str | None:
    """The Debian package to install for a dlopen error message, when it names a library we know (pure)."""
    for soname in _SONAME.findall(load_error):
        if soname in SYSTEM_LIBRARIES:
            return SYSTEM_LIBRARIES[soname][0]
    return None


def ensure_system_libraries(host: Host, progress: Progress = no_progress, *, apt: Apt | None = None) -> Step:
    """Install the Debian packages of SYSTEM_LIBRARIES that are missing on ``host``."""
    timer = Timer()
    apt = apt or Apt(host, progress)
    packages = sorted({package for package, _ in SYSTEM_LIBRARIES.values()})
    installed = apt.install(packages)
    if not installed:
        return timer.step("system libraries", "ok", f"{', '.join(packages)} present")
    return timer.step("system libraries", "changed", f"installed {', '.join(installed)}")
