"""Getting the app image onto a Docker host without a registry.

``ensure_image(local, remote, image)`` compares the image ID on both engines
(``docker image inspect``); when the remote lacks the image or has another build
under the same tag, it streams ``docker save IMAGE`` from the local engine straight
into ``docker load`` on the remote over the SSH connection: no registry, no temp
file on either disk. ``docker save``/``load`` keep the image ID, so a second call
answers ``ok`` without sending anything, and a remote that holds the same image ID under another tag
is given the tag instead of the bytes.
"""
from __future__ import annotations

import shlex
import time
from typing import Callable, Sequence

from .. import commands
from ..errors import CommandFailed
from ..host import Host
from .channel import open_output, run_bytes

Progress = Callable[[int, float], None]  # (bytes sent so far, seconds since the start)
_PROGRESS_EVERY = 1.0  # seconds between progress calls


def image_id(host: Host, image: str) -> str | None:
    """The engine's ID for ``image`` on ``host``, or None when it has no such image."""
    result = host.run(commands.image_exists(image), check=False)
    if not result.ok:
        return None
    return result.stdout.strip() or None


def image_ids(host: Host, images: Sequence[str]) -> dict[str, str | None]:
    """Each image's ID on ``host`` (None: it has no such image), in one round trip."""
    if not images:
        return {}
    lines = host.run(commands.image_ids_each(images), check=False).stdout.split()
    return {image: (found if found.startswith("sha256:") else None)
            for image, found in zip(images, lines + ["-"] * (len(images) - len(lines)))}


def ensure_image(local: Host, remote: Host, image: str, progress: Progress | None = None) -> str:
    """Make ``remote``'s engine hold the same ``image`` as ``local``'s: "ok", "tagged" (it had the image ID)
    or "changed" (streamed).

    ``progress(bytes, seconds)`` is called about once a second during a transfer and
    once at its end (with the totals). Raises CommandFailed when the local engine
    lacks the image or either side of the stream fails.
    """
    wanted = image_id(local, image)
    if wanted is None:
        raise CommandFailed(f"docker image inspect {image}", 1, f"no image {image} on this machine",
                            host=local.name, hint="build it first (inv build), or fix services.image")
    if image_id(remote, image) == wanted:
        return "ok"
    if image_id(remote, wanted) == wanted:  # the same build under another tag there: a tag, not a transfer
        remote.run(["docker", "tag", wanted, image], timeout=60)
        return "tagged"
    sent = stream_image(local, remote, image, progress)
    if image_id(remote, image) != wanted:
        raise CommandFailed(f"docker load ({image})", None, f"after loading {sent} bytes the image ID still differs",
                            host=remote.name)
    return "changed"


def stream_image(local: Host, remote: Host, image: str, progress: Progress | None = None) -> int:
    """Pipe ``docker save`` on ``local`` into ``docker load`` on ``remote``; return bytes sent."""
    start = time.monotonic()
    total = 0
    last_report = start
    source = open_output(local, shlex.join(commands.image_save(image)))

    def chunks():
        nonlocal total, last_report
        while True:
            data = source.read()
            if not data:
                return
            yield data
            total += len(data)
            now = time.monotonic()
            if progress and now - last_report >= _PROGRESS_EVERY:
                progress(total, now - start)
                last_report = now

    try:
        loaded = run_bytes(remote, shlex.join(commands.image_load()), chunks())
    finally:
        saved, save_err = source.finish()
    # Blame the side that failed first: a save that ended early starves load, and a load
    # that died early breaks save's pipe.
    if saved != 0 and (source.at_eof or loaded.exited == 0):
        raise CommandFailed(f"docker save {image}", saved, save_err.decode(errors="replace"), host=local.name)
    if loaded.exited != 0:
        raise CommandFailed(f"docker load ({image})", loaded.exited, loaded.stderr.decode(errors="replace"),
                            host=remote.name, hint="check the remote Docker engine and its free disk space")
    if progress:
        progress(total, time.monotonic() - start)
    return total
