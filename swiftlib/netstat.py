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
        if fields[3] != LISTEN:
            continue
        try:
            port = int(port_hex, 16)
        except ValueError:
            continue
        ports.setdefault(port, set()).add(address)
    return ports


def is_loopback(address_hex: str) -> bool:
    """True for 127.0.0.0/8 (IPv4, little-endian hex) and ::1 (IPv6 hex)."""
    if len(address_hex) == 8:
        return address_hex[-2:] == "7F"
    return address_hex == "00000000000000000000000001000000"
