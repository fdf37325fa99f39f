"""A string given as a command's stdin reaches it whole and at once, and its output comes back whole (this
machine's runner).

Invoke's runners read ``in_stream`` one byte per 10 ms: 36 KB took six minutes, and 2 KB of
compose file 23 s. The over-SSH runner is tested against real sshd (test_remote_workspace)."""
from __future__ import annotations

from swiftlib.host import Host


def test_a_string_given_as_stdin_reaches_the_local_command_whole():
    text = "".join(f"line {i}\n" for i in range(4000)) + "é\n"  # 37 KB; the multibyte line ends it
    result = Host.local().run(["sh", "-c", "cat; echo end"], stdin=text, timeout=10)
    assert result.stdout == text + "end\n"



def test_output_with_multibyte_characters_is_decoded_whole():
    """Invoke decoded each 1000-byte chunk alone: an 'é' split between two chunks became two '\ufffd'."""
    text = "".join(f"line {i}: é\n" for i in range(3000))
    result = Host.local().run(["sh", "-c", "cat"], stdin=text, timeout=10)
    assert result.stdout == text


# The end of a command is waited for on the process itself, not Invoke's 10 ms polling loop; what
# Invoke's loop guaranteed must still hold.

def test_exit_codes_and_output_come_back_from_many_short_commands():
    host = Host.local()
    assert [host.run(["sh", "-c", f"echo {i}; exit {i % 3}"], check=False).exited for i in range(20)] == \
        [i % 3 for i in range(20)]
    assert host.run(["sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' a"]).stdout == "a" * 2_000_000


def test_a_timeout_still_ends_the_command():
    import time

    import pytest

    from swiftlib.errors import CommandFailed

    started = time.monotonic()
    with pytest.raises(CommandFailed, match="timed out after 0.3s"):
        Host.local().run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - started < 5


def test_an_output_reader_that_dies_ends_the_wait_instead_of_hanging(monkeypatch):
    """Invoke's loop stopped waiting when an IO thread died (then raised its error); so must this wait."""
    import time

    import pytest
    from invoke.exceptions import ThreadException
    from invoke.runners import Runner

    def broken(self, *args, **kwargs):
        raise RuntimeError("reader broke")

    monkeypatch.setattr(Runner, "handle_stdout", broken)
    started = time.monotonic()
    with pytest.raises(ThreadException, match="reader broke"):
        Host.local().run(["sleep", "3"])
    assert time.monotonic() - started < 2.5


def test_a_ctrl_c_before_the_command_starts_stays_a_ctrl_c(monkeypatch):
    """Invoke's stop() (always run after a command) read ``using_pty``, which only its setup sets: a Ctrl-C
    landing in the setup came out as AttributeError, and the run ended with exit 1, not 130."""
    import pytest
    from invoke.runners import Runner

    def pressed(self, command, kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "_setup", pressed)
    with pytest.raises(KeyboardInterrupt):
        Host.local().run(["true"], timeout=10)
