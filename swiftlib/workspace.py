"""The project directory on the target host, where compose reads its files.

Locally it is the directory that holds manifest.yaml; on a remote host it is
``deploy.remote_dir`` there. Writes are atomic either way, and a file whose content
did not change is not rewritten (so ``ok`` really means nothing was touched).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from .fileio import atomic_write_text, read_text_or_none


class Workspace(Protocol):
    root: str

    def path(self, name: str) -> str: ...

    def read(self, name: str) -> str | None: ...

    def write(self, name: str, text: str) -> None: ...

    def remove(self, name: str) -> bool: ...


class LocalWorkspace:
    """A directory on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def read(self, name: str) -> str | None:
        return read_text_or_none(self.path(name))

    def write(self, name: str, text: str) -> None:
        target = Path(self.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)

    def remove(self, name: str) -> bool:
        try:
            os.remove(self.path(name))
            return True
        except FileNotFoundError:
            return False
