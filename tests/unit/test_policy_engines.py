"""The policy engines and every way they fail closed.

The SidecarEngine is tested against a real HTTP server on 127.0.0.1 that answers as OPA's
REST API documents and evaluates the real policies with the embedded engine;
failures are injected into that server (or a closed port), not mocked. Those tests check the
sidecar's transport (what it sends, where, and how it reads the answer) and its failures; they
cannot show that a sidecar decides like any engine, since the server's answers are the embedded
engine's. Engines are compared only with OPA's Go evaluator (GoEngine): here, test_policies.py,
and test_opa_standin.py (the sidecar in front of it). The two in-process engines, EmbeddedEngine
(regopy) and GoEngine, are held to the same failure contract.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from swiftlib.errors import ConfigError, PolicyEngineError
from swiftlib.policy import EmbeddedEngine, GoEngine, SidecarEngine, canary_input, infrastructure_input, load_case_dir

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
CASES = ROOT / "tests" / "policy_cases"
FIXTURES = ROOT / "tests" / "fixtures" / "policy"

GOOD_CANARY = canary_input(
    {"error_rate": 0.002, "p99_latency_ms": 120.5, "requests": 340, "window_seconds": 60.0},
    {"max_error_rate": 0.01, "max_p99_latency_ms": 500.0, "min_requests": 20},
)
BAD_INFRA = infrastructure_input(
    {"disk_free_gb": 3.2, "cpu_load": 0.5, "cpu_count": 2, "mem_available_mb": 2048.0},
    {"min_disk_free_gb": 10.0, "max_cpu_load": 2.0},
)


class FakeOpa:
    """An OPA-shaped HTTP server. ``mode`` picks the answer: "opa" evaluates the real
    policies; the others inject one failure each."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self.mode = "opa"
        self.delay = 0.0
        self.requests: list[tuple[str, str, Any]] = []
        self.answers: list[Any] = []  # the bodies of the decisions evaluated
        self.connections = 0  # TCP connections accepted
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as OPA

            def setup(self) -> None:
                super().setup()
                fake.connections += 1
                # headers and body are two writes; Nagle + delayed ACK would add ~40 ms each
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path, None))
                if self.path == "/health" and fake.mode != "health_500":
                    self._json(200, {})
                else:
                    self._json(500, {"code": "internal_error", "message": "not ready"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(("POST", self.path, raw))
                if fake.delay:
                    time.sleep(fake.delay)
                mode = fake.mode
                if mode == "status_500":
                    self._json(500, {"code": "internal_error", "message": "eval_conflict_error: complete rules must not produce multiple outputs"})
                elif mode == "status_400":
                    self._json(400, {"code": "invalid_parameter", "message": "error(s) occurred while decoding input"})
                elif mode == "status_502_html":
                    self._raw(502, b"<html><body>Bad Gateway</body></html>", "text/html")
                elif mode == "not_json":
                    self._raw(200, b"<html><body>hello from nginx</body></html>", "text/html")
                elif mode == "undefined":
                    self._json(200, {})
                elif mode == "wrong_shape":
                    self._json(200, {"result": {"allow": "yes", "reasons": "fine"}})
                elif mode == "list_body":
                    self._json(200, [{"result": True}])
                else:
                    self._evaluate(raw)

            def _evaluate(self, raw: bytes) -> None:
                try:
                    body = json.loads(raw)
                    if not isinstance(body, dict):
                        raise ValueError("body is not an object")
                except ValueError as exc:
                    self._json(400, {"code": "invalid_parameter", "message": f"error(s) occurred while decoding input: {exc}"})
                    return
                prefix = "/v1/data/swiftdeploy/"
                parts = self.path[len(prefix):].split("/") if self.path.startswith(prefix) else []
                if len(parts) != 2 or parts[1] != "decision":
                    self._json(200, {})
                    return
                try:
                    decision = fake.engine.decide(parts[0], body.get("input"))
                except PolicyEngineError as exc:
                    if exc.reason == "no_result":
                        self._json(200, {})  # OPA's answer for an undefined document
                    else:
                        self._json(500, {"code": "internal_error", "message": str(exc)})
                    return
                fake.answers.append({"result": decision.to_dict()})
                self._json(200, fake.answers[-1])

            def _json(self, status: int, body: Any) -> None:
                self._raw(status, json.dumps(body).encode(), "application/json")

            def _raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeOpa":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(POLICIES)


@pytest.fixture(scope="module")
def golib() -> GoEngine:
    return GoEngine(POLICIES)


@pytest.fixture
def opa(embedded: EmbeddedEngine) -> Iterator[FakeOpa]:
    with FakeOpa(embedded) as server:
        yield server


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def engine_error(call) -> PolicyEngineError:
    with pytest.raises(PolicyEngineError) as caught:
        call()
    assert caught.value.exit_code == 4  # every engine failure fails closed with exit code 4
    return caught.value


# --- the sidecar engine against an OPA-shaped server ----------------------------------

def test_sidecar_transport_posts_every_case_and_returns_the_answer_unchanged(opa: FakeOpa) -> None:
    """The sidecar's transport, for every case of the tables (no input at all among them): the
    input is POSTed as {"input": ...} to /v1/data/swiftdeploy/<domain>/decision, and OPA's
    {"result": ...} comes back as the same decision.

    It compares no engines: the server decides with the embedded engine, so a sidecar pointed at
    it agrees with the embedded engine by construction. (This test used to be called
    test_sidecar_decides_every_case_like_the_embedded_engine.)
    """
    sidecar = SidecarEngine(opa.url, timeout=5)
    cases = load_case_dir(CASES)
    assert len(cases) > 40 and any(case.input is None for case in cases)
    for case in cases:
        decision = sidecar.decide(case.domain, case.input)
        method, path, raw = opa.requests[-1]
        assert (method, path) == ("POST", f"/v1/data/swiftdeploy/{case.domain}/decision"), case.name
        assert json.loads(raw) == {"input": case.input}, case.name
        assert {"result": decision.to_dict()} == opa.answers[-1], case.name
    assert len(opa.requests) == len(opa.answers) == len(cases)


def test_sidecar_posts_the_input_to_the_documented_path(opa: FakeOpa) -> None:
    decision = SidecarEngine(opa.url + "/", timeout=5).decide("canary", GOOD_CANARY)
    assert decision.allow is True and decision.domain == "canary"
    method, path, raw = opa.requests[-1]
    assert (method, path) == ("POST", "/v1/data/swiftdeploy/canary/decision")
    assert json.loads(raw) == {"input": GOOD_CANARY}


def test_sidecar_deny_carries_the_policy_reasons(opa: FakeOpa) -> None:
    decision = SidecarEngine(opa.url, timeout=5).decide("infrastructure", BAD_INFRA)
    assert decision.allow is False
    assert decision.reasons == ("disk free 3.20 GB is below the minimum 10.00 GB",)


def test_embedded_and_opas_go_evaluator_return_equal_decisions(embedded: EmbeddedEngine, golib: GoEngine) -> None:
    """The one comparison of engines in this file, against OPA's Go evaluator. It used to compare
    the sidecar too, through the fake server that answers with the embedded engine: equal by
    construction (the sidecar's side is the transport test above)."""
    for domain, document in (("canary", GOOD_CANARY), ("infrastructure", BAD_INFRA), ("canary", None)):
        assert embedded.decide(domain, document) == golib.decide(domain, document)


def test_wait_ready_returns_once_health_answers(opa: FakeOpa) -> None:
    SidecarEngine(opa.url, timeout=1).wait_ready(2)
    assert ("GET", "/health", None) in opa.requests


def test_wait_ready_gives_up_on_a_closed_port() -> None:
    started = time.monotonic()
    err = engine_error(lambda: SidecarEngine(f"http://127.0.0.1:{closed_port()}", timeout=0.5).wait_ready(0.6))
    assert err.reason == "unavailable"
    assert "was not ready within 0.6s" in err.message
    assert time.monotonic() - started < 3


def test_wait_ready_gives_up_while_health_is_not_200(opa: FakeOpa) -> None:
    opa.mode = "health_500"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=0.5).wait_ready(0.5))
    assert err.reason == "unavailable"
    assert "HTTP 500" in err.message


