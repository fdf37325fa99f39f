"""Send chaos instructions to the canary track through the loopback-only admin listener."""
from __future__ import annotations

from typing import Any

from .. import http
from ..errors import CommandFailed, UsageError
from .context import Project, Target

MODES = ("slow", "error", "recover")
NO_CANARY = "no canary is running to inject chaos into; start one with `inv promote --mode canary`"
MAX_SLOW_SECONDS = 10  # the app refuses longer holds (app/app_chaos.py); said here before asking it


def chaos_payload(mode: str, *, rate: float | None, duration: float | None) -> dict[str, Any]:
    """The /chaos request body for the CLI flags (pure); UsageError for a bad combination."""
    if mode == "error":
        if rate is None:
            raise UsageError("--rate is required with --mode error (0-1)")
        if not 0 <= rate <= 1:
            raise UsageError(f"--rate: expected a share of the requests from 0 to 1, got {rate:g}")
        return {"mode": "error", "rate": rate}
    if mode == "slow":
        if duration is None:
            raise UsageError("--duration is required with --mode slow (seconds)")
        if not 0 <= duration <= MAX_SLOW_SECONDS:
            raise UsageError(f"--duration: expected seconds from 0 to {MAX_SLOW_SECONDS}, got {duration:g}")
        return {"mode": "slow", "duration": duration}
    if mode == "recover":
        return {"mode": "recover"}
    raise UsageError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")


def send_chaos(project: Project, target: Target, mode: str, *, rate: float | None, duration: float | None) -> dict:
    payload = chaos_payload(mode, rate=rate, duration=duration)
    from .track_steps import is_running

    if not is_running(target, "canary"):
        # Asked of Docker, not of nginx: right after a rollback nginx may still hold the removed
        # container's address and wait out its connect timeout.
        raise UsageError(NO_CANARY, host=target.name)
    with target.loopback(target.manifest.nginx.admin_port) as base:
        try:
            answer = http.post_json(f"{base}/tracks/canary/chaos", payload, timeout=10)
        except http.HttpUnavailable as exc:
            raise CommandFailed("POST /chaos", None, str(exc), host=target.name,
                                hint="is the stack deployed? (inv deploy)") from exc
    try:
        body = answer.json()
    except ValueError:
        body = {"raw": answer.body[:200]}
    if answer.status == 502:
        raise UsageError(NO_CANARY, host=target.name)
    if answer.status != 200:
        why = body.get("error") if isinstance(body, dict) and body.get("error") else answer.body[:200]
        raise UsageError(f"/chaos refused (HTTP {answer.status}): {why}", host=target.name)
    project.audit.append("chaos", {"request": payload, "response": body}, host=target.name)
    return body
