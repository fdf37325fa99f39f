"""Pure builders and parsers for bootstrapping a Docker host: argv lists, file texts, digests.

Nothing here runs a command or touches a file; ``engine.py`` and ``images.py`` hand
what these return to ``Host``. Shell lines are quoted with ``shlex.join`` only.
"""
from __future__ import annotations

import hashlib
import json
import re
import shlex
from typing import Iterable, Literal, Mapping, Sequence

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# Format for `apt-get indextargets`: one "release repo-uri" line per index file.
INDEXTARGETS_FORMAT = "$(RELEASE) $(REPO_URI)"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
TRIXIE_SOURCES = "/etc/apt/sources.list.d/swiftdeploy-trixie.sources"
TRIXIE_PIN = "/etc/apt/preferences.d/swiftdeploy-trixie"
# Where Debian's docker-compose puts the CLI plugin, and a dir every docker CLI searches.
DEBIAN_COMPOSE_PLUGIN = "/usr/libexec/docker/cli-plugins/docker-compose"
LOCAL_PLUGIN_DIR = "/usr/local/lib/docker/cli-plugins"
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# -- apt -------------------------------------------------------------------
def apt_update_argv(*, only_sources_file: str | None = None) -> list[str]:
    """`apt-get update`, optionally refreshing one sources file only (fast after adding it)."""
    argv = ["apt-get", "update", "-q"]
    if only_sources_file:
        argv += [
            "-o", f"Dir::Etc::sourcelist={only_sources_file}",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", "APT::Get::List-Cleanup=0",
        ]
    return argv


def apt_install_argv(packages: Iterable[str], *, release: str | None = None) -> list[str]:
    """Install packages without recommends; ``release`` picks ``pkg/release`` for each one."""
    names = [f"{p}/{release}" if release else p for p in packages]
    if not names:
        raise ValueError("apt_install_argv: no packages given")
    return ["apt-get", "install", "-y", "-q", "--no-install-recommends", *names]


def dpkg_installed_argv(package: str) -> list[str]:
    return ["dpkg-query", "-W", "-f=${Status}", package]


def is_installed_status(status_text: str) -> bool:
    """True for dpkg-query's "install ok installed"."""
    return status_text.strip().endswith(" installed") and "not-installed" not in status_text


def parse_os_codename(os_release: str) -> str:
    """VERSION_CODENAME from /etc/os-release text ("" when absent)."""
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "VERSION_CODENAME":
            return value.strip().strip('"').strip("'")
    return ""


def pick_debian_mirror(indextargets: str, codename: str) -> str | None:
    """The repository URI apt uses for ``codename`` (from INDEXTARGETS_FORMAT output)."""
    for line in indextargets.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == codename:
            return parts[1]
    return None


def trixie_sources_text(mirror_uri: str) -> str:
    """A deb822 sources entry for Debian trixie on the mirror the host already uses."""
    if not re.match(r"^(https?|file)://\S+$", mirror_uri):
        raise ValueError(f"not a mirror URI: {mirror_uri!r}")
    return (
        "# Added by swiftdeploy bootstrap: only for docker-compose v2 (pinned low, see preferences.d).\n"
        "Types: deb\n"
        f"URIs: {mirror_uri}\n"
        "Suites: trixie\n"
        "Components: main\n"
        f"Signed-By: {DEBIAN_KEYRING}\n"
    )


def trixie_pin_text(priority: int = 100) -> str:
    """Pin trixie below bookworm (500) so nothing upgrades from it unless asked by name."""
    if not 1 <= priority <= 100:
        raise ValueError("trixie pin priority must be 1-100 so it never wins over the release")
    return (
        "# Added by swiftdeploy bootstrap: never take packages from trixie unless asked by name.\n"
        "Package: *\n"
        "Pin: release n=trixie\n"
        f"Pin-Priority: {priority}\n"
    )


# -- docker engine and compose --------------------------------------------
def dockerd_start_cmdline(log_path: str) -> str:
    """Start dockerd in its own session with every fd redirected, so the caller returns at once."""
    return f"{shlex.join(['setsid', '-f', 'dockerd'])} >>{shlex.quote(log_path)} 2>&1 </dev/null"


def tail_argv(path: str, lines: int = 20) -> list[str]:
    return ["tail", "-n", str(lines), path]


# sd_booted(3): systemd is the running init exactly when this directory exists.
SYSTEMD_PROBE = ["test", "-d", "/run/systemd/system"]
DOCKER_UNIT = "docker.service"
EngineStart = Literal["systemd", "wait", "spawn"]


def engine_start(*, systemd: bool, running: bool) -> EngineStart:
    """How to get a dockerd that answers: systemd's unit on a server that boots with systemd (enabled,
    so it comes back after a reboot), wait for one already starting, else start one in the background
    (a container, or a host without systemd)."""
    if systemd:
        return "systemd"
    return "wait" if running else "spawn"


def systemctl_enable_now_argv(unit: str = DOCKER_UNIT) -> list[str]:
    return ["systemctl", "enable", "--now", unit]


def groups_argv(login: str) -> list[str]:
    return ["id", "-nG", "--", login]


def in_group(groups_text: str, group: str) -> bool:
    """True when `id -nG` output names ``group``."""
    return group in groups_text.split()


def add_to_group_argv(login: str, group: str) -> list[str]:
    return ["usermod", "-aG", group, "--", login]