def test_refused_connection() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    err = engine_error(lambda: SidecarEngine(url, timeout=1).decide("canary", GOOD_CANARY))
    assert err.reason == "connection_refused"
    assert err.message.startswith(f"connection to OPA at {url} was refused")


def test_timeout(opa: FakeOpa) -> None:
    opa.delay = 1.5
    started = time.monotonic()
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=0.3).decide("canary", GOOD_CANARY))
    assert err.reason == "timeout"
    assert "did not answer within 0.3s" in err.message
    assert time.monotonic() - started < 1.4  # we did not wait for the slow answer


def test_http_500_includes_opas_code_and_message(opa: FakeOpa) -> None:
    opa.mode = "status_500"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "http_status"
    assert "OPA answered HTTP 500" in err.message
    assert "internal_error: eval_conflict_error" in err.message


def test_http_400_invalid_parameter(opa: FakeOpa) -> None:
    opa.mode = "status_400"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "http_status"
    assert "HTTP 400" in err.message and "invalid_parameter" in err.message


def test_http_error_without_a_json_body(opa: FakeOpa) -> None:
    opa.mode = "status_502_html"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "http_status"
    assert err.message.endswith("HTTP 502 for POST " + opa.url + "/v1/data/swiftdeploy/canary/decision")


def test_body_that_is_not_json(opa: FakeOpa) -> None:
    opa.mode = "not_json"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "not_json"
    assert "body that is not JSON" in err.message and "text/html" in err.message


