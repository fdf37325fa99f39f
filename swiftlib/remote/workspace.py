"""The project directory on a remote host, behind the same Workspace protocol as locally.

The project directory is ``deploy.remote_dir`` under the login's home (``x`` or ``~/x``):
a subdirectory of the home, never the home itself, never an absolute path. Every
path SwiftDeploy touches there must stay strictly inside it, checked twice:
lexically here, and on the host with the symbolic links resolved (``readlink -f`` on
the deepest part that exists), in the same shell command that reads, writes or
removes, so a link on the host cannot lead a write or a deletion elsewhere (exit 2,
UsageError). A check, not a sandbox: a process on the host that swaps directories
between the check and the action can still race it.

Each operation is one command over the connection: ``write`` streams the text into
a temp file next to the target and ``mv -f``s it over (atomic for readers, parents
created); ``read`` returns None for a missing file; ``sync_dir`` hashes the remote
copy of a directory in one ``sha256sum`` and uploads only what differs. Deletions
only touch what SwiftDeploy uploaded: ``sync_dir`` records the names it uploads in
``.swiftdeploy/uploaded.json`` and removes a file that is gone locally only when the
record lists it (a deleted policy must not stay in force remotely); ``remove_tree``
removes the recorded files of a subdirectory and the directories they leave empty.
A host synced before the record existed has none: there only stale ``*.rego`` files
(policies OPA would load) are removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import secrets
import shlex
import threading
from pathlib import Path

from ..errors import CommandFailed, UsageError
from ..host import Host
from .channel import ByteResult, run_bytes

_MISSING = 3  # exit code our read script uses for "no such file"
_OUTSIDE = 9  # exit code of every script when a path resolves outside its base directory
_NO_HOME = 4
UPLOADED_FILE = ".swiftdeploy/uploaded.json"  # {subdirectory: [names sync_dir uploaded there]}

# Shell functions every script starts with. sd_real sets R to $1 with the symbolic links of
# its deepest existing part resolved (readlink -f) and the missing rest appended as written;
# sd_in succeeds when that lies strictly inside the resolved directory $2. `&& echo x` keeps
# a trailing newline of the resolved name from being eaten by the command substitution.
_PRELUDE = r"""
sd_real() {
  p=$1 rest=
  while [ ! -e "$p" ] && [ ! -L "$p" ]; do
    case $p in /*/*) ;; *) return 1;; esac
    rest=/${p##*/}$rest
    p=${p%/*}
  done
  R=$(readlink -f -- "$p" && echo x) || return 1
  R=${R%?x}$rest
}
sd_in() { sd_real "$1" || return 1; case $R in "$2"/?*) return 0;; esac; return 1; }
"""

# $1 the remote_dir as given (relative to $HOME). Prints HOME, its resolved form and the resolved root.
_OPEN = _PRELUDE + r"""
h=$HOME
case $h in /?*) ;; *) printf 'login has no usable $HOME (an absolute path below /): %s\n' "$h" >&2; exit 4;; esac
sd_real "$h" || { printf 'cannot resolve $HOME %s\n' "$h" >&2; exit 4; }
rh=$R
sd_real "$h/$1" || { printf 'cannot resolve %s\n' "$h/$1" >&2; exit 9; }
printf '%s\0%s\0%s' "$h" "$rh" "$R"
"""
# $1 path, $2 resolved root.
_CHECK = _PRELUDE + 'sd_in "$1" "$2" || exit 9\n'
_READ = _CHECK + '[ -e "$1" ] || exit 3\ncat -- "$1"\n'
_REMOVE = _CHECK + '[ -e "$1" ] || exit 3\nrm -f -- "$1"\n'
_HASHES = _CHECK + '[ -d "$1" ] || exit 0\ncd -- "$1" && find . -type f -exec sha256sum -- {} +\n'
# $1 path, $2 resolved root, $3 temp file next to $1.
_WRITE = _CHECK + 'mkdir -p -- "${1%/*}" && cat > "$3" && mv -f -- "$3" "$1" || { rm -f -- "$3"; exit 1; }\n'
# $1 directory, $2 resolved root, then the files to remove (relative to $1), `--`, and the
# directories to try to remove once empty (deepest first). Every file must resolve inside $1
# before anything is removed; each file removed is printed, NUL-terminated.
_REMOVE_TREE = _PRELUDE + r"""
D=$1 B=$2
shift 2
sd_in "$D" "$B" || exit 9
RD=$R
[ -d "$D" ] || exit 0
for n in "$@"; do
  [ "$n" = -- ] && break
  sd_in "$D/$n" "$RD" || { printf '%s resolves outside %s\n' "$n" "$D" >&2; exit 9; }
done
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  if [ -e "$D/$1" ] || [ -L "$D/$1" ]; then rm -f -- "$D/$1" && printf '%s\0' "$1"; fi
  shift
done
[ $# -gt 0 ] && shift
for d in "$@"; do rmdir -- "$D/$d" 2>/dev/null; done
rmdir -- "$D" 2>/dev/null
exit 0
"""


def _script(script: str, *args: str) -> str:
    return shlex.join(["sh", "-c", script, "sd", *args])


def _relative_dir(given: str) -> str:
    """``deploy.remote_dir`` as a normalised path relative to the home, or UsageError."""
    body = given[2:] if given.startswith("~/") else ("" if given == "~" else given)
    rel = posixpath.normpath(body or ".")
    if body.startswith("/") or rel == "." or rel == ".." or rel.startswith("../"):
        raise UsageError(f"deploy.remote_dir {given!r}: expected a subdirectory of the login's home "
                         "(like swiftdeploy or ~/apps/swiftdeploy), not the home itself, an absolute path or '..'")
    return rel


class RemoteWorkspace:
    """``root`` relative (``swiftdeploy``) or ``~/x``: a subdirectory of the login's home.

    The directory is resolved on the host at the first use, not when the target is opened: a command
    that only reads the host (its stats for a policy) needs no project directory there, and over a
    fleet that is one round trip per host less."""

    def __init__(self, host: Host, root: str) -> None:
        self.host = host
        self._given = root
        self._rel = _relative_dir(root)  # refused at once: it needs no round trip
        self._resolved: tuple[str, str, str] | None = None
        self._resolving = threading.Lock()

    def _resolve(self) -> tuple[str, str, str]:
        """(home, root, the root with links resolved), asked of the host once."""
        with self._resolving:
            if self._resolved is None:
                rel = self._rel
                result = run_bytes(self.host, _script(_OPEN, rel))
                if result.exited != 0:
                    raise self._failed(f"resolve ~/{rel}", result, name=rel)
                home, real_home, real_root = (part.decode("utf-8", errors="surrogateescape")
                                              for part in result.stdout.split(b"\0"))
                if not real_root.startswith(real_home.rstrip("/") + "/"):
                    raise UsageError(f"deploy.remote_dir {self._given!r} resolves to {real_root} on the host, which "
                                     f"is not inside the login's home {real_home} (a symbolic link leads there)",
                                     host=self.host.name)
                home = posixpath.normpath(home)
                self._resolved = (home, posixpath.join(home, rel), real_root)
            return self._resolved

    @property
    def home(self) -> str:
        return self._resolve()[0]

    @property
    def root(self) -> str:
        return self._resolve()[1]

    @property
    def real_root(self) -> str:
        """What every check on the host compares against."""
        return self._resolve()[2]

    def __repr__(self) -> str:
        return f"RemoteWorkspace({self.host.name!r}, {self._given!r})"

    def _failed(self, what: str, result: ByteResult, *, name: str) -> Exception:
        stderr = result.stderr.decode(errors="replace")
        if result.exited == _OUTSIDE:
            where = getattr(self, "root", None) or "the project directory"
            return UsageError(f"{name!r} resolves outside {where} on the host (a symbolic link leads out of it); "
                              f"SwiftDeploy only handles files inside the project directory", host=self.host.name)
        if result.exited == _NO_HOME:
            return CommandFailed(what, None, stderr or "login has no usable $HOME", host=self.host.name)
        return CommandFailed(what, result.exited, stderr, host=self.host.name)

    def _lexical(self, name: str) -> str:
        full = posixpath.normpath(posixpath.join(self.root, name))
        if not full.startswith(self.root + "/"):
            raise UsageError(f"{name!r} is outside the project directory {self.root}", host=self.host.name)
        return full

    def path(self, name: str) -> str:
        """The absolute path of ``name`` on the host, once the host confirms it resolves inside the project."""
        full = self._lexical(name)
        result = run_bytes(self.host, _script(_CHECK, full, self.real_root))
        if result.exited != 0:
            raise self._failed(f"check {full}", result, name=name)
        return full

    def read(self, name: str) -> str | None:
        path = self._lexical(name)
        result = run_bytes(self.host, _script(_READ, path, self.real_root))
        if result.exited == _MISSING:
            return None
        if result.exited != 0:
            raise self._failed(f"cat {path}", result, name=name)
        return result.stdout.decode("utf-8")

    def write(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def write_bytes(self, name: str, data: bytes) -> None:
        path = self._lexical(name)
        tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{secrets.token_hex(6)}.tmp")
        result = run_bytes(self.host, _script(_WRITE, path, self.real_root, tmp), data)
        if result.exited != 0:
            error = self._failed(f"write {path}", result, name=name)
            if isinstance(error, CommandFailed):
                error = CommandFailed(f"write {path}", result.exited, result.stderr.decode(errors="replace"),
                                      host=self.host.name,
                                      hint="check that the login user may write the project directory")
            raise error

    def write_private(self, name: str, text: str, owner: int) -> None:
        """As the local workspace: the value travels in the SSH session only, then 0400 owned by ``owner``
        (root login) or 0444 in a 0700 directory; the directory is closed before the file exists."""
        path = self._lexical(name)
        self.host.run(["sh", "-c", 'mkdir -p -- "$1" && chmod 700 -- "$1"', "sd", posixpath.dirname(path)])
        self.write_bytes(name, text.encode("utf-8"))
        self.host.run(["sh", "-c", 'if [ "$(id -u)" = 0 ]; then chown "$2:$2" -- "$1" && chmod 400 -- "$1"; '
                                   'else chmod 444 -- "$1"; fi', "sd", path, str(owner)])

    def remove(self, name: str) -> bool:
        path = self._lexical(name)
        result = run_bytes(self.host, _script(_REMOVE, path, self.real_root))
        if result.exited == _MISSING:
            return False
        if result.exited != 0:
            raise self._failed(f"rm {path}", result, name=name)
        return True

    def _subdir(self, name: str) -> str:
        """``name`` normalised, relative to the root; a strict subdirectory of it."""
        return posixpath.relpath(self._lexical(name), self.root)

    def remote_hashes(self, remote_name: str) -> dict[str, str]:
        """{relative path: sha256} of the regular files under ``remote_name`` (one command)."""
        directory = self._lexical(remote_name)
        result = run_bytes(self.host, _script(_HASHES, directory, self.real_root))
        if result.exited != 0:
            raise self._failed(f"sha256sum {directory}", result, name=remote_name)
        hashes: dict[str, str] = {}
        for line in result.stdout.decode("utf-8", errors="replace").splitlines():
            if len(line) > 66 and not line.startswith("\\"):  # "\" marks an escaped (odd) name: re-upload it
                hashes[posixpath.normpath(line[66:])] = line[:64]
        return hashes

    def uploaded(self) -> dict[str, list[str]]:
        """What ``sync_dir`` recorded as uploaded, per subdirectory (bad entries are dropped)."""
        try:
            data = json.loads(self.read(UPLOADED_FILE) or "{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        record: dict[str, list[str]] = {}
        for sub, names in data.items():
            if isinstance(sub, str) and isinstance(names, list):
                record[sub] = sorted({n for n in names if isinstance(n, str) and _plain_relative(n)})
        return record

    def _save_uploaded(self, record: dict[str, list[str]]) -> None:
        if record:
            self.write(UPLOADED_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")
        else:
            self.remove(UPLOADED_FILE)

    def sync_dir(self, local_dir: Path, remote_name: str) -> list[str]:
        """Make ``remote_name`` hold the files of ``local_dir``; return what changed.

        Changed names are relative paths, sorted; a removed file is listed too. A remote
        file that is not (or no longer) local is removed only when SwiftDeploy uploaded it
        (the record lists it; a host without a record: only ``*.rego``). Dot-files and
        dot-directories are skipped on both sides. ``remote_name`` must be a subdirectory
        of the project directory, not the project directory itself.
        """
        sub = self._subdir(remote_name)
        local = _local_hashes(local_dir)
        remote = {n: h for n, h in self.remote_hashes(sub).items() if not _hidden(n)}
        record = self.uploaded()
        prior = record.get(sub)
        changed = sorted(n for n, (digest, _) in local.items() if remote.get(n) != digest)
        pending = sorted(set(prior or ()) | set(local))
        if changed and prior != pending:  # record first: a crash mid-upload leaves no unrecorded file
            record[sub] = pending
            self._save_uploaded(record)
        for name in changed:
            self.write_bytes(posixpath.join(sub, name), local[name][1])
        gone = set(remote) - set(local)
        ours = set(prior) if prior is not None else {n for n in gone if n.endswith(".rego")}
        removed = [name for name in sorted(gone & ours) if self.remove(posixpath.join(sub, name))]
        if record.get(sub) != sorted(local):
            record[sub] = sorted(local)
            self._save_uploaded(record)
        return sorted(changed + removed)

    def remove_tree(self, remote_name: str) -> list[str]:
        """Remove what ``sync_dir`` uploaded into ``remote_name``; return the files removed.

        Only recorded files (a host without a record: ``*.rego`` files) are removed, then
        the directories they leave empty, ``remote_name`` included; anything else there
        stays. Refused (UsageError) when ``remote_name`` is the project directory itself,
        leaves it, or any of those files resolves outside ``remote_name`` on the host.
        """
        sub = self._subdir(remote_name)
        directory = posixpath.join(self.root, sub)
        record = self.uploaded()
        names = record.get(sub)
        if names is None:
            names = sorted(n for n in self.remote_hashes(sub) if n.endswith(".rego") and not _hidden(n))
        parents = {posixpath.dirname(n) for n in names} - {""}
        dirs = set()
        for parent in parents:
            while parent:
                dirs.add(parent)
                parent = posixpath.dirname(parent)
        deepest_first = sorted(dirs, key=lambda d: (-d.count("/"), d))
        result = run_bytes(self.host, _script(_REMOVE_TREE, directory, self.real_root, *names, "--", *deepest_first))
        if result.exited != 0:
            raise self._failed(f"remove {directory}", result, name=remote_name)
        removed = sorted(n.decode("utf-8", errors="surrogateescape") for n in result.stdout.split(b"\0") if n)
        if sub in record:
            del record[sub]
            self._save_uploaded(record)
        return removed


def _plain_relative(name: str) -> bool:
    return bool(name) and not name.startswith("/") and ".." not in name.split("/") and posixpath.normpath(name) == name


def _hidden(relative: str) -> bool:
    return any(part.startswith(".") for part in relative.split("/"))


def _local_hashes(directory: Path) -> dict[str, tuple[str, bytes]]:
    """{relative path: (sha256, bytes)}; a file that resolves outside ``directory`` is refused."""
    real_dir = os.path.realpath(directory)
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if _hidden(relative) or not path.is_file():
            continue
        real = os.path.realpath(path)
        if not real.startswith(real_dir.rstrip(os.sep) + os.sep):
            raise UsageError(f"{path}: resolves to {real}, outside {directory}; policies are uploaded "
                             "only from inside that directory (a symbolic link leads out of it)")
        data = path.read_bytes()
        out[relative] = (hashlib.sha256(data).hexdigest(), data)
    return out
