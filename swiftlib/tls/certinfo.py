"""What a certificate chain says and whether it can serve the configured names (pure).

``problems`` is the check `validate` and `deploy` run on ``tls.source: files`` (and on what the
other sources produce): the key matches the leaf, each certificate is signed by the next one, the
chain verifies to a trusted root when one is known (cryptography's X.509 verifier, the rules web
clients apply), the names cover every ``tls.hosts`` entry, and the leaf is valid now.
"""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class CertInfo:
    """One leaf certificate as `inv certs` shows it."""

    names: tuple[str, ...]
    issuer: str
    not_before: datetime
    not_after: datetime
    serial: str
    fingerprint: str  # sha256 of the DER, hex

    @property
    def not_after_text(self) -> str:
        return _iso(self.not_after)

    def days_left(self, now: datetime) -> float:
        return round((self.not_after - now).total_seconds() / 86400, 2)

    def to_dict(self, now: datetime) -> dict:
        return {"names": list(self.names), "issuer": self.issuer, "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after), "days_left": self.days_left(now), "serial": self.serial,
                "sha256": self.fingerprint}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, leaf first; ValueError when there is none or one is broken."""
    if PEM_BEGIN not in pem:
        raise ValueError("no PEM certificate in it")
    return x509.load_pem_x509_certificates(pem)


def names_of(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(san.get_values_for_type(x509.DNSName)) + tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))


def _issuer(cert: x509.Certificate) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        found = cert.issuer.get_attributes_for_oid(oid)
        if found:
            return str(found[0].value)
    return cert.issuer.rfc4514_string()


def describe(cert: x509.Certificate) -> CertInfo:
    return CertInfo(names=names_of(cert), issuer=_issuer(cert), not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc, serial=format(cert.serial_number, "x"),
                    fingerprint=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest())


def covers(names: tuple[str, ...], host: str) -> bool:
    """Whether a certificate naming ``names`` serves ``host`` (a wildcard covers exactly one label)."""
    host = host.lower().rstrip(".")
    for name in (n.lower() for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:] and not _is_ip(host):
            return True
    return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def key_matches(cert: x509.Certificate, key_pem: bytes) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            == cert.public_key().public_bytes(serialization.Encoding.DER, spki))


def problems(chain_pem: bytes, key_pem: bytes | None, hosts: tuple[str, ...], now: datetime,
             trusted: list[x509.Certificate] | None = None) -> list[str]:
    """Why this chain (and key) cannot serve ``hosts`` now; [] when it can. Each problem is a sentence."""
    try:
        chain = load_chain(chain_pem)
    except ValueError as exc:
        return [f"not a PEM certificate chain ({exc})"]
    leaf = chain[0]
    found: list[str] = []
    if key_pem is not None:
        try:
            if not key_matches(leaf, key_pem):
                found.append("the key does not belong to the certificate (their public keys differ)")
        except (ValueError, TypeError) as exc:
            found.append(f"the key is not an unencrypted PEM private key ({exc})")
    for number, (child, parent) in enumerate(zip(chain, chain[1:]), start=1):
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError):
            found.append(f"certificate {number} is not signed by certificate {number + 1} in the file "
                         "(the chain must run leaf first, each followed by its issuer)")
    info = describe(leaf)
    missing = [h for h in hosts if not covers(info.names, h)]
    if missing:
        found.append(f"it does not name {', '.join(missing)} (it names {', '.join(info.names) or 'nothing'})")
    if now >= info.not_after:
        found.append(f"it expired on {_iso(info.not_after)}")
    elif now < info.not_before:
        found.append(f"it is not valid before {_iso(info.not_before)}")
    if trusted and not found:
        found.extend(_verify(chain, hosts, now, trusted))
    return found


def _verify(chain: list[x509.Certificate], hosts: tuple[str, ...], now: datetime,
            trusted: list[x509.Certificate]) -> list[str]:
    """The chain as a web client checks it, for each host, against ``trusted`` roots."""
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    builder = PolicyBuilder().store(Store(trusted)).time(now)
    for host in hosts:
        subject = x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host)
        try:
            builder.build_server_verifier(subject).verify(chain[0], chain[1:])
        except VerificationError as exc:
            return [f"it does not verify against the trusted CA for {host}: {exc}"]
    return []


def load_trust(pem: bytes) -> list[x509.Certificate]:
    return load_chain(pem)

