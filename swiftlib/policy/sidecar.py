"""The OPA sidecar engine: the same policies, asked over OPA's REST API.

OPA's contract (its REST API documentation): ``POST /v1/data/<path>`` with ``{"input": ...}`` answers
``200 {"result": ...}``; an undefined document answers ``200 {}``; malformed input answers
``400 {"code", "message"}``; ``GET /health`` answers ``200 {}`` when ready.

Every way the exchange can go wrong is its own PolicyEngineError ``reason`` with its own
message, and every one of them fails closed (exit code 4):
``connection_refused``, ``unavailable``, ``timeout``, ``http_status``, ``not_json``,
``no_result``, ``bad_shape`` (and ``bad_input`` before anything is sent).
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import requests

from ..errors import PolicyEngineError
from .decision import Decision, decision_entrypoint, input_body


class SidecarEngine:
    """Ask an OPA server (usually the compose sidecar on 127.0.0.1:8181, or a tunnel to it)."""

    name = "sidecar"

    def __init__(self, base_url: str, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        # OPA is on loopback or behind an SSH tunnel; a proxy from the environment must not intercept it.
        self._session.trust_env = False

    def __repr__(self) -> str:
        return f"SidecarEngine({self.base_url!r}, timeout={self.timeout})"

    def close(self) -> None:
        self._session.close()

    def wait_ready(self, deadline_seconds: float, *, interval: float = 0.2) -> None:
        """Poll GET /health until it answers 200; raise PolicyEngineError(reason="unavailable")."""
        url = f"{self.base_url}/health"
        deadline = time.monotonic() + deadline_seconds
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = self._session.get(url, timeout=max(0.05, min(self.timeout, remaining)))
                if response.status_code == 200:
                    return
                last = f"GET /health answered HTTP {response.status_code}"
            except requests.RequestException as exc:
                last = _why_unreachable(exc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # What is unreachable and why, in words; what to do depends on the stack (lifecycle.gates).
                raise PolicyEngineError(
                    f"the OPA sidecar at {self.base_url} was not ready within {deadline_seconds:g}s: {last}",
                    reason="unavailable",
                )
            time.sleep(min(interval, remaining))

    def decide(self, domain: str, input: dict[str, Any]) -> Decision:
        """POST the input to /v1/data/swiftdeploy/<domain>/decision and validate the answer."""
        url = f"{self.base_url}/v1/data/{decision_entrypoint(domain)}"
        body = input_body(input)
        try:
            response = self._session.post(
                url, data=body, headers={"Content-Type": "application/json"}, timeout=self.timeout
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            raise PolicyEngineError(
                f"OPA at {self.base_url} did not answer within {self.timeout:g}s (POST {url}); "
                "it may be overloaded or hung - check `docker compose logs opa`",
                reason="timeout",
            ) from exc
        except requests.ConnectionError as exc:
            if _refused(exc):
                raise PolicyEngineError(
                    f"connection to OPA at {self.base_url} was refused; nothing listens there - "
                    "start the stack (inv up) or the tunnel, and check the opa service",
                    reason="connection_refused",
                ) from exc
            raise PolicyEngineError(
                f"cannot reach OPA at {self.base_url}: {_why_unreachable(exc)}", reason="unavailable"
            ) from exc
        except requests.RequestException as exc:
            raise PolicyEngineError(f"request to OPA at {url} failed: {_short(exc)}", reason="unavailable") from exc
        return _decision_from_response(response, url, engine=self.name)


def _decision_from_response(response: requests.Response, url: str, *, engine: str) -> Decision:
    try:
        body = response.json()
    except ValueError:
        body = None
        parsed = False
    else:
        parsed = True
    if response.status_code != 200:
        detail = ""
        if isinstance(body, dict) and ("code" in body or "message" in body):
            detail = f": {body.get('code', '?')}: {body.get('message', '')}"
        raise PolicyEngineError(
            f"OPA answered HTTP {response.status_code} for POST {url}{detail}", reason="http_status"
        )
    if not parsed:
        raise PolicyEngineError(
            f"OPA answered POST {url} with a body that is not JSON "
            f"(content-type {response.headers.get('Content-Type', 'unknown')}): {response.text[:120]!r}; "
            "is something other than OPA listening on that port?",
            reason="not_json",
        )
    if not isinstance(body, dict):
        raise PolicyEngineError(
            f"OPA answered POST {url} with JSON that is not an object: {response.text[:120]!r}",
            reason="bad_shape",
        )
    if "result" not in body:
        # OPA's answer for an undefined document: the policy is missing or has another package name.
        raise PolicyEngineError(
            f"OPA has no decision at POST {url} (the document is undefined); "
            "check that the policies are loaded into OPA and declare that package",
            reason="no_result",
        )
    return Decision.from_result(body["result"], engine=engine)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception under it: causes, contexts, exception arguments, ``reason``s."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__,
                      *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]])
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)


def _refused(exc: BaseException) -> bool:
    return any(isinstance(cause, ConnectionRefusedError) for cause in _chain(exc)) or "Connection refused" in str(exc)


def _why_unreachable(exc: requests.RequestException) -> str:
    """Why a request got no answer, in words: never the HTTP library's own text (pool, retries, objects)."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if _refused(exc):
        return "nothing listens there (connection refused)"
    cause = _os_error(exc)
    if cause is not None and cause.strerror:
        return f"the connection failed ({cause.strerror[:1].lower()}{cause.strerror[1:]})"
    return f"the connection failed ({type(exc).__name__})"


def _os_error(exc: BaseException) -> OSError | None:
    """The operating system's error under an HTTP library's exception."""
    return next((cause for cause in _chain(exc) if isinstance(cause, OSError) and cause.strerror), None)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
