"""Container healthcheck without curl: exit 0 when /healthz answers 200 {"status": "ok"}.

Compose runs it as ["CMD", "python3", "/app/healthcheck.py"] every few seconds in every app
container, so it is kept cheap: stdlib sockets and json only. urllib.request would import http.client,
email and ssl on every check, about as much CPU again as Docker's own exec of the check.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time

from app_settings import parse_port

# Below compose's 2 s healthcheck timeout, so we exit 1 ourselves rather than being killed.
TIMEOUT_SECONDS = 1.5
MAX_ANSWER = 64 * 1024  # /healthz answers a few dozen bytes; more is not a health answer


def fetch(port: int, timeout: float) -> bytes:
    """The raw HTTP/1.0 answer to GET /healthz (1.0: the server closes, and never sends chunks)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while len(answer) <= MAX_ANSWER:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no whole answer in time")
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                return answer
            answer += chunk
    raise ValueError("answer too long")


def judge(answer: bytes) -> bool:
    """True for a 200 whose body is the JSON object {"status": "ok", ...}."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status_line) < 2 or status_line[1] != b"200":
        return False
    parsed = json.loads(body.decode("utf-8"))
    return isinstance(parsed, dict) and parsed.get("status") == "ok"


def healthy(port: int, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when GET http://127.0.0.1:<port>/healthz is 200 with status "ok"."""
    try:
        return judge(fetch(port, timeout))
    except (OSError, ValueError):  # refused, reset, timeouts; not UTF-8 or not JSON
        return False


def main() -> int:
    try:
        port = parse_port(os.environ)
    except ValueError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy(port) else 1


if __name__ == "__main__":
    sys.exit(main())
