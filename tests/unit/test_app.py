"""Tests for the deployed service in app/: Flask test client, then real gunicorn."""
from __future__ import annotations

import concurrent.futures
import contextlib
import http.server
import importlib.util
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

APP_DIR = Path(__file__).resolve().parents[2] / "app"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "app"

# app.py imports its sibling modules by plain name, exactly as in the container.
sys.path.insert(0, str(APP_DIR))
_spec = importlib.util.spec_from_file_location("swiftdeploy_app", APP_DIR / "app.py")
assert _spec and _spec.loader
appmod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(appmod)

from app_settings import load_settings  # noqa: E402  (needs the sys.path entry above)

ROUTES = {"/", "/healthz", "/metrics", "/chaos"}
UNMATCHED = "<unmatched>"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
CHAOS_CASES = json.loads((FIXTURES / "chaos_requests.json").read_text())["cases"]


# ---------- helpers ----------

def make_client(mode: str = "stable", version: str = "1.2.3", **kwargs: Any):
    return appmod.create_app({"MODE": mode, "APP_VERSION": version}, **kwargs).test_client()


def scrape(client) -> list:
    """All samples of GET /metrics, parsed by prometheus_client's own parser."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return [sample for family in families for sample in family.samples]


def value(samples: list, name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and sample.labels == labels:
            return sample.value
    return None


def assert_timestamp_now(text: str) -> None:
    assert TIMESTAMP.match(text), text
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 5


def post_chaos(client, body: Any):
    return client.post("/chaos", json=body)


# ---------- settings ----------

def test_settings_defaults() -> None:
    settings = load_settings({})
    assert (settings.mode, settings.version, settings.port) == ("stable", "0.0.0", 3000)
    assert load_settings({"MODE": "canary", "APP_PORT": "8080"}).port == 8080


@pytest.mark.parametrize(
    "env, key",
    [({"MODE": "prod"}, "MODE"), ({"APP_PORT": "80a"}, "APP_PORT"),
     ({"APP_PORT": "0"}, "APP_PORT"), ({"APP_PORT": "70000"}, "APP_PORT")],
)
def test_invalid_settings_fail_at_start(env: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        appmod.create_app(env)


def test_module_level_app_for_gunicorn() -> None:
    assert appmod.app.name == "swiftdeploy_app"
    assert appmod.app.test_client().get("/healthz").status_code == 200


# ---------- plain endpoints ----------

@pytest.mark.parametrize("mode", ["stable", "canary"])
def test_index(mode: str) -> None:
    client = make_client(mode)  # keep the app alive: Flask 2.2 responses hold it weakly
    response = client.get("/")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"message", "mode", "version", "timestamp"}
    assert body["message"] == "Welcome to SwiftDeploy"
    assert (body["mode"], body["version"]) == (mode, "1.2.3")
    assert_timestamp_now(body["timestamp"])


@pytest.mark.parametrize("mode", ["stable", "canary"])
def test_healthz(mode: str) -> None:
    client = make_client(mode)
    time.sleep(0.02)
    body = client.get("/healthz").get_json()
    assert set(body) == {"status", "mode", "version", "uptime_seconds", "timestamp"}
    assert (body["status"], body["mode"], body["version"]) == ("ok", mode, "1.2.3")
    uptime = body["uptime_seconds"]
    assert isinstance(uptime, float) and round(uptime, 2) == uptime and 0.01 <= uptime < 5
    assert_timestamp_now(body["timestamp"])


def test_unknown_url_is_json_404() -> None:
    client = make_client()
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found", "path": "/no/such/page"}


def test_wrong_method_is_json_405() -> None:
    client = make_client()
    response = client.delete("/healthz")
    assert response.status_code == 405
    body = response.get_json()
    assert body["error"] == "method not allowed" and body["path"] == "/healthz"
    assert "GET" in body["allowed_methods"] and "GET" in response.headers["Allow"]


def test_stable_responses_have_no_mode_header() -> None:
    client = make_client("stable")
    for response in (client.get("/"), client.get("/nope"), client.get("/metrics")):
        assert "X-Mode" not in response.headers


def test_canary_header_on_every_response() -> None:
    client = make_client("canary", random_source=lambda: 0.0)
    responses = [
        client.get("/"), client.get("/healthz"), client.get("/metrics"),
        client.get("/missing"), client.put("/"), post_chaos(client, {"mode": "bogus"}),
        post_chaos(client, {"mode": "error", "rate": 1}),
        client.get("/"),  # the injected 500
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 405, 400, 200, 500]
    assert all(r.headers.get("X-Mode") == "canary" for r in responses)


# ---------- chaos: validation ----------

def test_chaos_refused_in_stable_mode() -> None:
    client = make_client("stable", random_source=lambda: 0.0)
    response = post_chaos(client, {"mode": "error", "rate": 1})
    assert response.status_code == 403
    assert response.get_json() == {
        "error": "chaos endpoint is only active in canary mode", "mode": "stable"}
    assert client.get("/").status_code == 200
    assert value(scrape(client), "chaos_active") == 0


@pytest.mark.parametrize("case", CHAOS_CASES, ids=[c["id"] for c in CHAOS_CASES])
def test_chaos_request(case: dict) -> None:
    client = make_client("canary")
    if "raw_body" in case:
        content_type = case.get("content_type", "application/json")
        response = client.post("/chaos", data=case["raw_body"], content_type=content_type)
    else:
        response = post_chaos(client, case["body"])
    assert response.status_code == case["status"]
    assert response.get_json() == case["answer"]
    assert value(scrape(client), "chaos_active") == case.get("gauge", 0)


def test_rejected_request_keeps_current_chaos() -> None:
    client = make_client("canary")
    post_chaos(client, {"mode": "error", "rate": 0.5})
    assert post_chaos(client, {"mode": "slow", "duration": -1}).status_code == 400
    assert value(scrape(client), "chaos_active") == 2


# ---------- chaos: effects ----------

def test_slow_mode_delays_real_requests_only() -> None:
    # 0.3 s, not 0.2 s: the held request is asserted above the 0.25 s bucket (a hold never ends
    # early) and within the 1 s one, 0.7 s of slack; 0.2 s had to land within 0.25 s, 50 ms of
    # slack that a loaded 2-core machine can use up.
    delay = 0.3
    client = make_client("canary")
    assert post_chaos(client, {"mode": "slow", "duration": delay}).status_code == 200

    def timed(path: str) -> tuple[int, float]:
        start = time.perf_counter()
        status = client.get(path).status_code
        return status, time.perf_counter() - start

    status, elapsed = timed("/")
    assert status == 200 and elapsed >= delay
    status, elapsed = timed("/unknown")
    assert status == 404 and elapsed >= delay
    for path in ("/healthz", "/metrics"):
        status, elapsed = timed(path)
        assert status == 200 and elapsed < delay, path
    # The delay shows in the latency histogram the canary is judged on.
    samples = scrape(client)
    bucket = "http_request_duration_seconds_bucket"
    assert value(samples, bucket, method="GET", path="/", le="0.25") == 0
    assert value(samples, bucket, method="GET", path="/", le="1.0") == 1

    assert post_chaos(client, {"mode": "recover"}).status_code == 200
    assert timed("/")[1] < delay


def test_slow_mode_uses_injected_sleep() -> None:
    slept: list[float] = []
    client = make_client("canary", sleep=slept.append)
    post_chaos(client, {"mode": "slow", "duration": 7})
    client.get("/")
    client.get("/healthz")
    client.get("/metrics")
    post_chaos(client, {"mode": "slow", "duration": 3})
    client.get("/")
    assert slept == [7, 3]


def test_error_mode_follows_the_random_source() -> None:
    rate, count, seed = 0.3, 200, 1234
    client = make_client("canary", random_source=random.Random(seed).random)
    assert post_chaos(client, {"mode": "error", "rate": rate}).status_code == 200

    replay = random.Random(seed)
    expected = [500 if replay.random() < rate else 200 for _ in range(count)]
    responses = [client.get("/") for _ in range(count)]
    assert [r.status_code for r in responses] == expected
    failures = expected.count(500)
    assert 0.2 * count < failures < 0.4 * count  # the seed gives a representative mix

    failed = next(r for r in responses if r.status_code == 500)
    assert failed.get_json() == {"error": "chaos error injected", "mode": "canary", "rate": rate}
    samples = scrape(client)
    total = "http_requests_total"
    assert value(samples, total, method="GET", path="/", status_code="500") == failures
    assert value(samples, total, method="GET", path="/", status_code="200") == count - failures


def test_error_rate_boundaries() -> None:
    draws = iter([0.49, 0.5, 0.0])
    client = make_client("canary", random_source=lambda: next(draws))
    post_chaos(client, {"mode": "error", "rate": 0.5})
    assert [client.get("/").status_code for _ in range(2)] == [500, 200]
    post_chaos(client, {"mode": "error", "rate": 0})
    assert client.get("/").status_code == 200


def test_rate_one_spares_metrics_chaos_and_healthz() -> None:
    client = make_client("canary", random_source=random.Random(0).random)
    post_chaos(client, {"mode": "error", "rate": 1})
    assert client.get("/").status_code == 500
    assert client.get("/elsewhere").status_code == 500
    for _ in range(20):
        assert client.get("/metrics").status_code == 200
        assert client.get("/healthz").get_json()["status"] == "ok"
        assert post_chaos(client, {"mode": "nope"}).status_code == 400
    assert post_chaos(client, {"mode": "recover"}).get_json() == {
        "status": "recovered", "mode": "off"}
    assert client.get("/").status_code == 200


# ---------- metrics ----------

def test_metric_names_types_and_buckets() -> None:
    client = make_client("canary")
    client.get("/")
    text = client.get("/metrics").get_data(as_text=True)
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types["http_requests"] == "counter"
    assert types["http_request_duration_seconds"] == "histogram"
    for gauge in ("app_mode", "chaos_active", "app_uptime_seconds"):
        assert types[gauge] == "gauge"
    samples = scrape(client)
    les = [s.labels["le"] for s in samples if s.name == "http_request_duration_seconds_bucket"
           and s.labels["path"] == "/"]
    assert [float(le) for le in les] == [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, float("inf")]
    counted = [s for s in samples if s.name == "http_requests_total"]
    assert {tuple(sorted(s.labels)) for s in counted} == {("method", "path", "status_code")}


@pytest.mark.parametrize("mode, code", [("stable", 0), ("canary", 1)])
def test_mode_and_uptime_gauges(mode: str, code: int) -> None:
    client = make_client(mode)
    first = value(scrape(client), "app_uptime_seconds")
    time.sleep(0.02)
    samples = scrape(client)
    assert value(samples, "app_mode") == code
    assert value(samples, "chaos_active") == 0
    assert value(samples, "app_uptime_seconds") >= first + 0.02  # set at scrape time


def test_every_request_is_counted_by_route() -> None:
    client = make_client("stable")
    for _ in range(3):
        client.get("/")
    client.get("/healthz")
    client.get("/nope")
    client.delete("/healthz")
    client.open("/", method="BREW")
    post_chaos(client, {"mode": "slow", "duration": 1})
    client.get("/metrics")  # counted once this response is sent: visible next scrape
    samples = scrape(client)
    total = "http_requests_total"
    assert value(samples, total, method="GET", path="/", status_code="200") == 3
    assert value(samples, total, method="GET", path="/healthz", status_code="200") == 1
    assert value(samples, total, method="GET", path=UNMATCHED, status_code="404") == 1
    assert value(samples, total, method="DELETE", path="/healthz", status_code="405") == 1
    assert value(samples, total, method="OTHER", path="/", status_code="405") == 1
    assert value(samples, total, method="POST", path="/chaos", status_code="403") == 1
    assert value(samples, total, method="GET", path="/metrics", status_code="200") == 1
    assert value(samples, "http_request_duration_seconds_count", method="GET", path="/") == 3


def test_path_label_is_bounded_for_random_urls() -> None:
    client = make_client("canary")
    for _ in range(40):
        client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}?q={uuid.uuid4().hex}")
    samples = scrape(client)
    paths = {s.labels["path"] for s in samples if "path" in s.labels}
    assert paths <= ROUTES | {UNMATCHED}
    assert value(samples, "http_requests_total",
                 method="GET", path=UNMATCHED, status_code="404") == 40


def test_apps_have_separate_registries_and_chaos() -> None:
    canary, other = make_client("canary", random_source=lambda: 0.0), make_client("canary")
    post_chaos(canary, {"mode": "error", "rate": 1})
    canary.get("/")
    assert other.get("/").status_code == 200
    assert value(scrape(other), "http_requests_total",
                 method="GET", path="/", status_code="500") is None
    assert value(scrape(other), "chaos_active") == 0


# ---------- real gunicorn and healthcheck.py ----------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_healthcheck(port: int) -> int:
    env = {**os.environ, "APP_PORT": str(port)}
    return subprocess.run([sys.executable, str(APP_DIR / "healthcheck.py")],
                          env=env, timeout=30, capture_output=True).returncode


def get_json(url: str, data: bytes | None = None) -> tuple[int, dict, Any]:
    try:
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=5) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


@contextlib.contextmanager
def running_gunicorn() -> Iterator[tuple[subprocess.Popen, int]]:
    """The container's CMD, run from app/ on a loopback port: (its master process, the port); always stopped."""
    port = free_port()
    env = {**os.environ, "APP_HOST": "127.0.0.1", "APP_PORT": str(port),
           "MODE": "canary", "APP_VERSION": "9.9.9"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
        cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited {proc.returncode}: {proc.stdout.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("gunicorn did not listen within 20 s")
                time.sleep(0.1)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: master and worker
            proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def gunicorn_server() -> Iterator[int]:
    with running_gunicorn() as (_, port):
        yield port


def test_gunicorn_serves_the_app(gunicorn_server: int) -> None:
    base = f"http://127.0.0.1:{gunicorn_server}"
    status, headers, body = get_json(base + "/")
    assert status == 200 and headers["X-Mode"] == "canary"
    assert (body["mode"], body["version"]) == ("canary", "9.9.9")
    status, _, body = get_json(base + "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert run_healthcheck(gunicorn_server) == 0

    # Chaos reaches the single worker, and the healthcheck stays green meanwhile.
    status, _, _ = get_json(base + "/chaos", json.dumps({"mode": "error", "rate": 1}).encode())
    assert status == 200
    for _ in range(5):
        assert get_json(base + "/")[0] == 500
    assert run_healthcheck(gunicorn_server) == 0
    get_json(base + "/chaos", json.dumps({"mode": "recover"}).encode())
    assert get_json(base + "/")[0] == 200


def test_healthcheck_fails_when_nothing_listens() -> None:
    assert run_healthcheck(free_port()) == 1


def test_healthcheck_fails_on_bad_port_setting() -> None:
    assert run_healthcheck(0) == 1


@pytest.mark.parametrize(
    "status, payload, expected",
    [(200, b'{"status": "ok"}', 0), (200, b'{"status": "down"}', 1),
     (503, b'{"status": "ok"}', 1), (200, b"ok", 1), (200, b"[]", 1)],
)
def test_healthcheck_judges_the_answer(status: int, payload: bytes, expected: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            self.send_response(status if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert run_healthcheck(server.server_address[1]) == expected
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_gives_up_on_a_server_that_accepts_but_never_answers() -> None:
    with socket.socket() as listener:  # the kernel accepts the connection; nobody ever reads or writes
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        started = time.monotonic()
        assert run_healthcheck(listener.getsockname()[1]) == 1
        assert time.monotonic() - started < 2 + 3  # its own 1.5 s, below compose's 2 s timeout (+ start-up)


def test_a_canary_saturated_by_slow_chaos_still_recovers(gunicorn_server: int) -> None:
    """Six requests held by a long slow chaos took every gunicorn thread, so recover itself failed.
    Slow chaos holds all threads but one, and recover releases the held requests at once."""
    import concurrent.futures

    base = f"http://127.0.0.1:{gunicorn_server}"
    assert get_json(base + "/chaos", json.dumps({"mode": "slow", "duration": 10}).encode())[0] == 200
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        held = [pool.submit(get_json, base + "/") for _ in range(6)]
        time.sleep(1.0)  # let them take the threads
        status, _, body = get_json(base + "/chaos", json.dumps({"mode": "recover"}).encode())
        recovered_after = time.monotonic() - started
        assert status == 200 and body["mode"] == "off"
        assert all(f.result(timeout=15)[0] == 200 for f in held)
        finished_after = time.monotonic() - started
    # Both well before the 10 s the chaos asked for (wide margins for a loaded machine).
    assert recovered_after < 7 and finished_after < 8, (recovered_after, finished_after)


def _loop_of_gunicorn_20(worker: Any, poll: float) -> None:
    """gunicorn 20.1's gthread run loop (the offline image's), reduced to what decides when it stops:
    wait on the poller, dispatch, look at ``alive`` again."""
    while worker.alive:
        for key, _ in worker.poller.select(poll):
            key.data(key.fileobj)


def _seconds_from_sigterm_to_loop_end(wake: bool, poll: float = 2.0) -> float:
    """Run that loop on this (the main) thread as a worker would: a SIGTERM-like signal clears ``alive``
    in its Python handler and writes to the worker's pipe through ``signal.set_wakeup_fd``, as gunicorn's
    init_signals sets it up. Returns how long the loop went on after the signal."""
    import selectors
    import types

    from app_worker import wake_on_signals

    read_end, write_end = os.pipe()
    for fd in (read_end, write_end):
        os.set_blocking(fd, False)
    worker = types.SimpleNamespace(alive=True, poller=selectors.DefaultSelector(), PIPE=[read_end, write_end])
    if wake:
        assert wake_on_signals(worker)
    sent: list[float] = []

    def handle_exit(sig, frame) -> None:
        worker.alive = False

    def send() -> None:
        sent.append(time.monotonic())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR2)

    old_handler = signal.signal(signal.SIGUSR2, handle_exit)
    old_fd = signal.set_wakeup_fd(write_end)
    timer = threading.Timer(0.2, send)
    try:
        timer.start()
        _loop_of_gunicorn_20(worker, poll)
        return time.monotonic() - sent[0]
    finally:
        timer.cancel()
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGUSR2, old_handler)
        worker.poller.close()
        os.close(read_end)
        os.close(write_end)


def test_the_worker_stops_waiting_as_soon_as_sigterm_asks_it_to() -> None:
    """Without the signal pipe in its poller, gunicorn 20.1's loop finishes its poll before it stops (the
    control); with it (gunicorn.conf.py's post_worker_init), the signal ends the wait."""
    assert _seconds_from_sigterm_to_loop_end(wake=False) > 1.0
    assert _seconds_from_sigterm_to_loop_end(wake=True) < 1.0


def test_the_signal_pipe_is_left_alone_where_there_is_no_poller() -> None:
    import selectors
    import types

    from app_worker import wake_on_signals

    assert not wake_on_signals(types.SimpleNamespace(PIPE=[0, 1]))  # gunicorn's sync worker waits on it itself
    with selectors.DefaultSelector() as poller:
        read_end, write_end = os.pipe()
        try:
            worker = types.SimpleNamespace(poller=poller, PIPE=[read_end, write_end])
            assert wake_on_signals(worker) and wake_on_signals(worker)  # twice: still one registration
            assert len(poller.get_map()) == 1
        finally:
            os.close(read_end)
            os.close(write_end)


def test_gunicorn_as_configured_stops_gracefully_on_sigterm() -> None:
    """The settings gunicorn.conf.py gives (with its post_worker_init), on this machine's gunicorn: a SIGTERM
    ends the server with exit 0 after the request in flight was answered."""
    with running_gunicorn() as (proc, port):
        base = f"http://127.0.0.1:{port}"
        assert get_json(base + "/chaos", json.dumps({"mode": "slow", "duration": 3}).encode())[0] == 200
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            in_flight = pool.submit(get_json, base + "/")
            time.sleep(1)  # the request reached the app and is held by slow chaos (3 s)
            proc.terminate()
            assert in_flight.result(timeout=10)[0] == 200
            assert proc.wait(timeout=10) == 0


END_AT_ONCE_PROBE = """
import atexit, os, sys, types
sys.path.insert(0, {app_dir!r})
from app_worker import end_at_once
atexit.register(lambda: print("interpreter teardown", flush=True))
worker = types.SimpleNamespace(pid=os.getpid() + {pid_offset})
try:
    sys.exit({code})
finally:  # as gunicorn's spawn_worker calls worker_exit
    print("worker exiting", flush=True)
    end_at_once(worker)
"""


@pytest.mark.parametrize("code, pid_offset, teardown", [
    (0, 0, False),     # a clean stop: the process ends there, exit 0
    (3, 0, True),      # a boot failure: its code reaches the master, through the usual teardown
    (4, 0, True),      # an app that failed to load, likewise
    (0, 1, True),      # the master's own call (it reaps a worker already gone): never ends the master
])
def test_a_worker_ends_at_once_only_after_a_clean_stop(code: int, pid_offset: int, teardown: bool) -> None:
    probe = END_AT_ONCE_PROBE.format(app_dir=str(APP_DIR), pid_offset=pid_offset, code=code)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == code, done.stderr
    assert done.stdout.splitlines() == ["worker exiting"] + (["interpreter teardown"] if teardown else [])


def test_gunicorn_as_configured_still_gives_up_on_an_app_that_cannot_load(tmp_path: Path) -> None:
    """The worker_exit hook must not hide a load failure from the master: it stops (exit 4, "App failed
    to load") instead of starting workers forever."""
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('no config')\n")
    env = {**os.environ, "APP_HOST": "127.0.0.1", "APP_PORT": str(free_port()), "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "broken_app:app"],
                          cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode in (3, 4), done.stderr[-2000:]
    assert "no config" in done.stderr
