"""The HTTP seam: small GET/POST helpers over the standard library's http.client, errors translated.

Every URL asked here is the stack's own (the app, nginx, OPA, Prometheus): on loopback, at the end of
an SSH tunnel, or the public port of the host just deployed to. It is asked directly: a proxy from the
environment (``HTTP_PROXY``) is never used, as OPA's sidecar engine never used one. requests sent them
through the proxy, so with a proxy set a health check asked the proxy for 127.0.0.1 and failed; and
requests cost every command 50 ms of imports.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
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
        return HttpAnswer(response.status, _text(response), dict(response.getheaders()))
    except (OSError, http.client.HTTPException) as exc:
        raise HttpUnavailable(f"GET {url} failed: {exc}") from exc
    finally:
        connection.close()


def post_json(url: str, payload: Any, *, timeout: float) -> HttpAnswer:
    return _request("POST", url, timeout=timeout, body=json.dumps(payload).encode(),
                    headers={"Content-Type": "application/json"})


def _request(method: str, url: str, *, timeout: float, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> HttpAnswer:
    """One request, no redirect followed; an https:// URL is verified against the system's CA store."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpUnavailable(f"{method} {url} failed: not an http(s) URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return HttpAnswer(response.status, _text(response), dict(response.getheaders()))
    except (socket.timeout, TimeoutError) as exc:
        raise HttpUnavailable(f"no answer from {url} within {timeout:g}s") from exc
    except ssl.SSLCertVerificationError as exc:
        raise HttpUnavailable(f"{url}: the certificate does not verify: {exc.verify_message}") from exc
    except OSError as exc:
        raise HttpUnavailable(f"cannot connect to {url}: {_root_cause(exc)}") from exc
    except (http.client.HTTPException, ValueError) as exc:
        raise HttpUnavailable(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()


def _text(response: http.client.HTTPResponse) -> str:
    """The body in the charset its Content-Type names (UTF-8 if none or unknown), bad bytes replaced."""
    data = response.read()
    charset = response.headers.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc)
    return "connection refused" if "refused" in text.lower() else text
