"""Poll /healthz through nginx until it answers healthy (in the expected mode) or the
deadline passes; the failure names what was last seen."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from .. import http, interrupt
from ..errors import HealthCheckFailed
from ..results import Reporter, StepResult
from ..tracks import TRAFFIC_FILE, Track, parse_split, track
from .context import Target


def judge(answer: http.HttpAnswer, expect_mode: str | None) -> str | None:
    """None when healthy, else what is wrong (pure)."""
    if answer.status != 200:
        return f"HTTP {answer.status}: {answer.body.strip()[:200]}"
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP 200 but not JSON: {answer.body.strip()[:200]}"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"unexpected body {answer.body.strip()[:200]}"
    if expect_mode and body.get("mode") != expect_mode:
        return f"mode is {body.get('mode')!r}, expected {expect_mode!r}"
    return None


def wait_healthy(
    url: str,
    *,
    deadline_seconds: float,
    expect_mode: str | None = None,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = interrupt.sleep,
    shown: str | None = None,
    tls: http.TlsCheck | None = None,
    ended: Callable[[], str | None] | None = None,
) -> dict:
    """Return the healthy /healthz body, or raise HealthCheckFailed with the last observation.

    ``shown``: how messages name the URL (a tunnel's local port means nothing to the reader).
    ``ended``: asked after an unhealthy answer; a reason it returns (a container that answers it has
    exited for good) ends the wait at once instead of at the deadline."""
    end = clock() + deadline_seconds
    last = "no attempt made"
    while True:
        try:
            answer = http.get(url, timeout=min(5.0, max(0.5, end - clock())), tls=tls)
            problem = judge(answer, expect_mode)
            if problem is None:
                return answer.json()
            last = problem
        except http.HttpUnavailable as exc:
            last = str(exc)
        why = ended() if ended else None
        if why:
            raise HealthCheckFailed(f"{shown or url} not healthy: {why}; last saw: {last}")
        if clock() >= end:
            raise HealthCheckFailed(f"{shown or url} not healthy after {deadline_seconds:g}s; last saw: {last}")
        sleep(interval)


def running_version(target: Target, track_name: str) -> str | None:
    """The version the track answers with right now (one request; None when it does not answer healthy)."""
    with target.loopback(target.manifest.nginx.admin_port) as base:
        try:
            answer = http.get(f"{base}/tracks/{track_name}/healthz", timeout=5)
        except http.HttpUnavailable:
            return None
    if judge(answer, None) is not None:
        return None
    version = answer.json().get("version")
    return str(version) if version is not None else None


def wait_track_healthy(target: Target, spec: Track, *, deadline: float | None = None) -> dict:
    """/healthz of this one track (through nginx's loopback admin listener) in its mode and version."""
    seconds = deadline if deadline is not None else target.manifest.deploy.health_timeout_seconds
    with target.loopback(target.manifest.nginx.admin_port) as base:
        try:
            body = wait_healthy(f"{base}/tracks/{spec.name}/healthz", deadline_seconds=seconds, expect_mode=spec.mode,
                                ended=_ended(target, spec.container_name))
        except HealthCheckFailed as exc:
            raise HealthCheckFailed(f"the {spec.name} track ({spec.container_name}): {exc.message}",
                                    host=target.name) from exc
    if body.get("version") != spec.version:
        raise HealthCheckFailed(f"the {spec.name} track runs version {body.get('version')!r}, expected {spec.version!r}",
                                host=target.name)
    return body


def _ended(target: Target, *containers: str) -> Callable[[], str | None]:
    """Whether nginx (every answer passes through it) or one of ``containers`` has stopped for good."""
    names = [target.manifest.nginx.container_name, *containers]
    return lambda: target.runtime.ended_for_good(names)


def _advice(target: Target) -> str:
    """What brings an unhealthy stack back: finish an interrupted promotion, else deploy what the manifest says."""
    marker = target.unfinished_promotion()
    if marker:
        return (f"a promotion of {marker.get('version')} is unfinished: run `inv promote --mode stable` to finish "
                f"it, or `inv rollback` to go back to {marker.get('from_version')}")
    return ("run `inv deploy` to start what the manifest describes (a stopped or killed container is started "
            "again), or `inv rollback` to drop a canary")


@contextmanager
def _public_base(target: Target) -> Iterator[tuple[str, str]]:
    """(base URL to ask, how to name it) for the public port: on the host itself by default (through
    the SSH session for a remote host, so NAT, a port-forward or a firewall between you and it does not
    matter), or from this machine at the host's address (``deploy.health_check_from: controller``)."""
    if target.manifest.deploy.health_check_from == "controller":
        yield target.public_url(""), target.public_url("")
        return
    tls = target.manifest.tls
    port, scheme = (tls.port, "https") if tls else (target.manifest.nginx.port, "http")
    with target.loopback(port) as base:
        base = base.replace("http://", f"{scheme}://", 1)
        yield base, (f"{scheme}://127.0.0.1:{port} on {target.name} (through SSH)" if target.host.is_remote else base)


def health(target: Target, reporter: Reporter, *, expect_mode: str | None = None, deadline: float | None = None,
           tls: http.TlsCheck | None = None) -> StepResult:
    """Every track the live split sends requests to, each in its own mode and version, then the public /healthz.

    The public answer alone would pass while a dead track fails its share of the requests
    (nginx answers /healthz from whichever track the split picks). With ``tls`` the public port is
    HTTPS and its certificate is verified as a client would (``certificates.client_check``).
    """
    seconds = deadline if deadline is not None else target.manifest.deploy.health_timeout_seconds
    end = time.monotonic() + seconds
    split = parse_split(target.workspace.read(TRAFFIC_FILE))
    url = target.public_url("/healthz")
    try:
        # Each track first, so a failure names the track rather than a 502 from the public port.
        tracks = {name: wait_track_healthy(target, track(target.manifest, name),
                                           deadline=max(1.0, end - time.monotonic()))
                  for name, weight in split.items() if weight > 0}
        with _public_base(target) as (base, where):
            url = f"{base}/healthz" if where == base else f"/healthz at {where}"
            body = wait_healthy(f"{base}/healthz", deadline_seconds=max(1.0, end - time.monotonic()),
                                expect_mode=expect_mode, shown=url, tls=tls, ended=_ended(target))
    except HealthCheckFailed as exc:
        exc.host = target.name
        exc.message = f"{exc.message}; {_advice(target)}"
        exc.args = (exc.message,)
        reporter.record(StepResult("health", target.name, "failed", exc.message, {"url": url}, exc.exit_code))
        raise
    serving = ", ".join(f"{name} {answer.get('version')}" for name, answer in tracks.items())
    msg = f"{url} ok (mode {body.get('mode')}, version {body.get('version')})" + (f"; tracks healthy: {serving}"
                                                                                 if serving else "")
    return reporter.record(StepResult("health", target.name, "ok", msg, {"url": url, "healthz": body,
                                                                          "tracks": tracks}))
