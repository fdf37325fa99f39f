"""The file seam: atomic rewrites, optional reads and locked appends.

Every file SwiftDeploy writes goes through here, so a crash or a concurrent run
never leaves a half-written docker-compose.yml, manifest or history line:

- ``atomic_write_text`` writes a temp file in the same directory, fsyncs it and
  ``os.replace``s it over the target, then fsyncs the directory. Readers see the
  old file or the new one, never a mix.
- ``locked_append_line`` serialises appenders with ``flock`` on a sidecar
  ``<path>.lock`` (never deleted: removing a lock file lets two writers each hold
  "the" lock), hands the current last line to a callback that builds the new one
  (this is how the audit hash chain links lines), and appends it with one
  ``os.write`` on an ``O_APPEND`` descriptor. The fsync follows the unlock: the
  bytes are already in the file for the next appender, fsync flushes the whole
  file (so earlier lines too), and concurrent appenders share journal commits
  instead of queueing one disk flush each behind the lock (about 2x faster with
  8 writers). The call still returns only once its line is durable.
- ``locked_read_bytes`` reads under a shared lock so it never sees a line that is
  still being appended.

Files a user names or that live in the project are read with ``read_regular_text``
(``read_regular_bytes`` for bytes): the manifest and the project's generated files
and state are. A directory, a FIFO, a device such as ``/dev/zero``, a huge file or
bytes that are not UTF-8 are refused (``UnreadableFile``, a ConfigError: exit 2)
instead of hanging, exhausting memory or crashing. The type is checked with
``stat`` before opening (a FIFO is never opened for reading), the open uses
``O_NONBLOCK`` and is checked again with ``fstat`` (the file may be swapped in
between), and at most ``limit + 1`` bytes are read (``st_size`` is 0 for /proc-like
files). With ``within`` a path that resolves (through symlinks) outside that
directory is refused, so a link planted in the project cannot make SwiftDeploy
read, and echo in errors or diffs, a file from elsewhere such as /etc/shadow. A
check, not a sandbox: a process that swaps directories of the path while it is
read can still race it. The two locked functions above refuse anything but a
regular file too (an OSError), without a size cap: the history only grows.
"""
from __future__ import annotations

import errno
import fcntl
import os
import secrets
import stat
from contextlib import contextmanager
from typing import Callable, Iterator

from .errors import ConfigError

_CHUNK = 8192
MIB = 1024 * 1024
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _fsync_dir(directory: str) -> None:
    """Persist a rename/creation in ``directory`` (the entry lives in the directory)."""
    fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8, newlines written as given) atomically.

    Permission bits: ``mode`` if given, else those of the existing file, else the
    usual ``0o666`` minus the umask. On any exception the target is untouched and
    the temp file is removed.
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    data = text.encode("utf-8")  # fail on bad text before touching the disk
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = None
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never follow or reuse someone else's file; 0o666 lets the umask apply.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


class UnreadableFile(ConfigError):
    """A file SwiftDeploy must read is not a small regular UTF-8 file where it belongs (exit 2).

    ``path`` and ``problem`` are kept apart so a caller can re-raise its own error
    type (the manifest loader raises ``ManifestError(problem, path=path)``).
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def file_kind(mode: int) -> str:
    """'a directory', 'a FIFO (named pipe)', ... for ``st_mode``; '' for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size_text(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n} bytes"


