"""Debian images without a registry: debootstrap a root filesystem, cache it as a tarball, docker import it.

One plain minbase debootstrap per suite is cached; each recipe unpacks it, installs its
packages with apt in a chroot, and is cached as a tarball keyed by the recipe digest, so
importing it again (after `docker rmi`, or for a second tag) takes seconds.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..errors import CommandFailed
from ..host import Host
from . import commands as cmd
from .steps import Apt, Progress, require_root

CACHE_DIR = "/var/cache/swiftdeploy"
RECIPE_LABEL = "org.swiftdeploy.recipe"
BUILT_FROM_LABEL = "org.swiftdeploy.built-from"


@dataclass(frozen=True)
class Recipe:
    """What goes into a debootstrapped image; its digest names the cached tarball and labels the image."""

    packages: tuple[str, ...]
    changes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    # Extra argv run against the root filesystem before packing; "{root}" is replaced by its path.
    tweaks: tuple[tuple[str, ...], ...] = field(default=())
    # Dockerfile lines `docker import --change` refuses (STOPSIGNAL, HEALTHCHECK): applied by a
    # metadata-only `docker build` on top of the imported image.
    dockerfile_lines: tuple[str, ...] = ()
    suite: str = "bookworm"

    @property
    def digest(self) -> str:
        return cmd.recipe_digest(
            suite=self.suite, packages=self.packages, changes=self.changes,
            labels=self.labels, tweaks=self.tweaks, dockerfile_lines=self.dockerfile_lines,
        )

    def all_labels(self) -> dict[str, str]:
        built = f"debootstrap --variant=minbase {self.suite} + {' '.join(self.packages)} (Debian packages)"
        return {**dict(self.labels), RECIPE_LABEL: self.digest, BUILT_FROM_LABEL: built}


def debian_mirror(host: Host, suite: str) -> str:
    """The Debian mirror this host's apt already uses for ``suite`` (never hard-coded)."""
    targets = host.run(["apt-get", "indextargets", "--format", cmd.INDEXTARGETS_FORMAT]).stdout
    mirror = cmd.pick_debian_mirror(targets, suite)
    if not mirror:
        raise CommandFailed(
            "apt-get indextargets", None, f"no apt source for {suite}", host=host.name,
            hint=f"add Debian {suite} to the host's apt sources (debootstrap uses the same mirror)",
        )
    return mirror


def minbase_tarball(host: Host, suite: str, progress: Progress, apt: Apt) -> str:
    """The cached plain `debootstrap --variant=minbase` root of ``suite`` (every recipe starts from it)."""
    tarball = f"{CACHE_DIR}/minbase-{suite}.tar"
    if host.succeeds(["test", "-s", tarball]):
        return tarball
    require_root(host, "building a Debian image with debootstrap")
    apt.install(["debootstrap"])
    mirror = debian_mirror(host, suite)
    with _scratch_dir(host) as root:
        progress(f"debootstrap --variant=minbase {suite} (about 40 s)")
        host.run(
            cmd.debootstrap_argv(root, mirror, suite=suite),
            timeout=1200,
            hint="debootstrap failed: check the mirror apt uses and the disk space under " + CACHE_DIR,
        )
        _pack(host, root, tarball)
    return tarball


def build_tarball(host: Host, recipe: Recipe, progress: Progress, apt: Apt) -> str:
    """Path of the cached rootfs tarball for ``recipe`` on ``host``, building it if missing.

    minbase (cached) + apt-get install in a chroot: apt resolves dependencies in a second
    where debootstrap --include takes half a minute, and both images share one debootstrap.
    """
    tarball = f"{CACHE_DIR}/rootfs-{recipe.suite}-{recipe.digest}.tar"
    if host.succeeds(["test", "-s", tarball]):
        progress(f"using cached root filesystem {tarball}")
        return tarball
    base = minbase_tarball(host, recipe.suite, progress, apt)
    with _scratch_dir(host) as root:
        host.run(cmd.untar_argv(base, root))
        host.run(["tee", f"{root}/usr/sbin/policy-rc.d"], stdin=cmd.POLICY_RC_D)
        host.run(["chmod", "0755", f"{root}/usr/sbin/policy-rc.d"])
        progress(f"apt-get install {' '.join(recipe.packages)} into the image")
        install = cmd.chroot_apt_install_argv(root, recipe.packages)
        if not host.run(install, check=False, timeout=1200).ok:
            # The cached minbase's package lists may be stale: refresh them once and retry.
            host.run(["chroot", root, "apt-get", "update", "-q"], timeout=600)
            host.run(install, timeout=1200, hint=f"could not install {' '.join(recipe.packages)} from Debian")
        for tweak in recipe.tweaks:
            host.run([part.replace("{root}", root) for part in tweak])
        for argv in cmd.rootfs_slim_argvs(root):
            host.run(argv)
        _pack(host, root, tarball)
    return tarball


@contextmanager
def _scratch_dir(host: Host) -> Iterator[str]:
    host.run(["mkdir", "-p", CACHE_DIR])
    root = host.run(["mktemp", "-d", f"{CACHE_DIR}/rootfs.XXXXXX"]).stdout.strip()
    try:
        yield root
    finally:
        host.run(["rm", "-rf", root], check=False, timeout=300)


def _pack(host: Host, root: str, tarball: str) -> None:
    """Tar ``root`` into ``tarball`` atomically (a half-written cache entry is never used). The part file
    is named after the scratch directory, unique per run: two bootstraps building the same recipe at
    once each write their own and the last rename wins, instead of one moving the other's half-written file."""
    part = root.rstrip("/") + ".tar.part"
    try:
        host.run(cmd.tar_rootfs_argv(root, part), timeout=600)
        host.run(["mv", part, tarball])
    finally:
        host.run(["rm", "-f", part], check=False)


def import_image(host: Host, name: str, recipe: Recipe, progress: Progress, apt: Apt) -> dict:
    """Build (or reuse the cached rootfs of) ``recipe`` and docker-import it as ``name``; return its inspect."""
    tarball = build_tarball(host, recipe, progress, apt)
    previous = inspect_image(host, name)
    progress(f"docker import {name}")
    host.run(
        cmd.docker_import_argv(
            tarball, name, changes=recipe.changes, labels=recipe.all_labels(),
            message=f"swiftdeploy bootstrap: Debian {recipe.suite} minbase + {' '.join(recipe.packages)}",
        ),
        timeout=600,
    )
    if recipe.dockerfile_lines:
        host.run(cmd.docker_build_stdin_argv(name), stdin=cmd.dockerfile_on(name, recipe.dockerfile_lines),
                 timeout=300)
    current = inspect_image(host, name) or {}
    drop_replaced(host, previous, current)
    return current


def drop_replaced(host: Host, previous: dict | None, current: dict | None) -> None:
    """Remove the image a rebuild untagged, so rebuilds do not pile up (kept if still in use)."""
    if previous and current and previous["id"] != current["id"]:
        host.run(cmd.image_remove_argv(previous["id"]), check=False, timeout=120)


def inspect_image(host: Host, name: str) -> dict | None:
    """{"id", "size", "labels"} of a local image, or None when it is not there."""
    result = host.run(cmd.image_inspect_argv(name), check=False, timeout=30)
    return cmd.parse_image_inspect(result.stdout) if result.ok else None
