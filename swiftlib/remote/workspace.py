"""The project directory on a remote host, behind the same Workspace protocol as locally.

Each operation is one command over the connection: ``write`` streams the text into
a temp file next to the target and ``mv -f``s it over (atomic for readers, parents
created); ``read`` returns None for a missing file; ``sync_dir`` hashes the remote
copy of a directory in one ``sha256sum`` and uploads only what differs, removing
files that are gone locally (a deleted policy must not stay in force remotely).
"""
from __future__ import annotations

import hashlib
import posixpath
import secrets
import shlex
from pathlib import Path

from ..errors import CommandFailed, UsageError
from ..host import Host
from .channel import run_bytes

_MISSING = 3  # exit code our read script uses for "no such file"


def _q(*parts: str) -> str:
    return shlex.join(parts)


class RemoteWorkspace:
    """``root`` relative (``swiftdeploy``) or ``~/x`` resolves against the login's home."""

    def __init__(self, host: Host, root: str) -> None:
        self.host = host
        if root.startswith("~/") or root == "~":
            root = root[2:]
        if not posixpath.isabs(root):
            home = host.run(["sh", "-c", 'printf %s "$HOME"']).stdout.strip()
            if not home.startswith("/"):
                raise CommandFailed("printf %s $HOME", 1, f"login has no absolute $HOME: {home!r}", host=host.name)
            root = posixpath.join(home, root)
        self.root = posixpath.normpath(root)

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.host.name!r}, {self.root!r})"

    def path(self, name: str) -> str:
        full = posixpath.normpath(posixpath.join(self.root, name))
        if full != self.root and not full.startswith(self.root + "/"):
            raise UsageError(f"{name!r} is outside the project directory {self.root}")
        return full

    def read(self, name: str) -> str | None:
        path = self.path(name)
        script = f"[ -e {shlex.quote(path)} ] || exit {_MISSING}; cat -- {shlex.quote(path)}"
        result = run_bytes(self.host, script)
        if result.exited == _MISSING:
            return None
        if result.exited != 0:
            raise CommandFailed(f"cat {path}", result.exited, result.stderr.decode(errors="replace"), host=self.host.name)
        return result.stdout.decode("utf-8")

    def write(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes) -> None:
        path = self.path(name)
        tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{secrets.token_hex(6)}.tmp")
        script = (f"mkdir -p -- {shlex.quote(posixpath.dirname(path))} && cat > {shlex.quote(tmp)} "
                  f"&& mv -f -- {shlex.quote(tmp)} {shlex.quote(path)} || {{ rm -f -- {shlex.quote(tmp)}; exit 1; }}")
        result = run_bytes(self.host, script, data)
        if result.exited != 0:
            raise CommandFailed(f"write {path}", result.exited, result.stderr.decode(errors="replace"),
                                host=self.host.name, hint="check that the login user may write the project directory")

    def remove(self, name: str) -> bool:
        path = self.path(name)
        script = f"[ -e {shlex.quote(path)} ] || exit {_MISSING}; rm -f -- {shlex.quote(path)}"
        result = self.host.run(["sh", "-c", script], check=False)
        if result.exited == _MISSING:
            return False
        if not result.ok:
            raise CommandFailed(f"rm {path}", result.exited, result.stderr, host=self.host.name)
        return True

    def remote_hashes(self, remote_name: str) -> dict[str, str]:
        """{relative path: sha256} of the regular files under ``remote_name`` (one command)."""
        directory = self.path(remote_name)
        script = (f"[ -d {shlex.quote(directory)} ] || exit 0; cd {shlex.quote(directory)} "
                  "&& find . -type f -exec sha256sum -- {} +")
        result = run_bytes(self.host, script)
        if result.exited != 0:
            raise CommandFailed(f"sha256sum {directory}", result.exited, result.stderr.decode(errors="replace"),
                                host=self.host.name)
        hashes: dict[str, str] = {}
        for line in result.stdout.decode("utf-8", errors="replace").splitlines():
            if len(line) > 66 and not line.startswith("\\"):  # "\" marks an escaped (odd) name: re-upload it
                hashes[posixpath.normpath(line[66:])] = line[:64]
        return hashes

    def sync_dir(self, local_dir: Path, remote_name: str) -> list[str]:
        """Make ``remote_name`` hold exactly the files of ``local_dir``; return what changed.

        Changed names are relative paths, sorted; a removed file is listed too.
        Dot-files and dot-directories are skipped on both sides.
        """
        local = _local_hashes(local_dir)
        remote = {n: h for n, h in self.remote_hashes(remote_name).items() if not _hidden(n)}
        changed = sorted(n for n, (digest, _) in local.items() if remote.get(n) != digest)
        for name in changed:
            self.write_bytes(posixpath.join(remote_name, name), local[name][1])
        gone = sorted(set(remote) - set(local))
        for name in gone:
            self.remove(posixpath.join(remote_name, name))
        return sorted(changed + gone)


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def _local_hashes(directory: Path) -> dict[str, tuple[str, bytes]]:
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and not _hidden(relative):
            data = path.read_bytes()
            out[relative] = (hashlib.sha256(data).hexdigest(), data)
    return out
