"""swiftlib.fileio: atomic rewrites and locked appends, on the real filesystem."""
from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
import threading
from pathlib import Path

import pytest

from swiftlib import fileio
from swiftlib.errors import ConfigError
from swiftlib.fileio import (UnreadableFile, atomic_write_text, lock_path, locked_append_line, locked_read_bytes,
                             read_regular_bytes, read_regular_text, read_text_or_none)
from swiftlib.workspace import LocalWorkspace


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


# --- read_regular_text: the file-type / size / symlink guard -----------------

@pytest.fixture
def no_hang():
    """Fail instead of hanging when an open or read blocks (a FIFO with no writer)."""
    def expired(signum, frame):  # noqa: ANN001 - signal handler shape
        raise TimeoutError("the call blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _refusal(path, limit=100, **kwargs) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as info:
        read_regular_text(path, limit, "a thing", **kwargs)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert str(info.value) == f"{path}: {info.value.problem}"
    return info.value


def test_read_regular_text_reads_utf8_and_keeps_a_bom(tmp_path):
    (tmp_path / "f").write_bytes("\ufeffa\r\né\n".encode())
    assert read_regular_text(tmp_path / "f", 100, "a thing") == "\ufeffa\r\né\n"
    with pytest.raises(FileNotFoundError):
        read_regular_text(tmp_path / "missing", 100, "a thing")


def test_read_regular_text_refuses_what_is_not_a_regular_file(tmp_path, no_hang):
    os.mkfifo(tmp_path / "fifo")
    assert _refusal(tmp_path).problem == "is a directory, not a regular file; a thing must be a regular file"
    assert _refusal(tmp_path / "fifo").problem.startswith("is a FIFO (named pipe), not a regular file")
    assert _refusal("/dev/zero").problem.startswith("is a character device, not a regular file")
    assert _refusal("/dev/null").problem.startswith("is a character device")


def test_a_fifo_swapped_in_after_the_stat_is_still_refused_without_blocking(tmp_path, monkeypatch, no_hang):
    os.mkfifo(tmp_path / "fifo")
    regular = os.stat(__file__)
    monkeypatch.setattr(fileio.os, "stat", lambda path: regular)  # the check sees a regular file
    assert _refusal(tmp_path / "fifo").problem == "cannot read: is a FIFO (named pipe), not a regular file"


def test_read_regular_text_size_cap_reads_at_most_one_byte_more(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert read_regular_text(tmp_path / "f", 100, "a thing") == "x" * 100
    (tmp_path / "f").write_bytes(b"x" * 101)
    assert _refusal(tmp_path / "f").problem == "is larger than 100 bytes, the most a thing may be"
    # /proc files report size 0 yet have content: the cap still holds
    assert _refusal("/proc/self/maps", limit=10).problem == "is larger than 10 bytes, the most a thing may be"


def test_read_regular_text_refuses_non_utf8(tmp_path):
    (tmp_path / "f").write_bytes(b"ok\n\xff\xfe")
    assert _refusal(tmp_path / "f").problem == "not valid UTF-8 (byte 3); save the file as UTF-8"


def test_read_regular_bytes_has_the_same_guard_without_decoding(tmp_path, no_hang):
    (tmp_path / "f").write_bytes(b"\xff\x00" * 5)
    assert read_regular_bytes(tmp_path / "f", 10, "a thing") == b"\xff\x00" * 5
    with pytest.raises(UnreadableFile, match="is larger than 9 bytes, the most a thing may be"):
        read_regular_bytes(tmp_path / "f", 9, "a thing")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnreadableFile, match="is a FIFO"):
        read_regular_bytes(tmp_path / "fifo", 10, "a thing")


def test_read_regular_text_within_refuses_symlinks_leading_out(tmp_path):
    outside = tmp_path / "secret"
    outside.write_text("TOP SECRET\n")
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "sub" / "real").write_text("inside\n")
    (project / "in").symlink_to("sub/real")
    (project / "out").symlink_to(outside)
    (project / "dotdot").symlink_to("../secret")
    assert read_regular_text(project / "in", 100, "a thing", within=project) == "inside\n"
    for name in ("out", "dotdot"):
        err = _refusal(project / name, within=project)
        assert err.problem.startswith(f"resolves to {outside}, outside {project};")
        assert "SECRET" not in str(err)
    assert read_regular_text(project / "out", 100, "a thing") == "TOP SECRET\n"  # no `within`: followed


def test_read_text_or_none_is_the_guarded_read(tmp_path, no_hang):
    os.mkfifo(tmp_path / "fifo")
    assert read_text_or_none(tmp_path / "missing") is None
    with pytest.raises(UnreadableFile, match="is a FIFO"):
        read_text_or_none(tmp_path / "fifo")


