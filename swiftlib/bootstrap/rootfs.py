"""Debian images without a registry: debootstrap a root filesystem, cache it as a tarball, docker import it.

The tarball is kept under CACHE_DIR keyed by the recipe digest, so importing the same
recipe again (after `docker rmi`, or for a second tag) takes seconds instead of a debootstrap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    suite: str = "bookworm"

    @property
    def digest(self) -> str:
        return cmd.recipe_digest(
            suite=self.suite, packages=self.packages, changes=self.changes,
            labels=self.labels, tweaks=self.tweaks,
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
            "apt-get indextargets", 1, f"no apt source for {suite}", host=host.name,
            hint=f"add Debian {suite} to the host's apt sources (debootstrap uses the same mirror)",
        )
    return mirror


def build_tarball(host: Host, recipe: Recipe, progress: Progress, apt: Apt) -> str:
    """Path of the cached rootfs tarball for ``recipe`` on ``host``, debootstrapping it if missing."""
    tarball = f"{CACHE_DIR}/rootfs-{recipe.suite}-{recipe.digest}.tar"
    if host.succeeds(["test", "-s", tarball]):
        progress(f"using cached root filesystem {tarball}")
        return tarball
    require_root(host, "building a Debian image with debootstrap")
    apt.install(["debootstrap"])
    mirror = debian_mirror(host, recipe.suite)
    host.run(["mkdir", "-p", f"{CACHE_DIR}/debs"])
    root = host.run(["mktemp", "-d", f"{CACHE_DIR}/rootfs.XXXXXX"]).stdout.strip()
    try:
        progress(f"debootstrap {recipe.suite} with {', '.join(recipe.packages)} (about 40 s)")
        host.run(
            cmd.debootstrap_argv(root, mirror, recipe.packages, suite=recipe.suite,
                                 cache_dir=f"{CACHE_DIR}/debs"),
            timeout=1200,
            hint="debootstrap failed: check the mirror apt uses and the disk space under " + CACHE_DIR,
        )
        for argv in cmd.rootfs_slim_argvs(root):
            host.run(argv)
        for tweak in recipe.tweaks:
            host.run([part.replace("{root}", root) for part in tweak])
        host.run(cmd.tar_rootfs_argv(root, tarball + ".part"))
        host.run(["mv", tarball + ".part", tarball])
    finally:
        host.run(["rm", "-rf", root, tarball + ".part"], check=False)
    return tarball


def import_image(host: Host, name: str, recipe: Recipe, progress: Progress, apt: Apt) -> dict:
    """Build (or reuse the cached rootfs of) ``recipe`` and docker-import it as ``name``; return its inspect."""
    tarball = build_tarball(host, recipe, progress, apt)
    progress(f"docker import {name}")
    host.run(
        cmd.docker_import_argv(
            tarball, name, changes=recipe.changes, labels=recipe.all_labels(),
            message=f"swiftdeploy bootstrap: Debian {recipe.suite} minbase + {' '.join(recipe.packages)}",
        ),
        timeout=600,
    )
    return inspect_image(host, name) or {}


def inspect_image(host: Host, name: str) -> dict | None:
    """{"id", "size", "labels"} of a local image, or None when it is not there."""
    result = host.run(cmd.image_inspect_argv(name), check=False, timeout=30)
    return cmd.parse_image_inspect(result.stdout) if result.ok else None