def test_undefined_document_has_no_result(opa: FakeOpa) -> None:
    opa.mode = "undefined"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "no_result"
    assert "the document is undefined" in err.message


def test_unknown_domain_is_undefined_in_the_real_policies(opa: FakeOpa) -> None:
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("billing", GOOD_CANARY))
    assert err.reason == "no_result"
    assert "/v1/data/swiftdeploy/billing/decision" in err.message


def test_decision_of_the_wrong_shape(opa: FakeOpa) -> None:
    opa.mode = "wrong_shape"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "bad_shape"
    assert "policy engine 'sidecar' returned a decision of the wrong shape" in err.message
    assert "allow must be true or false" in err.message


def test_json_body_that_is_not_an_object(opa: FakeOpa) -> None:
    opa.mode = "list_body"
    err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
    assert err.reason == "bad_shape"
    assert "JSON that is not an object" in err.message


def test_every_failure_has_its_own_reason_and_message(opa: FakeOpa) -> None:
    seen: dict[str, str] = {}
    for mode in ("status_500", "not_json", "undefined", "wrong_shape"):
        opa.mode = mode
        err = engine_error(lambda: SidecarEngine(opa.url, timeout=2).decide("canary", GOOD_CANARY))
        seen[err.reason] = err.message
    err = engine_error(lambda: SidecarEngine(f"http://127.0.0.1:{closed_port()}", 1).decide("canary", {}))
    seen[err.reason] = err.message
    assert set(seen) == {"http_status", "not_json", "no_result", "bad_shape", "connection_refused"}
    assert len(set(seen.values())) == len(seen)


def pick(engine_kind: str, opa: FakeOpa, embedded: EmbeddedEngine, golib: GoEngine) -> Any:
    return {"embedded": embedded, "opa-golib": golib}.get(engine_kind) or SidecarEngine(opa.url, timeout=2)


@pytest.mark.parametrize("engine_kind", ["embedded", "opa-golib", "sidecar"])
def test_input_that_is_not_json_is_refused_before_asking(
    engine_kind: str, opa: FakeOpa, embedded: EmbeddedEngine, golib: GoEngine
) -> None:
    engine = pick(engine_kind, opa, embedded, golib)
    err = engine_error(lambda: engine.decide("canary", {"context": "pre_promote", "metrics": {1, 2}}))
    assert err.reason == "bad_input"
    assert opa.requests == []  # nothing was sent


@pytest.mark.parametrize("engine_kind", ["embedded", "opa-golib", "sidecar"])
def test_domain_must_be_a_plain_identifier(engine_kind: str, opa: FakeOpa, embedded: EmbeddedEngine, golib: GoEngine) -> None:
    engine = pick(engine_kind, opa, embedded, golib)
    err = engine_error(lambda: engine.decide("canary/../x", GOOD_CANARY))
    assert err.reason == "engine_error" and "not a plain identifier" in err.message


# --- the embedded engine's own failures ------------------------------------------------

