"""The project's own certificate authority, for ``tls.source: local`` (like Caddy's ``tls internal``).

Made once per project on the controller and kept outside git (``.swiftdeploy/ca/``, the key 0600);
each deploy target gets a leaf for ``tls.hosts`` signed by it. Clients trust the CA certificate
(the README says how), never a leaf, so renewing a leaf changes nothing for them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .certinfo import _is_ip

CA_YEARS = 10
LEAF_DAYS = 90  # as an ACME CA would: short enough that renewal is routine, not an event


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def new_ca(project_name: str, now: datetime) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a new CA that may sign leaves only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SwiftDeploy local CA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"SwiftDeploy local CA ({project_name})")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_leaf(ca_pem: bytes, ca_key_pem: bytes, hosts: tuple[str, ...], now: datetime,
               days: int = LEAF_DAYS) -> tuple[bytes, bytes]:
    """(chain PEM: the leaf then the CA, key PEM) of a server certificate for ``hosts``."""
    import ipaddress

    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    alt = [x509.IPAddress(ipaddress.ip_address(h)) if _is_ip(h) else x509.DNSName(h) for h in hosts]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    return chain, _key_pem(key)


def self_signed(hosts: tuple[str, ...], now: datetime, days: int = 1) -> tuple[bytes, bytes]:
    """A throwaway certificate that lets nginx start before an ACME CA has issued the real one."""
    ca_pem, ca_key = new_ca("placeholder", now)
    chain, key = issue_leaf(ca_pem, ca_key, hosts, now, days)
    return chain, key
