"""Make a host run a Docker engine and have `docker compose` v2 (installing from Debian when missing)."""
from __future__ import annotations

import time

from ..commands import docker_info
from ..errors import CommandFailed, ConfigError
from ..host import Host
from . import commands as cmd
from .steps import Apt, Progress, Step, Timer, has_command, is_root, no_progress, require_root

DOCKERD_LOG = "/var/log/swiftdeploy-dockerd.log"
DOCKER_WAIT_SECONDS = 60.0


def server_version(host: Host) -> str | None:
    """The engine's version when `docker info` answers, else None."""
    result = host.run(docker_info(), check=False, timeout=30)
    version = result.stdout.strip() if result.ok else ""
    return version or None


def ensure_docker_engine(host: Host, progress: Progress = no_progress, *, apt: Apt | None = None) -> Step:
    """A Docker engine answers `docker info` on ``host``: install docker.io and start dockerd if needed.

    Raises ConfigError when it must act but is not root, CommandFailed when dockerd dies
    or does not answer within DOCKER_WAIT_SECONDS (with the tail of its log).
    """
    timer = Timer()
    version = server_version(host)
    if version:
        return timer.step("docker engine", "ok", f"Docker engine {version} is running")
    running = host.succeeds(["pgrep", "-x", "dockerd"])
    if running and not is_root(host):
        raise ConfigError(
            f"dockerd runs on {host.name} but `docker info` fails for this user: add the user to "
            "the docker group (then log in again) or run the bootstrap as root.",
            host=host.name,
        )
    require_root(host, "installing and starting the Docker engine")
    apt = apt or Apt(host, progress)
    done: list[str] = []
    if not (has_command(host, "dockerd") and has_command(host, "docker")):
        # procps: pgrep, which the waiting below uses (a server has it; a minimal image may not).
        done.append(f"installed {' '.join(apt.install(['docker.io', 'iptables', 'procps']))}")
        running = host.succeeds(["pgrep", "-x", "dockerd"])  # the package's scripts may have started it
    systemd = host.succeeds(cmd.SYSTEMD_PROBE)
    how = cmd.engine_start(systemd=systemd, running=running)
    if how == "systemd":
        progress(f"systemctl enable --now {cmd.DOCKER_UNIT} (systemd runs the engine)")
        host.run(cmd.systemctl_enable_now_argv(), timeout=120,
                 hint=f"see `journalctl -u {cmd.DOCKER_UNIT}` on {host.name}")
        done.append(f"enabled and started {cmd.DOCKER_UNIT}")
    elif how == "wait":
        progress("dockerd is already starting; waiting for it")
    else:
        progress(f"starting dockerd (log: {DOCKERD_LOG})")
        host.shell(cmd.dockerd_start_cmdline(DOCKERD_LOG), timeout=30)
        done.append("started dockerd")
    deadline = time.monotonic() + DOCKER_WAIT_SECONDS
    while not (version := server_version(host)):
        # Under systemd a restart may briefly leave no dockerd: only the deadline ends the wait there.
        gone = not systemd and not host.succeeds(["pgrep", "-x", "dockerd"])
        if gone or time.monotonic() > deadline:
            log_argv, where = ((cmd.journal_tail_argv(), f"`journalctl -u {cmd.DOCKER_UNIT}`") if systemd
                               else (cmd.tail_argv(DOCKERD_LOG), DOCKERD_LOG))
            log = host.run(log_argv, check=False).stdout
            why = "dockerd exited" if gone else f"dockerd did not answer within {DOCKER_WAIT_SECONDS:.0f}s"
            raise CommandFailed("dockerd", None, log or "(empty log)", host=host.name,
                                hint=f"{why}; see {where} on {host.name}")
        time.sleep(1)
    return timer.step("docker engine", "changed", f"{', '.join(done)}; Docker engine {version} answers")