def test_local_workspace_read_refuses_links_out_of_the_project_and_odd_files(tmp_path, no_hang):
    (tmp_path / "shadow").write_text("root:SECRET:19000::::::\n")
    root = tmp_path / "project"
    (root / ".swiftdeploy").mkdir(parents=True)
    (root / "docker-compose.yml").symlink_to(tmp_path / "shadow")
    os.mkfifo(root / ".swiftdeploy" / "state.json")
    (root / "nginx.conf").write_bytes(b"\xff")
    ws = LocalWorkspace(root)
    for name, problem in [(".swiftdeploy/state.json", "is a FIFO"), ("nginx.conf", "not valid UTF-8")]:
        with pytest.raises(ConfigError) as info:
            ws.read(name)
        assert str(info.value).startswith(f"{ws.path(name)}: {problem}")
    with pytest.raises(ConfigError) as info:
        ws.read("docker-compose.yml")
    assert "resolves to" in str(info.value) and "SECRET" not in str(info.value)
    assert ws.read("missing.conf") is None
    ws.write("docker-compose.yml", "services: {}\n")  # a write replaces the link, never the target
    assert ws.read("docker-compose.yml") == "services: {}\n"
    assert (tmp_path / "shadow").read_text().startswith("root:")


def _pretend_character_device(monkeypatch, target: Path) -> None:
    """Make ``fstat`` report ``target`` as a character device (what /dev/null or /dev/zero is).

    A real device node cannot be made in tmp_path without root (mknod), and the one in /dev
    is not ours to put a lock file beside; fileio tells a device from a file by ``fstat``
    alone, after opening, so this is the case it decides on.
    """
    real_fstat = os.fstat
    inode = (os.stat(target).st_dev, os.stat(target).st_ino)

    def fstat(fd):
        found = real_fstat(fd)
        if (found.st_dev, found.st_ino) != inode:
            return found
        return os.stat_result((stat.S_IFCHR | 0o666,) + tuple(found)[1:])

    monkeypatch.setattr(fileio.os, "fstat", fstat)


@pytest.mark.parametrize("make, read_errno, read_error, append_errno, append_error", [
    # A FIFO opens at once (O_NONBLOCK), reads as empty and swallows writes, as /dev/null does:
    # fileio's own check after opening refuses it, for reading and for appending alike.
    ("fifo", errno.EINVAL, "is a FIFO (named pipe), not a regular file",
     errno.EINVAL, "is a FIFO (named pipe), not a regular file"),
    # A directory opens for reading (fileio's check refuses it); opening it to append is
    # refused by the kernel itself (EISDIR), before fileio's check runs.
    ("dir", errno.EINVAL, "is a directory, not a regular file", errno.EISDIR, os.strerror(errno.EISDIR)),
    # A device (/dev/zero would be read forever, /dev/null would lose every line appended).
    ("device", errno.EINVAL, "is a character device, not a regular file",
     errno.EINVAL, "is a character device, not a regular file"),
])
def test_locked_read_and_append_refuse_what_is_not_a_regular_file(tmp_path, monkeypatch, no_hang, make, read_errno,
                                                                  read_error, append_errno, append_error):
    """Each kind is refused with the one error fileio gives for it, naming the file, and nothing is
    written. The test used to accept any OSError (a PermissionError creating the lock file passed)
    and used /dev/null itself: skipped unless root, and as root it left /dev/null.lock behind."""
    target = tmp_path / "h.log"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "dir":
        target.mkdir()
    else:
        target.write_bytes(b"old\n")
        _pretend_character_device(monkeypatch, target)
    with pytest.raises(OSError) as info:
        locked_read_bytes(target)
    assert (info.value.errno, info.value.strerror, info.value.filename) == (read_errno, read_error, str(target))
    assert not os.path.exists(lock_path(target))  # a reader never creates the lock file
    lines = []
    with pytest.raises(OSError) as info:
        locked_append_line(target, lambda last: lines.append(last) or "line")
    assert (info.value.errno, info.value.strerror, info.value.filename) == (append_errno, append_error, str(target))
    assert lines == []  # refused before the new line was even built
    assert os.path.isfile(lock_path(target)) and os.path.getsize(lock_path(target)) == 0
    if make == "device":
        monkeypatch.undo()
        assert target.read_bytes() == b"old\n"
    assert sorted(os.listdir(tmp_path)) == ["h.log", "h.log.lock"]  # the lock file beside it, in tmp_path


# -- the lock file beside a locked file -------------------------------------------------------

@pytest.mark.parametrize("plant", ["fifo", "directory"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, plant):
    # Reading the audit trail takes a shared lock; a FIFO in place of the lock file used to block
    # `inv audit --verify` forever, waiting for a writer.
    from swiftlib.audit.log import AuditLog

    log = AuditLog(tmp_path / "history.jsonl")
    log.append("deploy", {"x": 1})
    lock = tmp_path / "history.jsonl.lock"
    lock.unlink()
    os.mkfifo(lock) if plant == "fifo" else lock.mkdir()
    done: list[BaseException] = []

    def verify():
        try:
            log.verify()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            done.append(exc)

    worker = threading.Thread(target=verify, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "verify blocked on the planted lock file"
    assert done and "history.jsonl.lock" in str(done[0]) and "regular file" in str(done[0])
    with pytest.raises(UnreadableFile, match="history.jsonl.lock"):
        log.append("deploy", {"x": 2})
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
