"""Text made safe for a terminal: values from a manifest or inventory are shown, never obeyed.

A manifest may hold ``"\\e]0;title\\a"`` or ``"\\e[2J"`` in a quoted string; echoed raw in an
error message it would retitle or clear the user's terminal, or hide the real message. Every
line SwiftDeploy prints goes through ``printable``: control characters (C0 except newline
and tab, DEL, C1) and the bidirectional overrides that can reorder what is read become
visible escapes (``\\x1b``, ``\\u202e``). Pure.
"""
from __future__ import annotations

import re

# C0 without \t and \n, DEL, C1; bidi embeddings/overrides/isolates (Trojan Source).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every unsafe character written as an escape; safe text is returned as is."""
    return _UNSAFE.sub(_escape, text)
