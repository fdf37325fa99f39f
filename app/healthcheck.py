"""Container healthcheck without curl: exit 0 when /healthz answers 200 {"status": "ok"}.

Compose runs it as ["CMD", "python3", "/app/healthcheck.py"]; stdlib only, so it
starts fast and does not import Flask every few seconds.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from app_settings import parse_port

# Below compose's 2 s healthcheck timeout, so we exit 1 ourselves rather than being killed.
TIMEOUT_SECONDS = 1.5


def healthy(port: int, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when GET http://127.0.0.1:<port>/healthz is 200 with status "ok"."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status != 200:
                return False
            body = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):  # URLError/HTTPError/timeouts are OSErrors
        return False
    return isinstance(body, dict) and body.get("status") == "ok"


def main() -> int:
    try:
        port = parse_port(os.environ)
    except ValueError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy(port) else 1


if __name__ == "__main__":
    sys.exit(main())
