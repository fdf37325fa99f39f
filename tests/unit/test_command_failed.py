"""How a failed command is named in an error: a one-line command whole, a script by its first line."""
from __future__ import annotations

from swiftlib.errors import CommandFailed


def test_a_one_line_command_is_shown_whole_with_its_status_and_stderr_tail() -> None:
    error = CommandFailed("docker rm --force web", 1, "Error: No such container: web\n", host="h1")
    assert str(error) == "[h1] `docker rm --force web` exited 1\n    Error: No such container: web"


def test_a_multi_line_script_is_named_by_its_first_line_not_dumped() -> None:
    script = "sh -c 'LC_ALL=C; export LC_ALL\nroot=$(docker info)\necho one\necho two\n'"
    error = CommandFailed(script, None, "timed out after 30s", hint="is this a Linux host?")
    assert error.message.splitlines()[0] == "`sh -c 'LC_ALL=C; export LC_ALL …` failed"
    assert "echo two" not in error.message and "timed out after 30s" in error.message
    assert error.message.endswith("is this a Linux host?")


def test_a_very_long_command_line_is_cut() -> None:
    error = CommandFailed("x" * 500, 2)
    assert error.message == f"`{'x' * 160} …` exited 2"
