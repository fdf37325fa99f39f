"""The one seam through which SwiftDeploy touches a machine.

Invoke hands a task a ``Context``; Fabric hands it a ``Connection``. Both have
``run()``, so ``Host`` wraps either and every step talks to a ``Host`` without
caring whether it is this machine or one at the end of an SSH connection.

Commands are argv lists (built by ``swiftlib.commands``) and are quoted here, once,
with ``shlex.join``.

``host.wrapped(wrap)`` is the same machine with every command line (and its environment)
handed to ``wrap`` first: ``swiftlib.remote.become`` uses it to run a bootstrap as root
through ``sudo -n`` when the SSH login is not root, chosen once where the host is opened.
"""
from __future__ import annotations

import codecs
import functools
import io
import os
import select
import shlex
import socket
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from invoke import Context
from invoke.exceptions import CommandTimedOut, UnexpectedExit
from invoke.runners import Local

from . import interrupt
from .errors import CommandFailed, HostUnreachable


@dataclass(frozen=True)
class RunResult:
    """What a finished command left behind."""

    command: str
    stdout: str
    stderr: str
    exited: int

    @property
    def ok(self) -> bool:
        return self.exited == 0


# (command line, environment or None) -> the command line to run instead, environment included.
Wrap = Callable[[str, "Mapping[str, str] | None"], str]


STDIN_BLOCK = 64 * 1024


class _RunnerFixes:
    """Seven fixes to Invoke's runners, for commands that carry files rather than a person's typing.

    Invoke reads ``in_stream`` one byte per loop turn with a 10 ms sleep between turns: 2 KB of compose
    file took 23 s to reach `docker compose -f -`, locally and over SSH alike. A string given as a
    command's stdin is fed in blocks instead. Invoke decodes each 1000-byte chunk of output on its
    own, so a UTF-8 character split between two chunks came out as two replacement characters; each
    stream is decoded incrementally instead. And Invoke notices a command's end by polling every
    10 ms (5 ms late on average, per command: a deploy runs dozens in a row); the end is waited for
    on the process itself (a local child, an SSH channel's exit status) instead. Invoke sets
    ``using_pty`` in a command's setup, and its ``stop()`` (always run after) reads it: a Ctrl-C landing
    before the setup got there became an AttributeError (exit 1) in place of the interrupt (exit 130).
    Last, over SSH a command's stdin is written through ``remote.ordered_send``: never after our CLOSE
    of its channel (OpenSSH drops the connection for that), and stdin left unread by a command that has
    ended is not an error (as Invoke ignores a local child's broken pipe). And a Ctrl-C that landed while
    the command was being started (the child forked, Invoke's IO threads not yet up) escaped before
    Invoke's wait could forward it: the run stopped while its command went on unwatched. It is held until
    the wait (`interrupt.hold`), which forwards it, as it does a Ctrl-C during the command. Only for this
    machine's commands: over SSH the start opens a channel, which can hang as long as the network does,
    and a Ctrl-C must still end that."""

    using_pty = False  # until the setup says otherwise

    def start(self, *args: Any, **kwargs: Any) -> None:
        if isinstance(self, Local):
            interrupt.hold()
        super().start(*args, **kwargs)  # type: ignore[misc]

    def stop(self) -> None:
        try:
            super().stop()  # type: ignore[misc]
        finally:
            interrupt.release()  # the wait never came (the start failed): a Ctrl-C held meanwhile is raised

    def wait(self) -> None:
        interrupt.release()
        process = getattr(self, "process", None)
        exit_status = getattr(getattr(self, "channel", None), "status_event", None)
        if isinstance(process, subprocess.Popen):
            try:
                exited = os.pidfd_open(process.pid)  # readable once the child ends (Linux 5.3+)
            except (AttributeError, OSError):
                super().wait()  # type: ignore[misc]
                return
            try:
                self._until(lambda seconds: bool(select.select([exited], [], [], seconds)[0]))
            finally:
                os.close(exited)
            process.poll()  # reaps it when it ended: Invoke reads the exit code from returncode
        elif isinstance(exit_status, threading.Event):
            self._until(exit_status.wait)
        else:
            super().wait()  # type: ignore[misc]

    def _until(self, ended: Callable[[float], bool]) -> None:
        """As Invoke's own loop: until the end, or an IO thread died (Invoke raises its error after the
        wait); a Ctrl-C raises here as it did from Invoke's sleep, and a timeout's kill ends the command."""
        while not ended(0.25) and not self.has_dead_threads:  # type: ignore[attr-defined]
            pass

    def close_proc_stdin(self) -> None:
        channel = getattr(self, "channel", None)
        if channel is None:  # a local child: Invoke closes its pipe
            super().close_proc_stdin()  # type: ignore[misc]
        else:
            from .remote.ordered_send import send_eof

            send_eof(channel)

    def _write_proc_stdin(self, data: bytes) -> None:
        channel = getattr(self, "channel", None)
        if channel is None:
            super()._write_proc_stdin(data)  # type: ignore[misc]
            return
        from .remote.ordered_send import send_all

        send_all(channel, data)  # False: the command ended without reading it all; its exit code says how

    def read_our_stdin(self, input_: Any) -> Any:
        if isinstance(input_, io.StringIO):
            return input_.read(STDIN_BLOCK)
        return super().read_our_stdin(input_)  # type: ignore[misc]

    def read_proc_output(self, reader: Callable) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")  # type: ignore[attr-defined]
        while True:
            data = reader(self.read_chunk_size)  # type: ignore[attr-defined]
            if not data:
                break
            text = decoder.decode(data)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


