"""swiftlib.netstat: listening ports from /proc/net/tcp{,6} samples.

captured_* were read from a real machine (checked against `ss -ltn` at capture time);
handmade_* cover states, odd lines and address kinds a test machine rarely has.
The expected answers are in tests/fixtures/netstat/expected.yaml.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swiftlib.netstat import is_loopback, listening_ports

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "netstat"
EXPECTED = yaml.safe_load((FIXTURES / "expected.yaml").read_text())


def sample(name: str) -> str:
    return (FIXTURES / name).read_text()


def loopback_only(ports: dict[int, set[str]]) -> list[int]:
    return sorted(port for port, addresses in ports.items() if all(map(is_loopback, addresses)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_listening_ports_match_the_expected_table(name: str):
    ports = listening_ports(sample(name))
    assert ports == {int(p): set(a) for p, a in EXPECTED[name]["listening"].items()}
    assert loopback_only(ports) == sorted(EXPECTED[name]["loopback_only"])


def test_cat_of_both_files_merges_ipv4_and_ipv6():
    # commands.listening_sockets() is `cat /proc/net/tcp /proc/net/tcp6`: two headers, one text.
    ports = listening_ports(sample("handmade_tcp.txt") + sample("handmade_tcp6.txt"))
    assert ports[8080] == {"00000000", "00000000000000000000000000000000"}
    assert 8100 in ports and 22 in ports


def test_only_listen_state_counts():
    ports = listening_ports(sample("handmade_tcp.txt"))
    # 8082 ESTABLISHED, 54321 SYN_SENT, 8083 TIME_WAIT, 8084 CLOSE: none is listening
    assert not {8082, 54321, 8083, 8084} & set(ports)
    ports6 = listening_ports(sample("captured_tcp6.txt"))
    assert 45242 not in ports6  # the client end of an established ::1 connection


@pytest.mark.parametrize("text", ["", "\n\n", "not /proc at all", "sl local_address\n"])
def test_empty_or_foreign_text_gives_no_ports(text: str):
    assert listening_ports(text) == {}


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("0100007F", True),                                    # 127.0.0.1
        ("3500007F", True),                                    # 127.0.0.53
        ("0100007f", True),                                    # lowercase hex
        ("00000000", False),                                   # 0.0.0.0
        ("0500000A", False),                                   # 10.0.0.5
        ("7F000001", False),                                   # 1.0.0.127, not loopback
        ("00000000000000000000000001000000", True),            # ::1
        ("00000000000000000000000000000000", False),           # ::
        ("0000000000000000FFFF00000100007F", True),            # ::ffff:127.0.0.1
        ("0000000000000000ffff00000100007f", True),            # same, lowercase
        ("0000000000000000FFFF00000500000A", False),           # ::ffff:10.0.0.5
        ("0000000000000000FFFF00000000007F", True),            # ::ffff:127.0.0.0
        ("0000000000000000FFFE00000100007F", False),           # not the mapped prefix
        ("000080FE00000000FF6DF5020100A8C0", False),           # fe80::...
        ("B80D0120000000000000000001000000", False),           # 2001:db8::1
        ("", False),
    ],
)
def test_is_loopback(address: str, loopback: bool):
    assert is_loopback(address) is loopback
