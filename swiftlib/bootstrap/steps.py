"""What a bootstrap step reports, and the apt helper the steps share (update once, install missing)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

from ..errors import ConfigError
from ..host import Host
from . import commands as cmd

Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """Default progress sink: say nothing."""


@dataclass(frozen=True)
class Step:
    """One bootstrap step's outcome: "ok" (already so, nothing done) or "changed"."""

    name: str
    status: Literal["ok", "changed"]
    message: str
    seconds: float


class Timer:
    """Seconds since construction, for Step.seconds."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def step(self, name: str, status: Literal["ok", "changed"], message: str) -> Step:
        return Step(name, status, message, round(time.monotonic() - self._start, 1))


def is_root(host: Host) -> bool:
    return host.run(["id", "-u"], check=False).stdout.strip() == "0"


def require_root(host: Host, what: str) -> None:
    """Refuse clearly when a step must install or start something and we are not root."""
    if not is_root(host):
        raise ConfigError(
            f"{what} needs root on host {host.name}: run the bootstrap as root "
            "(e.g. `sudo inv bootstrap`), or do it yourself and re-run.",
            host=host.name,
        )


def has_command(host: Host, name: str) -> bool:
    return host.shell(f"command -v {name} >/dev/null 2>&1", check=False).ok


class Apt:
    """apt-get on one host: `apt-get update` at most once per bootstrap, installs only what is missing."""

    def __init__(self, host: Host, progress: Progress = no_progress) -> None:
        self.host = host
        self.progress = progress
        self._updated = False

    def missing(self, packages: Iterable[str]) -> list[str]:
        out = []
        for package in packages:
            result = self.host.run(cmd.dpkg_installed_argv(package), check=False)
            if not (result.ok and cmd.is_installed_status(result.stdout)):
                out.append(package)
        return out

    def update(self) -> None:
        if not self._updated:
            self.progress("apt-get update")
            self.host.run(cmd.apt_update_argv(), env=cmd.APT_ENV, timeout=600)
            self._updated = True

    def install(self, packages: Iterable[str], *, release: str | None = None) -> list[str]:
        """Install the packages not yet installed; return the ones installed."""
        wanted = list(packages) if release else self.missing(packages)
        if not wanted:
            return []
        require_root(self.host, f"installing {', '.join(wanted)}")
        self.update()
        self.progress(f"apt-get install {' '.join(wanted)}" + (f" (from {release})" if release else ""))
        self.host.run(
            cmd.apt_install_argv(wanted, release=release),
            env=cmd.APT_ENV,
            timeout=900,
            hint="check the host's apt sources and network, then re-run the bootstrap",
        )
        return wanted