@functools.lru_cache(maxsize=None)
def _with_fixes(runner_class: type) -> type:
    return type(f"Fixed{runner_class.__name__}", (_RunnerFixes, runner_class), {})


def _fix_runners(runner: Any) -> None:
    """Give the Context's (or Fabric Connection's) runners the fixes of _RunnerFixes."""
    runners = getattr(getattr(runner, "config", None), "runners", None)
    if runners is None:
        return
    for kind in ("local", "remote"):
        cls = runners.get(kind)
        if isinstance(cls, type) and not issubclass(cls, _RunnerFixes):
            runners[kind] = _with_fixes(cls)


class Host:
    """A machine to act on: ``Host.local()`` or ``Host.remote(connection)``."""

    def __init__(self, runner: Any, *, name: str = "local", remote: bool = False, wrap: Wrap | None = None) -> None:
        _fix_runners(runner)
        self._runner = runner
        self.name = name
        self.is_remote = remote
        self._wrap = wrap

    def wrapped(self, wrap: Wrap) -> "Host":
        """This machine, the same connection, with every command run through ``wrap`` (e.g. sudo)."""
        return Host(self._runner, name=self.name, remote=self.is_remote, wrap=wrap)

    @classmethod
    def local(cls, ctx: Context | None = None) -> "Host":
        return cls(ctx if ctx is not None else Context(), name="local", remote=False)

    @classmethod
    def remote(cls, connection: Any, *, name: str | None = None) -> "Host":
        label = name or f"{connection.user}@{connection.host}:{connection.port}"
        return cls(connection, name=label, remote=True)

    @property
    def connection(self) -> Any:
        """The Fabric connection (remote hosts only), for uploads and tunnels."""
        return self._runner

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

    # -- running commands -------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        hint: str = "",
    ) -> RunResult:
        """Run one command given as an argv list; raise CommandFailed if check and it fails."""
        return self.shell(shlex.join(argv), check=check, timeout=timeout, env=env, stdin=stdin, hint=hint)

    def shell(
        self,
        command: str,
        *,
        check: bool = True,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        hint: str = "",
    ) -> RunResult:
        """Run a shell command line. Callers build it from ``shlex.join``-quoted parts."""
        if self._wrap is not None:
            command, env = self._wrap(command, env), None
        kwargs: dict[str, Any] = {"hide": True, "warn": True, "timeout": timeout}
        if env:
            kwargs["env"] = dict(env)
        if stdin is not None:
            kwargs["in_stream"] = io.StringIO(stdin)
        else:
            kwargs["in_stream"] = False
        try:
            result = self._runner.run(command, **kwargs)
        except CommandTimedOut as exc:
            raise CommandFailed(command, None, f"timed out after {timeout}s", host=self.name, hint=hint) from exc
        except UnexpectedExit as exc:  # only if warn was overridden by config
            result = exc.result
        except (socket.timeout, socket.gaierror, ConnectionError, EOFError) as exc:
            raise HostUnreachable(f"cannot reach host: {exc}", host=self.name) from exc
        except Exception as exc:  # paramiko's SSHException and friends, without importing paramiko here
            if type(exc).__module__.startswith("paramiko"):
                raise HostUnreachable(f"SSH failed: {exc}", host=self.name) from exc
            raise
        out = RunResult(command, result.stdout or "", result.stderr or "", result.exited)
        if check and not out.ok:
            raise CommandFailed(command, out.exited, out.stderr or out.stdout, host=self.name, hint=hint)
        return out

    def succeeds(self, argv: Sequence[str], *, timeout: float | None = None) -> bool:
        """True when the command exits 0 (for probes such as `docker image inspect`)."""
        return self.run(argv, check=False, timeout=timeout).ok