def journal_tail_argv(unit: str = DOCKER_UNIT, lines: int = 20) -> list[str]:
    return ["journalctl", "--no-pager", "-n", str(lines), "-u", unit]


_COMPOSE_VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)(?:\.(\d+))?", re.IGNORECASE)


def parse_compose_version(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from `docker compose version` / `docker-compose version` output."""
    match = _COMPOSE_VERSION.search(text)
    if not match:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def link_plugin_argv(source: str = DEBIAN_COMPOSE_PLUGIN, plugin_dir: str = LOCAL_PLUGIN_DIR) -> list[list[str]]:
    return [["mkdir", "-p", plugin_dir], ["ln", "-sf", source, f"{plugin_dir}/docker-compose"]]


# -- images -----------------------------------------------------------------
def debootstrap_argv(
    target: str,
    mirror: str,
    packages: Sequence[str] = (),
    *,
    suite: str = "bookworm",
    variant: str = "minbase",
    cache_dir: str | None = None,
) -> list[str]:
    argv = ["debootstrap", f"--variant={variant}"]
    if packages:
        argv.append("--include=" + ",".join(packages))
    if cache_dir:
        argv.append(f"--cache-dir={cache_dir}")
    return [*argv, suite, target, mirror]


def untar_argv(tarball: str, target: str) -> list[str]:
    return ["tar", "--numeric-owner", "-C", target, "-xf", tarball]


# Debian images carry this too: packages installed in a build must not start services.
POLICY_RC_D = "#!/bin/sh\n# installed by swiftdeploy bootstrap: never start services while building an image\nexit 101\n"


def chroot_apt_install_argv(root: str, packages: Sequence[str]) -> list[str]:
    """apt-get install inside a debootstrapped root (its apt lists come from debootstrap)."""
    return [
        "chroot", root, "env", "DEBIAN_FRONTEND=noninteractive", f"PATH={STANDARD_PATH}",
        "apt-get", "install", "-y", "-q", "--no-install-recommends",
        "-o", "Dpkg::Options::=--force-unsafe-io", *packages,
    ]


def rootfs_slim_argvs(rootfs: str) -> list[list[str]]:
    """Drop what a container never needs: apt indexes and .debs, docs, man pages, translations."""
    root = rootfs.rstrip("/")
    return [
        ["find", f"{root}/var/lib/apt/lists", f"{root}/var/cache/apt", "-type", "f", "-delete"],
        ["rm", "-rf", f"{root}/usr/share/doc", f"{root}/usr/share/man", f"{root}/usr/share/info",
         f"{root}/usr/share/locale"],
        ["mkdir", "-p", f"{root}/usr/share/doc", f"{root}/usr/share/man", f"{root}/usr/share/locale"],
    ]


def tar_rootfs_argv(rootfs: str, tarball: str) -> list[str]:
    return ["tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."]


def docker_import_argv(
    tarball: str,
    name: str,
    *,
    changes: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    message: str = "",
) -> list[str]:
    """`docker import` with Dockerfile-style --change lines (labels become LABEL changes)."""
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    for key, value in sorted((labels or {}).items()):
        argv += ["--change", f"LABEL {key}={json.dumps(value)}"]
    if message:
        argv += ["--message", message]
    return [*argv, tarball, name]


def dockerfile_on(image: str, lines: Sequence[str]) -> str:
    """A Dockerfile adding metadata ``lines`` on top of ``image`` (built from stdin, no context)."""
    return "".join(f"{line}\n" for line in [f"FROM {image}", *lines])


def docker_build_argv(
    name: str,
    context_dir: str,
    *,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    argv = ["docker", "build", "--pull=false", "-t", name]
    for key, value in sorted((build_args or {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    return [*argv, context_dir]


def docker_pull_argv(name: str) -> list[str]:
    return ["docker", "pull", "-q", name]


def docker_build_stdin_argv(name: str) -> list[str]:
    """`docker build` of a Dockerfile given on stdin (no context: the lines only use the base image)."""
    return ["docker", "build", "-q", "-t", name, "-"]


def image_remove_argv(image_id: str) -> list[str]:
    """Refused by the engine while a container uses the image, which is what a rebuild wants."""
    return ["docker", "image", "rm", image_id]


def compose_version_argv() -> list[str]:
    return ["docker", "compose", "version"]


def image_inspect_argv(name: str) -> list[str]:
    """One JSON document with the image's Id, Size and labels (exit 1 when absent)."""
    return ["docker", "image", "inspect", "--format",
            '{"id": {{json .Id}}, "size": {{json .Size}}, "labels": {{json .Config.Labels}}}', name]


def parse_image_inspect(text: str) -> dict:
    """{"id", "size", "labels"} from image_inspect_argv output (labels never None)."""
    data = json.loads(text)
    data["labels"] = data.get("labels") or {}
    return data


def tree_digest_cmdline(directory: str) -> str:
    """Shell line printing one sha256 over every file's path and content under ``directory``."""
    find = shlex.join(["find", ".", "-type", "f", "!", "-name", "*.pyc", "!", "-path", "*/__pycache__/*",
                       "!", "-path", "./.pytest_cache/*", "-print0"])
    return (
        f"cd {shlex.quote(directory)} && {find} | LC_ALL=C sort -z "
        "| xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1"
    )


def recipe_digest(**parts: object) -> str:
    """A short stable digest of what an image is made from (its cache key and label)."""
    blob = json.dumps(parts, sort_keys=True, default=list).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def human_size(size: int) -> str:
    return f"{size / 1_000_000:.0f} MB"
