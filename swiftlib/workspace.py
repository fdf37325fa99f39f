"""The project directory on the target host, where compose reads its files.

Locally it is the directory that holds manifest.yaml; on a remote host it is
``deploy.remote_dir`` there. Writes are atomic either way, and a file whose content
did not change is not rewritten (so ``ok`` really means nothing was touched).

Local reads go through ``fileio.read_text_or_none`` with ``within`` the project
directory: a generated file that is a directory, FIFO or device, is over
``READ_LIMIT``, is not UTF-8, or is a symlink leading out of the project is refused
(ConfigError, exit 2) rather than read, so ``--diff`` never shows another file's lines.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from .errors import UsageError
from .fileio import MIB, atomic_write_text, read_text_or_none

READ_LIMIT = 64 * MIB  # generated files and state; the scrape cache is the largest


class Workspace(Protocol):
    root: str

    def path(self, name: str) -> str: ...

    def read(self, name: str) -> str | None: ...

    def write(self, name: str, text: str) -> None: ...

    def remove(self, name: str) -> bool: ...

    def write_private(self, name: str, text: str, owner: int) -> None: ...


class LocalWorkspace:
    """A directory on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())

    def path(self, name: str) -> str:
        """``root/name``, refused unless it stays inside the project directory (see ``inside``).

        The last component is not followed: a write replaces a link there, a removal
        unlinks it, and a read checks its target itself (``read_text_or_none``'s ``within``).
        """
        return inside(self.root, name, follow=False)

    def read(self, name: str) -> str | None:
        return read_text_or_none(self.path(name), limit=READ_LIMIT, what="a project file", within=self.root)

    def write(self, name: str, text: str) -> None:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)

    def write_private(self, name: str, text: str, owner: int) -> None:
        """``text`` readable by ``owner`` alone: 0400 owned by it (as root), else 0444 in a 0700 directory
        (only this user reaches the file on the host; a container bind-mounting it reads it)."""
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(target.parent, 0o700)
        if os.geteuid() == 0:
            atomic_write_text(target, text, mode=0o400)
            os.chown(target, owner, owner)
        else:
            atomic_write_text(target, text, mode=0o444)

    def remove(self, name: str) -> bool:
        try:
            os.remove(self.path(name))
            return True
        except FileNotFoundError:
            return False


class Remembering:
    """A workspace that keeps what it read or wrote of ``names`` instead of reading them again.

    For a run that holds the deploy lock: no other run writes the project's files meanwhile, and on a
    remote host each read is an SSH round trip (a no-change deploy read the state file seven times).
    Everything else is passed through; an operation other than read, write and remove (an upload of
    a directory, a tree removed) forgets all that was kept, since it may have touched those files.
    Attributes (``root``) are passed through as they are.
    """

    def __init__(self, inner: Workspace, names: frozenset[str]) -> None:
        self._inner = inner
        self._names = names
        self._known: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"Remembering({self._inner!r})"

    def path(self, name: str) -> str:
        return self._inner.path(name)

    def read(self, name: str) -> str | None:
        if name in self._known:
            return self._known[name]
        text = self._inner.read(name)
        if name in self._names:
            self._known[name] = text
        return text

    def write(self, name: str, text: str) -> None:
        self._known.pop(name, None)  # a write that fails leaves the file unknown, read again next time
        self._inner.write(name, text)
        if name in self._names:
            self._known[name] = text

    def remove(self, name: str) -> bool:
        self._known.pop(name, None)
        removed = self._inner.remove(name)
        if name in self._names:
            self._known[name] = None
        return removed

    def write_private(self, name: str, text: str, owner: int) -> None:
        self._known.pop(name, None)
        self._inner.write_private(name, text, owner)

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        value = getattr(self._inner, attr)
        if callable(value):  # an operation this class does not know (sync_dir, remove_tree, ...)
            self._known.clear()
        return value


def inside(root: str, name: str, *, follow: bool = True) -> str:
    """``name`` joined to ``root`` (resolved); UsageError (exit 2) unless strictly inside it.

    Checked lexically (an absolute ``name``, ``..``) and again with the symbolic links
    on the way resolved (``os.path.realpath``; missing parts are kept as written), so a
    link planted in the project cannot make SwiftDeploy write, read, remove or mount
    something elsewhere. ``follow=False`` resolves only the directories leading to the
    last component, for callers that act on that entry itself (an atomic rename replaces
    a link, ``unlink`` removes it). ``root`` itself is refused too: nothing SwiftDeploy
    handles is the project directory. A check, not a sandbox: a process that swaps
    directories of the path between this check and the action can still race it.
    """
    root = os.path.realpath(root)  # a project path that itself runs through a link is fine
    prefix = root.rstrip(os.sep) + os.sep
    full = os.path.normpath(os.path.join(root, name))
    if not full.startswith(prefix):
        raise UsageError(f"{name!r} is outside the project directory {root}")
    if follow:
        real = os.path.realpath(full)
    else:
        real = os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))
    if not real.startswith(prefix):
        raise UsageError(f"{name!r} resolves to {real}, which is not inside the project directory {root} "
                         "(a symbolic link leads there); SwiftDeploy only handles files inside it")
    return full