def copy_policies(tmp_path: Path, *extra: str) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    for name in extra:
        for path in (FIXTURES / name).glob("*.rego"):
            shutil.copy(path, target / path.name)
    return target


def test_embedded_refuses_a_policy_that_does_not_parse(tmp_path: Path) -> None:
    engine = EmbeddedEngine(copy_policies(tmp_path, "broken"))
    err = engine_error(lambda: engine.decide("canary", GOOD_CANARY))
    assert err.reason == "engine_error"
    assert "broken.rego does not load" in err.message


def test_embedded_load_fails_the_same_way_up_front(tmp_path: Path) -> None:
    err = engine_error(EmbeddedEngine(copy_policies(tmp_path, "broken")).load)
    assert "broken.rego does not load" in err.message


def test_embedded_refuses_an_empty_directory(tmp_path: Path) -> None:
    err = engine_error(lambda: EmbeddedEngine(tmp_path).decide("canary", GOOD_CANARY))
    assert err.reason == "engine_error"
    assert f"no .rego files found in {tmp_path}" in err.message


def test_embedded_refuses_a_missing_directory(tmp_path: Path) -> None:
    err = engine_error(lambda: EmbeddedEngine(tmp_path / "nope").decide("canary", GOOD_CANARY))
    assert "no .rego files found" in err.message


def test_embedded_undefined_decision(embedded: EmbeddedEngine) -> None:
    err = engine_error(lambda: embedded.decide("billing", GOOD_CANARY))
    assert err.reason == "no_result"
    assert "data.swiftdeploy.billing.decision is undefined" in err.message


def test_embedded_decision_of_the_wrong_shape(tmp_path: Path) -> None:
    engine = EmbeddedEngine(copy_policies(tmp_path, "wrong_shape"))
    err = engine_error(lambda: engine.decide("wrong_shape", {}))
    assert err.reason == "bad_shape"
    assert "policy engine 'embedded'" in err.message and "missing reasons" in err.message
    assert engine.decide("canary", GOOD_CANARY).allow is True  # the other policies still answer


def test_embedded_evaluation_error(tmp_path: Path) -> None:
    engine = EmbeddedEngine(copy_policies(tmp_path, "conflict"))
    err = engine_error(lambda: engine.decide("conflict", {"a": True}))
    assert err.reason == "engine_error"
    assert "could not evaluate data.swiftdeploy.conflict.decision" in err.message
    # and the engine keeps working afterwards
    assert engine.decide("infrastructure", BAD_INFRA).allow is False


def test_embedded_engine_is_safe_across_threads(embedded: EmbeddedEngine) -> None:
    results: list[bool] = []

    def work() -> None:
        for _ in range(20):
            results.append(embedded.decide("canary", GOOD_CANARY).allow)
            results.append(embedded.decide("infrastructure", BAD_INFRA).allow)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 80 and results.count(False) == 80


