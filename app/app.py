"""SwiftDeploy's demo service: a small Flask app with health, metrics and chaos.

Run by gunicorn as ``app:app`` (see gunicorn.conf.py). ``create_app()`` builds an
independent instance (own metrics registry, own chaos state) so tests can make many.
"""
from __future__ import annotations

import os
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app_chaos import ChaosRequestError, ChaosSwitch, answer_for, parse_chaos_request
from app_metrics import UNMATCHED_PATH, AppMetrics
from app_settings import THREADS, Settings, load_settings

# Routes chaos never touches. /metrics and /chaos must keep working so a broken
# canary can be observed and recovered; /healthz is spared too, so the container
# healthcheck stays green while the canary is judged on its real traffic
# (error rate and latency from /metrics) rather than being restarted mid-test.
CHAOS_EXEMPT = frozenset({"/metrics", "/chaos", "/healthz"})


def utc_timestamp() -> str:
    """Now as ISO 8601 UTC with a Z suffix, e.g. 2024-05-01T12:00:00.123Z."""
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return now.replace("+00:00", "Z")


def _route_label() -> str:
    """The matched route rule, so path labels are bounded by the app's routes."""
    if request.url_rule is not None:
        return request.url_rule.rule
    exc = request.routing_exception
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        # A 405 still names a real route: find it with a method it accepts.
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            rule, _ = adapter.match(method=exc.valid_methods[0], return_rule=True)
            return rule.rule
        except HTTPException:
            pass
    return UNMATCHED_PATH


def create_app(
    env: Mapping[str, str] | None = None,
    *,
    random_source: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Flask:
    """Build the app from ``env`` (default os.environ).

    ``random_source`` returns floats in [0, 1) and decides which requests error-mode
    chaos fails; pass a seeded ``random.Random(n).random`` for deterministic tests.
    Raises ValueError for an invalid MODE or APP_PORT.
    """
    settings = load_settings(os.environ if env is None else env)
    draw = random_source or random.random
    started = time.monotonic()
    chaos = ChaosSwitch(slow_slots=THREADS - 1)
    metrics = AppMetrics(
        mode_code=1 if settings.is_canary else 0,
        uptime=lambda: time.monotonic() - started,
    )

    app = Flask(__name__, static_folder=None)
    app.config.update(MODE=settings.mode, APP_VERSION=settings.version, APP_PORT=settings.port)
    app.extensions["swiftdeploy"] = {"settings": settings, "chaos": chaos, "metrics": metrics}
    app.json.sort_keys = False  # keep answers in the documented key order

    @app.before_request
    def start_timer() -> None:
        # Registered first, so it runs even when the chaos hook answers early.
        g.started = time.perf_counter()
        g.route = _route_label()

    @app.before_request
    def inject_chaos() -> Response | None:
        state = chaos.state
        if state.mode == "off" or g.route in CHAOS_EXEMPT:
            return None
        if state.mode == "slow":
            chaos.hold(state, sleep)  # beyond the slots a request is served at once: one thread stays free
            return None
        if state.should_fail(draw()):
            body = {"error": "chaos error injected", "mode": settings.mode, "rate": state.rate}
            return _json(body, 500)
        return None

    @app.after_request
    def record(response: Response) -> Response:
        # after_request also runs for before_request answers and error-handler
        # answers (404, 405, 500), so every response is counted and tagged.
        if settings.is_canary:
            response.headers["X-Mode"] = "canary"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = g.get("route", UNMATCHED_PATH)
        metrics.observe(request.method, route, response.status_code, elapsed)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 404:
            return _json({"error": "not found", "path": request.path}, 404)
        body: dict[str, Any] = {"error": (exc.name or "error").lower(), "path": request.path}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            body["allowed_methods"] = sorted(exc.valid_methods)
        response = _json(body, code)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    _add_routes(app, settings, chaos, metrics, started)
    return app


def _json(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _add_routes(
    app: Flask, settings: Settings, chaos: ChaosSwitch, metrics: AppMetrics, started: float
) -> None:
    @app.get("/")
    def index() -> Response:
        return _json(
            {
                "message": "Welcome to SwiftDeploy",
                "mode": settings.mode,
                "version": settings.version,
                "timestamp": utc_timestamp(),
            },
            200,
        )

    @app.get("/healthz")
    def healthz() -> Response:
        return _json(
            {
                "status": "ok",
                "mode": settings.mode,
                "version": settings.version,
                "uptime_seconds": round(time.monotonic() - started, 2),
                "timestamp": utc_timestamp(),
            },
            200,
        )

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        text, content_type = metrics.render()
        return Response(text, status=200, content_type=content_type)

    @app.post("/chaos")
    def chaos_endpoint() -> Response:
        if not settings.is_canary:
            body = {"error": "chaos endpoint is only active in canary mode", "mode": settings.mode}
            return _json(body, 403)
        # JSON only: a browser can send text/plain or a form to any address without asking (no
        # CORS preflight), so a web page the operator opens could otherwise switch chaos on.
        if not request.is_json:
            return _json({"error": "POST /chaos needs Content-Type: application/json"}, 415)
        try:
            state = parse_chaos_request(request.get_json(silent=True))
        except ChaosRequestError as exc:
            return _json(exc.body, 400)
        chaos.set(state)
        metrics.set_chaos(state.gauge_code)
        return _json(answer_for(state), 200)


app = create_app()
