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


def get(url: str, *, timeout: float) -> HttpAnswer:
    return _request("GET", url, timeout=timeout)


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
