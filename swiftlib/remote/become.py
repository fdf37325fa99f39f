"""Root on a remote host for `inv bootstrap --hosts`: the login itself, or passwordless sudo.

    root = as_root(host)   # Root(host=..., login="deploy", via="sudo")

decides once, where the host is opened, how its commands run as root: unchanged when the
login is root, else each command line through ``sudo -n`` (``host.wrapped(sudo_wrap)``), so
no step asks "remote? root?" itself. A login that is neither root nor allowed passwordless
sudo is refused before anything is changed, naming the host, the login and what is missing
(a ConfigError, exit 2: the login given for that host cannot do the job).

``sudo -n`` never prompts: a sudo rule that wants a password fails at once instead of hanging
the run. sudo resets the environment, so the variables a command needs are passed inside it
(``sudo -n -- env K=V sh -c LINE``), not by SSH.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal, Mapping

from ..errors import ConfigError
from ..host import Host

SUDO = ("sudo", "-n", "--")


def sudo_wrap(command: str, env: Mapping[str, str] | None = None) -> str:
    """``command`` (a shell line) run as root by ``sudo -n``, with ``env`` set inside sudo (pure)."""
    assignments = [f"{key}={value}" for key, value in sorted((env or {}).items())]
    return shlex.join([*SUDO, *(["env", *assignments] if assignments else []), "sh", "-c", command])


def missing_root(host: str, login: str, *, has_sudo: bool, sudo_said: str) -> str:
    """What is missing for root on ``host``, and what to do about it (pure)."""
    if not has_sudo:
        why = "sudo is not installed there"
    else:
        said = " ".join(sudo_said.split()) or "refused"
        why = f"it may not use sudo without a password (`sudo -n true`: {said})"
    return (f"bootstrap needs root on {host}: the login {login!r} is not root and {why}; "
            f"log in as root (root@ in --hosts, or ansible_user=root), or give {login!r} passwordless sudo "
            f"(e.g. `{login} ALL=(ALL) NOPASSWD: ALL` in /etc/sudoers.d/{login}), then re-run")


@dataclass(frozen=True)
class Root:
    """``host`` runs every command as root; ``login`` is the SSH user, ``via`` how root is had."""

    host: Host
    login: str
    via: Literal["login", "sudo"]

    def describe(self) -> str:
        return "logged in as root" if self.via == "login" else f"{self.login} with passwordless sudo (sudo -n)"


def as_root(host: Host) -> Root:
    """``host`` as root, or ConfigError naming the host and what is missing (nothing is changed)."""
    found = host.shell("id -u; id -un", check=False, timeout=30)
    uid, _, login = found.stdout.strip().partition("\n")
    login = login.strip() or "?"
    if found.ok and uid.strip() == "0":
        return Root(host, login, "login")
    has_sudo = host.shell("command -v sudo >/dev/null 2>&1", check=False, timeout=30).ok
    if has_sudo:
        probe = host.run(["sudo", "-n", "true"], check=False, timeout=30)
        if probe.ok:
            return Root(host.wrapped(sudo_wrap), login, "sudo")
        said = probe.stderr or probe.stdout
    else:
        said = ""
    raise ConfigError(missing_root(host.name, login, has_sudo=has_sudo, sudo_said=said), host=host.name)
