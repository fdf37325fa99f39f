"""A certificate from an ACME CA (RFC 8555): Let's Encrypt by default, any other directory accepted.

certbot's ``acme`` library speaks the protocol (signed requests, nonces, order polling); this
module only drives it: account (its key kept by the caller), order for ``hosts``, HTTP-01 answers
published through the caller (nginx serves them from the target host), finalize, download.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

USER_AGENT = "swiftdeploy"
# RFC 8555 6.5: a badNonce answer carries a fresh nonce and the request may be sent again. The
# library retries once; a CA may reject several nonces in a row (pebble rejects 5% by design).
BAD_NONCE_ATTEMPTS = 10


class AcmeFailed(Exception):
    """The CA refused or did not finish; the text says what it answered."""


@dataclass(frozen=True)
class Issued:
    chain_pem: bytes
    key_pem: bytes


def new_account_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue(directory: str, hosts: tuple[str, ...], account_key_pem: bytes, *, email: str = "",
          directory_trust: str | bool = True, publish: Callable[[str, str], None],
          unpublish: Callable[[str], None], timeout_seconds: float = 120.0) -> Issued:
    """Order a certificate for ``hosts``; ``publish(token, body)`` must make
    ``http://<host>/.well-known/acme-challenge/<token>`` answer ``body`` until ``unpublish(token)``."""
    import josepy as jose
    from acme import challenges, client, crypto_util, errors, messages

    jwk = jose.JWKRSA(key=serialization.load_pem_private_key(account_key_pem, password=None))
    net = _patient_network(client, messages)(jwk, user_agent=USER_AGENT, verify_ssl=directory_trust)  # type: ignore[arg-type]
    published: list[str] = []
    try:
        acme = client.ClientV2(client.ClientV2.get_directory(directory, net), net=net)
        registration = messages.NewRegistration.from_data(email=email or None, terms_of_service_agreed=True)
        try:
            acme.new_account(registration)
        except errors.ConflictError as known:  # this key already has an account there
            acme.query_registration(messages.RegistrationResource(uri=known.location, body=messages.Registration()))
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        order = acme.new_order(crypto_util.make_csr(key_pem, list(hosts)))
        for authorization in order.authorizations:
            if authorization.body.status == messages.STATUS_VALID:
                continue  # the CA reuses an authorization it validated recently (Let's Encrypt: 30 days)
            http01 = [c for c in authorization.body.challenges if isinstance(c.chall, challenges.HTTP01)]
            if not http01:
                raise AcmeFailed(f"the CA offers no HTTP-01 challenge for {authorization.body.identifier.value}")
            response, validation = http01[0].response_and_validation(jwk)
            token = http01[0].chall.encode("token")
            publish(token, validation)
            published.append(token)
            acme.answer_challenge(http01[0], response)
        deadline = datetime.now() + timedelta(seconds=timeout_seconds)  # the library compares naive local times
        order = acme.poll_and_finalize(order, deadline=deadline)
        return Issued(order.fullchain_pem.encode(), key_pem)
    except errors.ValidationError as exc:
        details = "; ".join(f"{a.body.identifier.value}: {c.error.detail if c.error else c.status}"
                            for a in exc.failed_authzrs for c in a.body.challenges if c.error)
        raise AcmeFailed(f"the CA could not validate the challenge ({details or exc})") from exc
    except errors.TimeoutError as exc:
        raise AcmeFailed(f"the CA did not issue within {timeout_seconds:g}s") from exc
    except (errors.Error, messages.Error) as exc:
        raise AcmeFailed(f"the CA answered: {exc}") from exc
    except OSError as exc:  # requests' connection errors derive from it
        raise AcmeFailed(f"cannot reach the ACME directory {directory}: {exc}") from exc
    finally:
        for token in published:
            unpublish(token)


def _patient_network(client, messages):  # type: ignore[no-untyped-def]
    """The library's network layer, sending a request again on each badNonce answer, up to
    BAD_NONCE_ATTEMPTS times (the answer's own Replay-Nonce is used for the next try)."""

    class PatientNetwork(client.ClientNetwork):  # type: ignore[misc,name-defined]
        def post(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            for _ in range(BAD_NONCE_ATTEMPTS - 1):
                try:
                    return self._post_once(*args, **kwargs)
                except messages.Error as error:
                    if error.code != "badNonce":
                        raise
            return self._post_once(*args, **kwargs)

    return PatientNetwork