def ensure_docker_group(host: Host, login: str, progress: Progress = no_progress) -> Step:
    """``login`` is in the docker group on ``host``, so it deploys over SSH without sudo (root: nothing to do).

    Membership of the docker group is root on that host, as the passwordless sudo that
    bootstrapped it already is; it takes effect at the login's next session.
    """
    timer = Timer()
    if login == "root":
        return timer.step("docker access", "ok", "root uses the engine directly")
    if cmd.in_group(host.run(cmd.groups_argv(login)).stdout, "docker"):
        return timer.step("docker access", "ok", f"{login} is in the docker group")
    require_root(host, f"adding {login} to the docker group")
    progress(f"usermod -aG docker {login}")
    host.run(cmd.add_to_group_argv(login, "docker"))
    return timer.step("docker access", "changed", f"added {login} to the docker group (from its next login on)")


def compose_version(host: Host) -> tuple[int, int, int] | None:
    result = host.run(cmd.compose_version_argv(), check=False, timeout=30)
    return cmd.parse_compose_version(result.stdout) if result.ok else None


def _is_v2(version: tuple[int, int, int] | None) -> bool:
    return version is not None and version[0] >= 2


def _link_debian_plugin(host: Host) -> bool:
    """Make the docker CLI find Debian's plugin (a CLI outside /usr/bin may not search there)."""
    if not host.succeeds(["test", "-x", cmd.DEBIAN_COMPOSE_PLUGIN]):
        return False
    for argv in cmd.link_plugin_argv():
        host.run(argv)
    return True


def _add_trixie_source(host: Host, apt: Apt) -> str:
    """Write the pinned trixie source (mirror read from apt's own config); return the sources path."""
    indextargets = ["apt-get", "indextargets", "--format", cmd.INDEXTARGETS_FORMAT]
    mirror = cmd.pick_debian_mirror(host.run(indextargets).stdout, "bookworm")
    if not mirror:  # apt lists only the index targets it has downloaded: none yet on a fresh host
        apt.update()
        mirror = cmd.pick_debian_mirror(host.run(indextargets).stdout, "bookworm")
    if not mirror:
        raise CommandFailed(
            "apt-get indextargets", None, "no apt source for bookworm found", host=host.name,
            hint="add the Debian bookworm main repository to the apt sources, then re-run",
        )
    host.run(["tee", cmd.TRIXIE_PIN], stdin=cmd.trixie_pin_text())
    host.run(["tee", cmd.TRIXIE_SOURCES], stdin=cmd.trixie_sources_text(mirror))
    return cmd.TRIXIE_SOURCES


def ensure_compose_v2(host: Host, progress: Progress = no_progress, *, apt: Apt | None = None) -> Step:
    """`docker compose version` reports 2.x: install Debian's docker-compose (from trixie on bookworm)."""
    timer = Timer()
    found = compose_version(host)
    if found and _is_v2(found):
        return timer.step("compose v2", "ok", f"docker compose {'.'.join(map(str, found))}")
    require_root(host, "installing docker compose v2")
    done = []
    if not _link_debian_plugin(host) or not _is_v2(compose_version(host)):
        apt = apt or Apt(host, progress)
        codename = cmd.parse_os_codename(host.run(["cat", "/etc/os-release"]).stdout)
        release = None
        if codename == "bookworm":
            sources = _add_trixie_source(host, apt)
            progress("apt-get update (trixie source only)")
            host.run(cmd.apt_update_argv(only_sources_file=sources), env=cmd.APT_ENV, timeout=600)
            release = "trixie"
            done.append("added pinned trixie apt source")
        apt.install(["docker-compose"], release=release)
        done.append("installed docker-compose" + (f" from {release}" if release else ""))
        if not _is_v2(compose_version(host)) and _link_debian_plugin(host):
            done.append(f"linked the plugin into {cmd.LOCAL_PLUGIN_DIR}")
    else:
        done.append(f"linked {cmd.DEBIAN_COMPOSE_PLUGIN} into {cmd.LOCAL_PLUGIN_DIR}")
    found = compose_version(host)
    if not found or not _is_v2(found):
        raise CommandFailed(
            "docker compose version", None, f"found {found or 'no compose plugin'}", host=host.name,
            hint="install docker compose v2 by hand (Debian's docker-compose >= 2 or Docker's plugin)",
        )
    return timer.step("compose v2", "changed", f"{'; '.join(done)}; docker compose {'.'.join(map(str, found))}")
