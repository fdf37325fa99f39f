from __future__ import annotations

import pytest

from swiftlib.inventory.ranges import expand_host_pattern, parse_address


@pytest.mark.parametrize("pattern,names", [
    ("web[01:03].example.com", ["web01.example.com", "web02.example.com", "web03.example.com"]),
    ("h[1:10:4]", ["h1", "h5", "h9"]),
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("n[8:11]", ["n8", "n9", "n10", "n11"]),
    ("x[:2]", ["x0", "x1", "x2"]),
    ("e[0:2:2]-[b:d:2]", ["e0-b", "e0-d", "e2-b", "e2-d"]),
    ("c[001:002]", ["c001", "c002"]),
    ("plain", ["plain"]),
])
def test_ranges(pattern: str, names: list[str]) -> None:
    assert expand_host_pattern(pattern) == (names, None)


@pytest.mark.parametrize("pattern,host,port", [
    ("web1:2222", "web1", 2222),
    ("10.0.0.1:22", "10.0.0.1", 22),
    ("[2001:db8::1]:2201", "2001:db8::1", 2201),
    ("2001:db8::2", "2001:db8::2", None),
    ("web[1:2]:2200", "web[1:2]", 2200),
])
def test_address_and_port(pattern: str, host: str, port: int | None) -> None:
    assert parse_address(pattern) == (host, port)


def test_port_with_range_expands_with_the_port() -> None:
    assert expand_host_pattern("web[1:2]:2200") == (["web1", "web2"], 2200)


def test_not_an_address_is_kept_whole() -> None:
    assert expand_host_pattern("web5:0x10") == (["web5:0x10"], None)


@pytest.mark.parametrize("pattern,message", [
    ("web[01:3]", "same number of digits"),
    ("web[1:3", "unterminated"),
    ("web[1:2:3:4]", "begin:end or begin:end:step"),
    ("web[1:]", "end value"),
    ("web[c:a]", "begin <= end"),
    ("web[1:3:x]", "not an integer"),
    ("web1:", "reserved for a port"),
    ("---", "YAML"),
])
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand_host_pattern(pattern)
