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
"""
from __future__ import annotations

import fcntl
import os
import secrets
from contextlib import contextmanager
from typing import Callable, Iterator

_CHUNK = 8192


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


def read_text_or_none(path: str | os.PathLike[str]) -> str | None:
    """The file's UTF-8 text, or ``None`` when it does not exist."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def lock_path(path: str | os.PathLike[str]) -> str:
    """The sidecar lock file guarding ``path``."""
    return os.fspath(path) + ".lock"


@contextmanager
def _flocked(path: str, *, exclusive: bool, create: bool) -> Iterator[None]:
    flags = (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY
    try:
        fd = os.open(lock_path(path), flags, 0o666)
    except FileNotFoundError:
        if create:
            raise
        fd = -1  # no lock file: nobody has ever appended, so nobody is appending now
    if fd < 0:
        yield
        return
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
    path: str | os.PathLike[str], make_line: Callable[[bytes | None], str]
) -> str:
    """Append one line built from the current last line, under an exclusive lock.

    ``make_line`` receives the last line's raw bytes without the newline (``None``
    for an empty or absent file) and returns the new line without a newline; it
    runs while the lock is held, so no other appender can slip in between. If the
    file ends in a partial line (a crashed writer), the new line still starts on a
    line of its own and the damage stays visible. Returns the line written, once
    it is on disk (fsynced; the fsync runs after the lock is released, see below).
    """
    target = os.fspath(path)
    fd = -1
    try:
        with _flocked(target, exclusive=True, create=True):
            fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
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
        # fsync after unlocking: the line is already in the file for the next appender,
        # and concurrent fsyncs share one journal commit instead of queueing behind the lock.
        os.fsync(fd)
    finally:
        if fd >= 0:
            os.close(fd)
    if size == 0:
        _fsync_dir(os.path.dirname(target) or ".")
    return line


def locked_read_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """The file's bytes read under a shared lock, or ``None`` when it does not exist."""
    target = os.fspath(path)
    with _flocked(target, exclusive=False, create=False):
        try:
            with open(target, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