def test_decisions_reuse_the_loaded_policies_and_the_open_connection(
    opa: FakeOpa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate is on every deploy; a decision must cost milliseconds, not a policy reload or a
    new connection. What a decision costs is measured, not asserted, by scripts/bench.py (a mean
    under 50 ms asserted here could fail on a loaded machine and said nothing on an idle one);
    what makes it cheap is asserted here: the policy files are read once per engine, however
    many decisions follow, and the sidecar asks every question on one kept-alive connection."""
    import swiftlib.policy.embedded as embedded_module
    import swiftlib.policy.golib as golib_module

    reads: list[str] = []
    for module in (embedded_module, golib_module):
        def counted(path, policies_dir, _read=module.read_policy, _engine=module.__name__):
            reads.append(_engine)
            return _read(path, policies_dir)

        monkeypatch.setattr(module, "read_policy", counted)
    files = len(list(POLICIES.rglob("*.rego")))
    for engine in (EmbeddedEngine(POLICIES), GoEngine(POLICIES)):
        for _ in range(20):
            assert engine.decide("canary", GOOD_CANARY).allow is True
            assert engine.decide("infrastructure", BAD_INFRA).allow is False
    assert reads == [embedded_module.__name__] * files + [golib_module.__name__] * files
    sidecar = SidecarEngine(opa.url, timeout=5)
    for _ in range(20):
        assert sidecar.decide("canary", GOOD_CANARY).allow is True
    assert (len(opa.requests), opa.connections) == (20, 1)


# --- both in-process engines: policies that do not load -----------------------------------

IN_PROCESS = {"embedded": EmbeddedEngine, "opa-golib": GoEngine}


@pytest.mark.parametrize("kind,where", [
    ("embedded", "6:13: this is unclosed"),  # rego-cpp points at the unclosed brace
    ("opa-golib", "6:23: rego_parse_error: unexpected true keyword"),  # OPA at the token after it
])
def test_a_syntax_error_is_reported_as_file_line_column(kind: str, where: str, tmp_path: Path) -> None:
    policies = copy_policies(tmp_path, "broken")
    err = engine_error(IN_PROCESS[kind](policies).load)
    broken = policies / "broken.rego"
    assert err.reason == "engine_error"
    assert err.message.startswith(f"policy file {broken} does not load: {broken}:{where}")


@pytest.mark.parametrize("kind,where", [("embedded", "8:7: Invalid collection"), ("opa-golib", "9:5: rego_parse_error")])
def test_columns_count_characters_after_tabs_and_non_ascii_text(kind: str, where: str, tmp_path: Path) -> None:
    (tmp_path / "odd.rego").write_text(
        "# Politique d\u00e9ploy\u00e9e \u2014 caf\u00e9\npackage swiftdeploy.odd\n\nimport rego.v1\n\n"
        "y if {\n\tz := 1\n\tx := [1,\n\t\t2 3]\n}\n",
        encoding="utf-8",
    )
    err = engine_error(IN_PROCESS[kind](tmp_path).load)
    assert f"{tmp_path / 'odd.rego'}:{where}" in err.message


def test_the_go_evaluator_refuses_a_policy_that_parses_but_does_not_compile(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "unsafe.rego").write_text("package swiftdeploy.unsafe\n\nimport rego.v1\n\ny := z if true\n")
    err = engine_error(GoEngine(policies).load)
    assert err.reason == "engine_error"
    assert f"do not compile: {policies / 'unsafe.rego'}:5: rego_unsafe_var_error: var z is unsafe" in err.message


@pytest.mark.parametrize("kind", sorted(IN_PROCESS))
def test_no_policies_to_load(kind: str, tmp_path: Path) -> None:
    for directory in (tmp_path, tmp_path / "nope"):
        err = engine_error(lambda: IN_PROCESS[kind](directory).decide("canary", GOOD_CANARY))
        assert err.reason == "engine_error"
        assert f"no .rego files found in {directory}" in err.message


def test_policy_test_exits_4_when_the_policies_do_not_load(tmp_path: Path) -> None:
    """`inv policy-test` on policies with a syntax error: exit 4 and the file:line:column."""
    (tmp_path / "manifest.yaml").write_text((ROOT / "manifest.yaml").read_text())
    policies = copy_policies(tmp_path, "broken")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("inv")), "-r", str(ROOT), "policy-test",
         "--manifest", str(tmp_path / "manifest.yaml")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert f"{policies / 'broken.rego'}:6:13: this is unclosed" in done.stdout + done.stderr


# --- OPA's Go evaluator: the rest of the failure contract -----------------------------------

def test_golib_undefined_decision(golib: GoEngine) -> None:
    err = engine_error(lambda: golib.decide("billing", GOOD_CANARY))
    assert err.reason == "no_result"
    assert "data.swiftdeploy.billing.decision is undefined" in err.message


def test_golib_decision_of_the_wrong_shape(tmp_path: Path) -> None:
    engine = GoEngine(copy_policies(tmp_path, "wrong_shape"))
    err = engine_error(lambda: engine.decide("wrong_shape", {}))
    assert err.reason == "bad_shape"
    assert "policy engine 'opa-golib'" in err.message and "missing reasons" in err.message
    assert engine.decide("canary", GOOD_CANARY).allow is True


def test_golib_evaluation_error(tmp_path: Path) -> None:
    engine = GoEngine(copy_policies(tmp_path, "conflict"))
    err = engine_error(lambda: engine.decide("conflict", {"a": True}))
    assert err.reason == "engine_error"
    assert "could not evaluate data.swiftdeploy.conflict.decision" in err.message
    assert "conflict.rego:" in err.message and "eval_conflict_error" in err.message
    assert engine.decide("infrastructure", BAD_INFRA).allow is False


def test_golib_no_input_is_opas_undefined_input(golib: GoEngine, embedded: EmbeddedEngine) -> None:
    """OPA's server evaluates {"input": null} without an input; the policies answer alike."""
    decision = golib.decide("infrastructure", None)
    assert decision == embedded.decide("infrastructure", None) == golib.decide("infrastructure", {})
    assert decision.reasons[0] == 'input.context is missing; expected "pre_deploy"'


def test_golib_engine_is_safe_across_threads(golib: GoEngine) -> None:
    results: list[bool] = []

    def work() -> None:
        for _ in range(20):
            results.append(golib.decide("canary", GOOD_CANARY).allow)
            results.append(golib.decide("infrastructure", BAD_INFRA).allow)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 80 and results.count(False) == 80


@pytest.mark.parametrize("engine_class", [EmbeddedEngine, GoEngine], ids=["embedded", "golib"])
def test_a_policy_file_linked_from_outside_the_directory_never_decides(tmp_path: Path, engine_class) -> None:
    """A `.rego` link to a file elsewhere used to be loaded; its rules could allow anything."""
    policies = copy_policies(tmp_path)
    outside = tmp_path / "elsewhere.rego"
    outside.write_text("package swiftdeploy.extra\n\nx := 1\n")
    (policies / "extra.rego").symlink_to(outside)
    with pytest.raises(ConfigError, match=r"extra\.rego: resolves to .*elsewhere\.rego, outside") as info:
        engine_class(policies).load()
    assert info.value.exit_code == 2


@pytest.mark.parametrize("engine_class", [EmbeddedEngine, GoEngine], ids=["embedded", "golib"])
def test_a_fifo_named_like_a_policy_is_refused_without_blocking(tmp_path: Path, engine_class) -> None:
    """Reading a FIFO waits for a writer forever: opa-check used to hang."""
    policies = copy_policies(tmp_path)
    os.mkfifo(policies / "pipe.rego")
    with pytest.raises(ConfigError, match=r"pipe\.rego: is a FIFO"):
        engine_class(policies).load()


def test_one_shared_engine_per_policy_content(tmp_path: Path) -> None:
    """A run's gates share one compiled engine (a fleet's hosts, a rollout's steps); an edited policy is
    compiled afresh and decides as the new text says."""
    from swiftlib.policy.embedded import shared_engine

    shutil.copytree(POLICIES, tmp_path / "policies")
    policies = tmp_path / "policies"
    first = shared_engine(policies)
    first.prepare("canary")
    assert shared_engine(policies) is first
    assert first.decide("canary", GOOD_CANARY).allow
    canary_rego = next(p for p in policies.rglob("*.rego") if "package swiftdeploy.canary" in p.read_text())
    canary_rego.write_text(canary_rego.read_text() + "\n# edited\n")
    edited = shared_engine(policies)
    assert edited is not first and edited.decide("canary", GOOD_CANARY).allow
    canary_rego.write_text("package swiftdeploy.canary\n\nimport rego.v1\n\ndecision := {\"domain\": \"canary\", "
                           "\"question\": \"q\", \"allow\": false, \"reasons\": [\"closed for the test\"]}\n")
    assert list(shared_engine(policies).decide("canary", GOOD_CANARY).reasons) == ["closed for the test"]


def test_a_shared_engine_for_unreadable_policies_reports_why_when_used(tmp_path: Path) -> None:
    from swiftlib.policy.embedded import shared_engine

    with pytest.raises(PolicyEngineError, match="no .rego files"):
        shared_engine(tmp_path / "nothing-here").prepare("canary")


def test_shared_engines_are_kept_for_a_few_directories_only(tmp_path: Path) -> None:
    """Each compiled engine holds about 10 MB: a process keeps the newest few, not one per directory it met."""
    from swiftlib.policy import embedded

    first = None
    for i in range(embedded._SHARED_DIRECTORIES + 2):
        shutil.copytree(POLICIES, tmp_path / str(i))
        engine = embedded.shared_engine(tmp_path / str(i))
        first = first or engine
    assert len(embedded._SHARED) == embedded._SHARED_DIRECTORIES
    assert embedded.shared_engine(tmp_path / "0") is not first  # dropped, compiled again when asked
