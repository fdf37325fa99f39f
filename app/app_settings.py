"""Service settings read from the environment (stdlib only).

Shared by the Flask app, gunicorn.conf.py and healthcheck.py, so the three never
disagree about defaults. Invalid values raise ValueError at start-up: a container
with a typo in MODE should crash loudly, not serve as the wrong mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

MODES = ("stable", "canary")
DEFAULT_MODE = "stable"
DEFAULT_VERSION = "0.0.0"
DEFAULT_PORT = 3000
# gunicorn's threads in the one worker (gunicorn.conf.py); slow chaos may hold all but one of them,
# so /chaos (recover), /healthz and /metrics always find a thread.
THREADS = 4


@dataclass(frozen=True)
class Settings:
    mode: str
    version: str
    port: int

    @property
    def is_canary(self) -> bool:
        return self.mode == "canary"


def parse_port(env: Mapping[str, str]) -> int:
    """APP_PORT as an int in 1-65535 (default 3000); ValueError names the variable."""
    raw = env.get("APP_PORT", "").strip() or str(DEFAULT_PORT)
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"APP_PORT: must be an integer 1-65535, got {raw!r}")
    return port


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read MODE, APP_VERSION and APP_PORT from ``env`` (usually os.environ)."""
    mode = env.get("MODE", "").strip() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"MODE: must be one of {', '.join(MODES)}, got {mode!r}")
    version = env.get("APP_VERSION", "").strip() or DEFAULT_VERSION
    return Settings(mode=mode, version=version, port=parse_port(env))
