"""Name a secret's value without revealing it: HMAC-SHA256 under a key kept outside the project.

The key is made once (32 random bytes, mode 0600) in SwiftDeploy's state directory (the one the
audit seal uses), so a fingerprint in the audit trail or a compose label tells whether a value
changed, and nothing about the value to anyone without that key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets as random_bytes
from typing import Mapping

from ..audit.seal import state_dir
from ..errors import ConfigError

KEY_FILE = "secrets.key"


def key() -> bytes:
    """The fingerprint key, created on first use (ConfigError when the state directory is unusable)."""
    path = state_dir() / KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read the secrets fingerprint key {path}: {exc.strerror}") from None
    # Written whole under a name of its own, then linked into place: a run that starts meanwhile finds
    # no key or the whole key, never the empty file an exclusive create shows before its write.
    part = path.with_name(f"{KEY_FILE}.{os.getpid()}.{random_bytes.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(random_bytes.token_bytes(32))
            out.flush()
            os.fsync(out.fileno())
        os.link(part, path)
    except FileExistsError:
        pass  # another run made it first: use theirs
    except OSError as exc:
        raise ConfigError(f"cannot create the secrets fingerprint key {path}: {exc.strerror}") from None
    finally:
        part.unlink(missing_ok=True)
    return path.read_bytes()


def fingerprint(secret_key: bytes, name: str, value: str) -> str:
    """16 hex digits naming ``value`` of secret ``name`` (pure)."""
    return hmac.new(secret_key, f"{name}\0{value}".encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def combined(fingerprints: Mapping[str, str]) -> str:
    """One fingerprint for the whole set (a label that changes when any value does) (pure)."""
    text = "\n".join(f"{name}={fp}" for name, fp in sorted(fingerprints.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
