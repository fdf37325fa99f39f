"""Byte streams to and from a command on a host, for what ``Host.run`` cannot carry.

``Host.run`` goes through Invoke's runner, which decodes output as text and feeds a
string ``stdin`` one byte per 10 ms (fine for a password, hopeless for a file or an
image). Uploads and ``docker save | docker load`` therefore talk to the SSH session
channel directly (remote) or to a child process (local), in bytes, in one round trip.

- ``run_bytes(host, command, stdin)`` -> ByteResult(exited, stdout, stderr)
- ``open_output(host, command)`` -> a reader of the command's stdout; ``finish()``
  then gives (exit code, stderr).

``command`` is a shell command line built from ``shlex.join``/``shlex.quote`` parts.
Transport failures raise HostUnreachable naming the host.
"""
from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import HostUnreachable
from ..host import Host
from .ordered_send import send_all, send_eof

CHUNK = 256 * 1024


@dataclass(frozen=True)
class ByteResult:
    exited: int
    stdout: bytes
    stderr: bytes


def _chunks(data: bytes | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        return (bytes(view[i:i + CHUNK]) for i in range(0, len(view), CHUNK))
    return data


def _session(host: Host, command: str, timeout: float | None) -> Any:
    conn = host.connection
    try:
        conn.open()  # no-op when already connected
        chan = conn.transport.open_session(timeout=timeout)
        chan.settimeout(timeout)
        chan.exec_command(command)
    except Exception as exc:
        if isinstance(exc, (OSError, EOFError)) or type(exc).__module__.startswith("paramiko"):
            raise HostUnreachable(f"SSH session failed: {exc}", host=host.name) from exc
        raise
    return chan


def _drain(read: Callable[[int], bytes], into: list[bytes]) -> threading.Thread:
    def run() -> None:
        try:
            while True:
                data = read(CHUNK)
                if not data:
                    return
                into.append(data)
        except (OSError, EOFError):  # channel closed under us; the exit status tells the rest
            return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run_bytes(
    host: Host,
    command: str,
    stdin: bytes | Iterable[bytes] = b"",
    *,
    timeout: float | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> ByteResult:
    """Run ``command`` feeding ``stdin`` (bytes or an iterable of chunks); collect output.

    ``timeout`` bounds each wait for the peer (not the whole transfer); ``on_chunk``
    receives the size of every chunk sent.
    """
    out: list[bytes] = []
    err: list[bytes] = []
    if not host.is_remote:
        proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        readers = [_drain(proc.stdout.read, out), _drain(proc.stderr.read, err)]  # type: ignore[union-attr]
        try:
            for chunk in _chunks(stdin):
                proc.stdin.write(chunk)  # type: ignore[union-attr]
                if on_chunk:
                    on_chunk(len(chunk))
        except BrokenPipeError:
            pass  # the command stopped reading; its exit code says why
        finally:
            proc.stdin.close()  # type: ignore[union-attr]
        exited = proc.wait(timeout=timeout)
        for reader in readers:
            reader.join()
        return ByteResult(exited, b"".join(out), b"".join(err))
    chan = _session(host, command, timeout)
    try:
        readers = [_drain(chan.recv, out), _drain(chan.recv_stderr, err)]
        for chunk in _chunks(stdin):
            try:
                if not send_all(chan, chunk):
                    break  # the command stopped reading; its exit code says why
            except OSError:
                if chan.exit_status_ready() or chan.closed:
                    break
                raise
            if on_chunk:
                on_chunk(len(chunk))
        send_eof(chan)  # on the command's stdin
        exited = chan.recv_exit_status()
        for reader in readers:
            reader.join(timeout)
    except (OSError, EOFError) as exc:
        raise HostUnreachable(f"SSH transfer failed: {exc}", host=host.name) from exc
    finally:
        chan.close()
    return ByteResult(exited, b"".join(out), b"".join(err))


class OutputStream:
    """A command's stdout as a byte reader. Read to EOF, then ``finish()``."""

    def __init__(self, host: Host, command: str, timeout: float | None) -> None:
        self.host = host
        self._err: list[bytes] = []
        self._eof = False
        if host.is_remote:
            self._chan = _session(host, command, timeout)
            self._proc = None
            self._read: Callable[[int], bytes] = self._chan.recv
            self._err_reader = _drain(self._chan.recv_stderr, self._err)
        else:
            self._chan = None
            self._proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self._read = self._proc.stdout.read  # type: ignore[union-attr]
            self._err_reader = _drain(self._proc.stderr.read, self._err)  # type: ignore[union-attr]

    def read(self, size: int = CHUNK) -> bytes:
        try:
            data = self._read(size)
        except (OSError, EOFError) as exc:
            raise HostUnreachable(f"SSH transfer failed: {exc}", host=self.host.name) from exc
        self._eof = not data
        return data

    @property
    def at_eof(self) -> bool:
        return self._eof

    def finish(self) -> tuple[int, bytes]:
        """Close the stream and return (exit code, stderr). Kills a local command still running."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.stdout.close()  # type: ignore[union-attr]  # a writer gets SIGPIPE
            exited = self._proc.wait()
        elif not self._eof:
            self._chan.close()  # stopped early: closing makes the remote writer see a broken pipe
            exited = -1
        else:
            exited = self._chan.recv_exit_status()
            self._chan.close()
        self._err_reader.join(5)
        return exited, b"".join(self._err)


def open_output(host: Host, command: str, *, timeout: float | None = None) -> OutputStream:
    return OutputStream(host, command, timeout)
