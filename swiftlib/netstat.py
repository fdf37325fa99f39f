"""Parse listening TCP ports out of /proc/net/tcp and /proc/net/tcp6 (pure)."""
from __future__ import annotations

LISTEN = "0A"


def listening_ports(proc_net_tcp: str) -> dict[int, set[str]]:
    """Port -> local addresses (hex as in /proc) of sockets in LISTEN state."""
    ports: dict[int, set[str]] = {}
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or ":" not in fields[1]:
            continue
        address, _, port_hex = fields[1].rpartition(":")
        if fields[3].upper() != LISTEN:
            continue
        try:
            port = int(port_hex, 16)
        except ValueError:
            continue
        ports.setdefault(port, set()).add(address)
    return ports


def is_loopback(address_hex: str) -> bool:
    """True for 127.0.0.0/8 (IPv4, little-endian hex), ::1 and ::ffff:127.0.0.0/104 (IPv6 hex).

    /proc prints an IPv6 address as four 32-bit words, each in host (little-endian) order,
    so ::1 is ...01000000 and the IPv4-mapped ::ffff:127.0.0.1 is ...FFFF00000100007F.
    """
    address = address_hex.upper()
    if len(address) == 8:
        return address[-2:] == "7F"
    if len(address) == 32 and address.startswith("0000000000000000FFFF0000"):
        return address[-2:] == "7F"
    return address == "00000000000000000000000001000000"
