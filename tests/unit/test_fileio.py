"""swiftlib.fileio: atomic rewrites and locked appends, on the real filesystem."""
from __future__ import annotations

import fcntl
import os
import stat

import pytest

from swiftlib import fileio
from swiftlib.fileio import (atomic_write_text, lock_path, locked_append_line, locked_read_bytes,
                             read_text_or_none)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_creates_and_replaces(tmp_path):
    target = tmp_path / "nginx.conf"
    atomic_write_text(target, "one\n")
    assert target.read_text() == "one\n"
    atomic_write_text(target, "two\r\nthree é\n")
    assert target.read_bytes() == "two\r\nthree é\n".encode()
    assert sorted(os.listdir(tmp_path)) == ["nginx.conf"]


@pytest.mark.parametrize("failing", ["fsync", "replace", "fchmod"])
def test_atomic_write_failure_keeps_old_content_and_no_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / "docker-compose.yml"
    target.write_text("old\n")
    os.chmod(target, 0o640)

    def boom(*args, **kwargs):
        raise OSError(f"injected {failing} failure")

    monkeypatch.setattr(fileio.os, failing, boom)
    with pytest.raises(OSError, match="injected"):
        atomic_write_text(target, "new content that must not appear\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["docker-compose.yml"]


def test_atomic_write_failure_mid_write_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "manifest.yaml"
    target.write_text("old\n")
    real_write = os.write
    calls = []

    def half_then_fail(fd, data):
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "write", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "x" * 10_000)
    monkeypatch.undo()
    assert len(calls) == 2  # the partial write really happened
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["manifest.yaml"]


def test_bad_text_fails_before_touching_disk(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "lone surrogate \ud800")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_keeps_permission_bits(tmp_path):
    target = tmp_path / "secret.env"
    target.write_text("a")
    os.chmod(target, 0o600)
    atomic_write_text(target, "b")
    assert _mode(target) == 0o600
    os.chmod(target, 0o754)
    atomic_write_text(target, "c")
    assert _mode(target) == 0o754


def test_atomic_write_mode_argument_and_umask_default(tmp_path):
    explicit = tmp_path / "explicit"
    atomic_write_text(explicit, "x", mode=0o640)
    assert _mode(explicit) == 0o640
    old_umask = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh"
        atomic_write_text(fresh, "x")
    finally:
        os.umask(old_umask)
    assert _mode(fresh) == 0o640  # 0o666 minus the umask, not mkstemp's 0o600


def test_read_text_or_none(tmp_path):
    assert read_text_or_none(tmp_path / "missing") is None
    (tmp_path / "here").write_bytes("a\r\nb é".encode())
    assert read_text_or_none(tmp_path / "here") == "a\r\nb é"


def test_locked_append_passes_last_line(tmp_path):
    log = tmp_path / "h.log"
    seen = []

    def make(last):
        seen.append(last)
        return f"line{len(seen)}"

    for _ in range(3):
        locked_append_line(log, make)
    assert seen == [None, b"line1", b"line2"]
    assert log.read_bytes() == b"line1\nline2\nline3\n"
    assert os.path.exists(lock_path(log))


def test_locked_append_last_line_across_chunk_boundaries(tmp_path):
    log = tmp_path / "big.log"
    long_last = b"z" * (3 * fileio._CHUNK + 17)
    log.write_bytes(b"a" * (2 * fileio._CHUNK) + b"\n" + b"short\n" + long_last + b"\n")
    seen = []
    locked_append_line(log, lambda last: seen.append(last) or "next")
    assert seen == [long_last]
    # a single line longer than one chunk, with no newline before it
    single = tmp_path / "single.log"
    single.write_bytes(long_last + b"\n")
    locked_append_line(single, lambda last: seen.append(last) or "next")
    assert seen[-1] == long_last


def test_locked_append_after_partial_line_starts_a_new_line(tmp_path):
    log = tmp_path / "h.log"
    log.write_bytes(b"good\n{\"trunc")
    seen = []
    locked_append_line(log, lambda last: seen.append(last) or "new")
    assert seen == [b'{"trunc']
    assert log.read_bytes() == b'good\n{"trunc\nnew\n'


def test_locked_append_rejects_line_breaks_and_releases_lock(tmp_path):
    log = tmp_path / "h.log"
    locked_append_line(log, lambda last: "first")
    with pytest.raises(ValueError, match="line breaks"):
        locked_append_line(log, lambda last: "two\nlines")
    with pytest.raises(RuntimeError):
        locked_append_line(log, lambda last: (_ for _ in ()).throw(RuntimeError("callback")))
    assert log.read_bytes() == b"first\n"
    fd = os.open(lock_path(log), os.O_RDWR)
    try:  # would raise BlockingIOError if a failed append had kept the lock
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_locked_read_bytes(tmp_path):
    log = tmp_path / "h.log"
    assert locked_read_bytes(log) is None
    log.write_bytes(b"x\n")  # no lock file yet: still readable
    assert locked_read_bytes(log) == b"x\n"
    locked_append_line(log, lambda last: "y")
    assert locked_read_bytes(log) == b"x\ny\n"