def _open_regular(path: str, flags: int) -> int:
    """``os.open`` that never blocks on a FIFO and refuses anything but a regular file.

    Raises OSError (``EINVAL`` with a readable ``strerror`` for a wrong file type).
    """
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o666)
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind:
            raise OSError(errno.EINVAL, f"is {kind}, not a regular file", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_bytes(path: str | os.PathLike[str], limit: int, what: str, *,
                       within: str | os.PathLike[str] | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``what`` names the file in messages ("a manifest"). Raises FileNotFoundError when
    nothing is there (the caller decides what missing means) and UnreadableFile
    (exit 2) for: a path resolving outside ``within``, any other OSError, a file
    that is not regular, or more than ``limit`` bytes.
    """
    given = os.fspath(path)
    real = os.path.realpath(given)
    if within is not None:
        root = os.path.realpath(within)
        if os.path.commonpath([real, root]) != root:
            raise UnreadableFile(given, f"resolves to {real}, outside {root}; {what} is read only from "
                                        "inside that directory (a symlink out of it is refused)")
    try:
        kind = file_kind(os.stat(real).st_mode)  # before opening: opening a FIFO could block
        if kind:
            raise UnreadableFile(given, f"is {kind}, not a regular file; {what} must be a regular file")
        fd = _open_regular(real, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(given, f"cannot read: {exc.strerror}") from exc
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnreadableFile(given, f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if size > limit:
        raise UnreadableFile(given, f"is larger than {_size_text(limit)}, the most {what} may be")
    return b"".join(chunks)


def read_regular_text(path: str | os.PathLike[str], limit: int, what: str, *,
                      within: str | os.PathLike[str] | None = None) -> str:
    """``read_regular_bytes`` decoded as strict UTF-8 (a BOM is kept); UnreadableFile if not UTF-8."""
    data = read_regular_bytes(path, limit, what, within=within)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(os.fspath(path), f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from exc


def read_text_or_none(path: str | os.PathLike[str], *, limit: int = 64 * MIB, what: str = "a project file",
                      within: str | os.PathLike[str] | None = None) -> str | None:
    """``read_regular_text``, or ``None`` when nothing is at ``path``."""
    try:
        return read_regular_text(path, limit, what, within=within)
    except FileNotFoundError:
        return None


def lock_path(path: str | os.PathLike[str]) -> str:
    """The sidecar lock file guarding ``path``."""
    return os.fspath(path) + ".lock"


@contextmanager
def _flocked(path: str, *, exclusive: bool, create: bool) -> Iterator[None]:
    # O_NOFOLLOW: a planted `<file>.lock` link must not make us create or open a file elsewhere.
    # O_NONBLOCK: opening a FIFO planted in its place for reading would wait for a writer forever.
    flags = (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY
    name = lock_path(path)
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
    except FileNotFoundError:
        if create:
            raise
        fd = -1  # no lock file: nobody has ever appended, so nobody is appending now
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile(name, "is a symbolic link; a lock file must be a regular file") from None
        if exc.errno == errno.EISDIR:
            raise UnreadableFile(name, "is a directory; a lock file must be a regular file") from None
        raise
    if fd < 0:
        yield
        return
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnreadableFile(name, "is not a regular file (a FIFO, device or directory?); "
                                   "move it away so SwiftDeploy can create its lock file")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _tail(fd: int, size: int) -> tuple[bytes | None, bool]:
    """(last line without its newline, whether the file ends with a newline).

    Reads backwards in chunks, so a long history costs no more than its last line.
    """
    if size == 0:
        return None, True
    ends_with_newline = os.pread(fd, 1, size - 1) == b"\n"
    end = size - 1 if ends_with_newline else size
    buf = b""
    pos = end
    while pos > 0:
        start = max(0, pos - _CHUNK)
        buf = os.pread(fd, pos - start, start) + buf
        pos = start
        cut = buf.rfind(b"\n")
        if cut != -1:
            return buf[cut + 1:], ends_with_newline
    return buf, ends_with_newline


def locked_append_line(
    path: str | os.PathLike[str], make_line: Callable[[bytes | None], str],
    after: Callable[[int, bytes], None] | None = None,
) -> str:
    """Append one line built from the current last line, under an exclusive lock.

    ``make_line`` receives the last line's raw bytes without the newline (``None``
    for an empty or absent file) and returns the new line without a newline; it
    runs while the lock is held, so no other appender can slip in between. If the
    file ends in a partial line (a crashed writer), the new line still starts on a
    line of its own and the damage stays visible. Returns the line written, once
    it is on disk (fsynced; the fsync runs after the lock is released, see below).
    ``after(size, line)``, still under the lock, learns the file's new size and the line's bytes.
    """
    target = os.fspath(path)
    fd = -1
    try:
        with _flocked(target, exclusive=True, create=True):
            fd = _open_regular(target, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW)  # never through a link
            size = os.fstat(fd).st_size
            last, ends_with_newline = _tail(fd, size)
            line = make_line(last)
            if "\n" in line or "\r" in line:
                raise ValueError("make_line must return a single line without line breaks")
            data = (b"" if ends_with_newline else b"\n") + line.encode("utf-8") + b"\n"
            written = os.write(fd, data)
            # A regular file only writes short when the disk fills; finish under the lock.
            while written < len(data):
                written += os.write(fd, data[written:])
            if after is not None:
                after(size + len(data), line.encode("utf-8"))
        # fsync after unlocking: the line is already in the file for the next appender,
        # and concurrent fsyncs share one journal commit instead of queueing behind the lock.
        os.fsync(fd)
    finally:
        if fd >= 0:
            os.close(fd)
    if size == 0:
        _fsync_dir(os.path.dirname(target) or ".")
    return line


def check_appendable(path: str | os.PathLike[str]) -> None:
    """Raise OSError unless a line could be appended to ``path`` now (its lock file too).

    Opens both for writing, as ``locked_append_line`` would, and writes nothing: an immutable
    or read-only file, a full quota on the lock's creation, a directory or FIFO in its place
    all fail here, before the caller changes anything it would then have to record.
    """
    target = os.fspath(path)
    with _flocked(target, exclusive=False, create=True):
        fd = _open_regular(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW)
        os.close(fd)


def locked_read_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The file's bytes read under a shared lock, or ``None`` when it does not exist.

    Anything but a regular file (a FIFO, ``/dev/zero``, a directory) raises OSError
    instead of blocking or reading forever.
    """
    target = os.fspath(path)
    with _flocked(target, exclusive=False, create=False):
        try:
            fd = _open_regular(target, os.O_RDONLY)
        except FileNotFoundError:
            return None
        with open(fd, "rb") as fh:
            return fh.read()
