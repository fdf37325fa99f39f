"""The HTTP seam: small JSON GET/POST helpers over requests, errors translated."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class HttpUnavailable(Exception):
    """No HTTP answer at all (refused, reset, timed out); the text says which."""


@dataclass(frozen=True)
class TlsCheck:
    """How an https:// URL is verified: the name the certificate must carry (sent as SNI, whatever
    address the URL connects to, e.g. an SSH tunnel's loopback port) and the CA bundle to trust
    (None: the system's store)."""

    server_name: str
    ca_file: str | None = None


def get(url: str, *, timeout: float, tls: TlsCheck | None = None) -> HttpAnswer:
    if tls is not None:
        return _get_verified(url, timeout, tls)
    return _request("GET", url, timeout=timeout)


def _get_verified(url: str, timeout: float, tls: TlsCheck) -> HttpAnswer:
    """GET over TLS verified as a browser would for ``tls.server_name`` (chain, name, dates)."""
    import http.client
    import socket
    import ssl
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise HttpUnavailable(f"cannot load the CA bundle {tls.ca_file}: {exc}") from exc
    try:
        raw = socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout)
    except OSError as exc:
        raise HttpUnavailable(f"cannot connect to {url}: {_root_cause(exc)}") from exc
    try:
        wrapped = context.wrap_socket(raw, server_hostname=tls.server_name)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        raise HttpUnavailable(f"{url}: the certificate does not verify for {tls.server_name}: "
                              f"{exc.verify_message}") from exc
    except (OSError, ssl.SSLError) as exc:
        raw.close()
        raise HttpUnavailable(f"{url}: TLS handshake failed: {exc}") from exc
    connection = http.client.HTTPConnection(tls.server_name, parts.port or 443, timeout=timeout)
    connection.sock = wrapped
    try:
        connection.request("GET", parts.path or "/", headers={"Host": tls.server_name})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return HttpAnswer(response.status, body, dict(response.getheaders()))
    except (OSError, http.client.HTTPException) as exc:
        raise HttpUnavailable(f"GET {url} failed: {exc}") from exc
    finally:
        connection.close()


def post_json(url: str, payload: Any, *, timeout: float) -> HttpAnswer:
    return _request("POST", url, timeout=timeout, json=payload)


def _request(method: str, url: str, *, timeout: float, **kwargs: Any) -> HttpAnswer:
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise HttpUnavailable(f"no answer from {url} within {timeout:g}s") from exc
    except requests.ConnectionError as exc:
        raise HttpUnavailable(f"cannot connect to {url}: {_root_cause(exc)}") from exc
    except requests.RequestException as exc:
        raise HttpUnavailable(f"{method} {url} failed: {exc}") from exc
    return HttpAnswer(response.status_code, response.text, dict(response.headers))


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc)
    return "connection refused" if "refused" in text.lower() else text
