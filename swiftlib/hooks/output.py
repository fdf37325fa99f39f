"""What is kept of a hook's output: the last lines, bounded, safe to print (pure).

A hook may print without end; ``OutputTail`` keeps only the last ``keep_bytes`` of the
stream while it is read, and ``text()`` gives at most ``max_lines`` lines of at most
``max_line_chars`` characters each, preceded by a note of how many earlier lines were left
out. Bytes that are not UTF-8 become U+FFFD; control characters (C0, DEL, C1) and the
Unicode bidirectional controls are escaped (``\\x1b``, ``\\u202e``), so a hook cannot move the
cursor, recolour or clear the terminal that prints its output, or reorder what is shown. Tabs
stay; ``\\r\\n`` is a line break, a lone ``\\r`` is escaped (no overwriting a line).
"""
from __future__ import annotations

import re

MAX_LINES = 20
MAX_LINE_CHARS = 400
KEEP_BYTES = 64 * 1024

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f" + _BIDI + "]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character escaped, tabs kept (newlines escaped too: split lines first)."""
    return _UNSAFE.sub(_escape_one, text)


class OutputTail:
    """The end of a byte stream, fed chunk by chunk, in bounded memory."""

    def __init__(self, *, max_lines: int = MAX_LINES, max_line_chars: int = MAX_LINE_CHARS,
                 keep_bytes: int = KEEP_BYTES) -> None:
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self.keep_bytes = keep_bytes
        self.total_bytes = 0
        self._newlines = 0
        self._last_byte = b""
        self._buf = bytearray()
        self._cut = False  # the start of the stream was dropped

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total_bytes += len(chunk)
        self._newlines += chunk.count(b"\n")
        self._last_byte = chunk[-1:]
        self._buf += chunk
        if len(self._buf) > 2 * self.keep_bytes:  # trim in big steps, not on every chunk
            del self._buf[: len(self._buf) - self.keep_bytes]
            self._cut = True

    @property
    def total_lines(self) -> int:
        """Lines in the whole stream (a last line without a newline counts)."""
        if not self.total_bytes:
            return 0
        return self._newlines + (0 if self._last_byte == b"\n" else 1)

    def lines(self) -> list[str]:
        """The last lines kept, decoded, cut to ``max_line_chars`` and escaped."""
        text = bytes(self._buf).decode("utf-8", errors="replace").replace("\r\n", "\n")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if self._cut and len(lines) > 1:
            lines.pop(0)  # begins somewhere inside a line that was dropped
        shown = lines[-self.max_lines:] if self.max_lines > 0 else []
        out = []
        for line in shown:
            if len(line) > self.max_line_chars:
                line = line[: self.max_line_chars] + "…"
            out.append(escape_controls(line))
        return out

    def text(self) -> str:
        """``lines()`` joined by newlines, after a note when earlier lines were left out."""
        lines = self.lines()
        omitted = self.total_lines - len(lines)
        if omitted > 0:
            lines.insert(0, f"[... {omitted} earlier line{'s' if omitted != 1 else ''} not shown]")
        return "\n".join(lines)
