"""What the controller keeps for TLS, outside git: the project CA and the ACME account keys.

``.swiftdeploy/ca/`` holds the local CA (``ca.pem`` to give to clients, ``ca.key`` 0600) and
``.swiftdeploy/acme/`` one account key per ACME directory (0600). Both directories are 0700.
Certificates for ``tls.source: files`` are read from the paths the manifest names, inside the
project. Every read names the file it could not use (ConfigError, exit 2).
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_text, read_regular_text
from ..manifest.model import Manifest
from ..workspace import inside
from . import acme_issue, local_ca

CA_DIR = ".swiftdeploy/ca"
ACME_DIR = ".swiftdeploy/acme"
PEM_LIMIT = 1024 * 1024


def _private_dir(root: Path, name: str) -> Path:
    directory = Path(inside(str(root), name))
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def ca_file(root: Path) -> Path:
    return Path(inside(str(root), f"{CA_DIR}/ca.pem"))


def project_ca(root: Path, project_name: str, now: datetime, *, create: bool) -> tuple[bytes, bytes] | None:
    """(CA certificate, CA key) of this project, made on first use when ``create``; None when absent."""
    cert_path, key_path = ca_file(root), Path(inside(str(root), f"{CA_DIR}/ca.key"))
    if cert_path.exists() or key_path.exists():
        return read_pem(root, str(cert_path), "the project CA certificate"), \
            read_pem(root, str(key_path), "the project CA key")
    if not create:
        return None
    cert, key = local_ca.new_ca(project_name, now)
    _private_dir(root, CA_DIR)
    atomic_write_text(key_path, key.decode(), mode=0o600)  # the key first: a CA without it is useless
    atomic_write_text(cert_path, cert.decode(), mode=0o644)
    return cert, key


def account_key(root: Path, directory: str, *, create: bool) -> bytes | None:
    """The ACME account key for ``directory`` (one account per CA), made on first use when ``create``."""
    name = hashlib.sha256(directory.encode()).hexdigest()[:16]
    path = Path(inside(str(root), f"{ACME_DIR}/account-{name}.key"))
    if path.exists():
        return read_pem(root, str(path), "the ACME account key")
    if not create:
        return None
    key = acme_issue.new_account_key()
    _private_dir(root, ACME_DIR)
    atomic_write_text(path, key.decode(), mode=0o600)
    return key


def read_pem(root: Path, path: str, what: str, *, key: str | None = None) -> bytes:
    """A PEM file's bytes; ConfigError naming ``key`` (the manifest field) and the file when unusable."""
    full = Path(path) if os.path.isabs(path) else Path(root, path)
    try:
        return read_regular_text(full, PEM_LIMIT, what).encode()
    except FileNotFoundError as exc:
        raise ConfigError(f"{key + ': ' if key else ''}{full}: no such file ({what})") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{key + ': ' if key else ''}{full}: cannot read {what}: {exc}") from exc


def files_source(root: Path, manifest: Manifest) -> tuple[bytes, bytes]:
    """(chain, key) that ``tls.files`` names, both inside the project directory."""
    files = manifest.tls.files  # type: ignore[union-attr]
    chain = read_pem(root, inside(str(root), files.certificate), "the certificate chain", key="tls.files.certificate")
    key = read_pem(root, inside(str(root), files.key), "the private key", key="tls.files.key")
    return chain, key


def trust_file(root: Path, manifest: Manifest) -> str | None:
    """The CA bundle a client should trust for this deployment's certificate (None: the system's store)."""
    tls = manifest.tls
    if tls is None:
        return None
    if tls.ca_file:
        return tls.ca_file if os.path.isabs(tls.ca_file) else str(Path(root, tls.ca_file))
    if tls.source == "local":
        return str(ca_file(root))
    return None
