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
