"""Host patterns in inventory files: `name:port` and `[a:b:step]` ranges.

Mirrors Ansible's `parse_address` + `expand_hostname_range`, so `web[01:03]`,
`db[a:c]`, `h[1:10:2]` and `host:2222` expand exactly as `ansible-inventory` does.
Pure: raises ValueError with a user-facing message; the parsers add file and line.
"""
from __future__ import annotations

import ipaddress
import itertools
import math
import re
import string
from typing import Sequence

from swiftlib.inventory.limits import MAX_HOSTS

_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:[\w]|{_RANGE})(?:[\w_-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)
_IPV4_PART = r"(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|\[[0-9]+:[0-9]+(?::[0-9]+)?\])"
_IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$")
_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
# one colon outside brackets: the host part may hold complete [x:y] ranges
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")


def _is_address(text: str) -> bool:
    if _IPV4.match(text) or _HOSTNAME.match(text):
        return True
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def parse_address(pattern: str) -> tuple[str, int | None] | None:
    """`host:2222` -> ("host", 2222), `[::1]:22` -> ("::1", 22); None when the text
    is no host name, IPv4 or IPv6 address (ranges allowed), as Ansible decides."""
    host, port = pattern, None
    for regex in (_BRACKETED_HOSTPORT, _HOSTPORT):
        m = regex.match(host)
        if m:
            host, port = m.group(1), int(m.group(2))
    return (host, port) if _is_address(host) else None


def split_host_port(pattern: str) -> tuple[str, int | None]:
    """Like parse_address, but text that is no address is kept whole with no
    port, as Ansible does for inventory host keys."""
    return parse_address(pattern) or (pattern, None)


def _range_items(body: str, pattern: str) -> tuple[Sequence[object], int]:
    """The items of one `begin:end(:step)` range body (a `range` for numbers, so
    that its length is known without building it) and their zero-padded width."""
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range [{body}] in {pattern!r} must be begin:end or begin:end:step")
    beg, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range [{body}] in {pattern!r} must specify an end value")
    try:
        step = int(step_text)
    except ValueError:
        raise ValueError(f"host range step {step_text!r} in {pattern!r} is not an integer") from None
    if step <= 0:
        raise ValueError(f"host range step in {pattern!r} must be a positive integer")
    width = len(beg) if beg[0] == "0" and len(beg) > 1 else 0
    if width and width != len(end):
        raise ValueError(f"host range [{body}] in {pattern!r}: begin and end need the same number of digits")
    letters = string.ascii_letters
    if beg in letters and end in letters:
        if letters.index(beg) > letters.index(end):
            raise ValueError(f"host range [{body}] in {pattern!r} must have begin <= end")
        return letters[letters.index(beg): letters.index(end) + 1: step], 0
    try:
        return range(int(beg), int(end) + 1, step), width
    except ValueError:
        raise ValueError(f"host range [{body}] in {pattern!r} is neither numeric nor a single-letter range") from None


def expand_ranges(pattern: str, limit: int = MAX_HOSTS) -> list[str]:
    """Expand every `[begin:end(:step)]` in a host name, left to right.

    The number of names is computed first: more than `limit` raises ValueError
    before anything is expanded. Like Ansible, a range after an empty one is
    not looked at.
    """
    heads: list[str] = []
    ranges: list[tuple[Sequence[object], int]] = []
    rest = pattern
    while "[" in rest:
        if "]" not in rest or rest.index("]") < rest.index("["):
            raise ValueError(f"unterminated host range in {pattern!r}: expected [begin:end] or [begin:end:step]")
        head, rest = rest.split("[", 1)
        body, rest = rest.split("]", 1)
        items, width = _range_items(body, pattern)
        if not items:
            return []
        heads.append(head)
        ranges.append((items, width))
    count = math.prod(len(items) for items, _ in ranges)
    if count > limit:
        raise ValueError(f"host range {pattern!r} expands to {count:,} hosts, more than the "
                         f"{limit:,} one inventory may hold (MAX_HOSTS)")
    texts = [[str(item).zfill(width) for item in items] for items, width in ranges]
    return ["".join(h + t for h, t in zip(heads, combo)) + rest for combo in itertools.product(*texts)]


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """A host key/token -> (host names, port or None). Raises ValueError."""
    host, port = split_host_port(pattern)
    if pattern.strip().endswith(":") and port is None:
        raise ValueError(f"host {pattern!r} ends in ':' (reserved for a port, e.g. {pattern.rstrip(':')}:2222)")
    names = expand_ranges(host)
    if any(n.strip() == "---" for n in names):
        raise ValueError("'---' is not a host name: is this a YAML file with an .ini extension?")
    return names, port
