"""The OPA test stand-in (tests/opa_standin/server.py), run as a real process on the host.

It must speak OPA's REST contract closely enough that the SidecarEngine, pointed at it,
decides every policy case as the case tables say (the tables both in-process engines are held
to); it evaluates with OPA's own Go evaluator (opa_bindings). Building its image is left to the Docker-backed tests; here its
build context helper is checked without the network.
"""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from swiftlib.policy import SidecarEngine, run_cases

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "opa_standin"
POLICIES = ROOT / "policies"
CASES = ROOT / "tests" / "policy_cases"
FIXTURES = ROOT / "tests" / "fixtures" / "policy"


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"opa_standin_{name}", STANDIN / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StandIn:
    """server.py in a subprocess on a port the OS picks (read back from its start-up line)."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN / "server.py"), *argv],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.first_line = self.proc.stderr.readline()
        self.log: list[str] = []
        # keep draining the request log so the pipe never fills
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
        port = self.first_line.rsplit(":", 1)[-1].strip() if "serving" in self.first_line else ""
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    server = StandIn("run", "--server", "--addr=127.0.0.1:0", "--log-level", "debug", str(POLICIES))
    assert "a test stand-in, not OPA" in server.first_line, server.first_line  # names the install script if the wheel is missing
    yield server
    server.stop()


def test_health(standin: StandIn) -> None:
    response = requests.get(f"{standin.url}/health", timeout=5)
    assert (response.status_code, response.json()) == (200, {})


def test_sidecar_engine_decides_every_case_through_the_standin(standin: StandIn) -> None:
    engine = SidecarEngine(standin.url, timeout=5)
    engine.wait_ready(5)
    results = run_cases(engine, CASES)
    assert len(results) > 40
    assert [r for r in results if not r.passed] == []


def test_undefined_document_answers_empty_object(standin: StandIn) -> None:
    for path in ("swiftdeploy/billing/decision", "swiftdeploy/canary/nothing", "swift-deploy/x"):
        response = requests.post(f"{standin.url}/v1/data/{path}", json={"input": {}}, timeout=5)
        assert (response.status_code, response.json()) == (200, {}), path


def test_result_for_a_rule_and_for_get_without_input(standin: StandIn) -> None:
    response = requests.get(f"{standin.url}/v1/data/swiftdeploy/canary/question", timeout=5)
    assert response.json() == {"result": "is the canary healthy enough to promote?"}
    decision = requests.post(f"{standin.url}/v1/data/swiftdeploy/canary/decision", data=b"", timeout=5).json()
    assert decision["result"]["allow"] is False
    assert 'input.context is missing; expected "pre_promote"' in decision["result"]["reasons"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"input"'])
def test_malformed_body_is_invalid_parameter(standin: StandIn, body: bytes) -> None:
    response = requests.post(f"{standin.url}/v1/data/swiftdeploy/canary/decision", data=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"
    assert response.json()["message"]


def test_unknown_endpoint(standin: StandIn) -> None:
    response = requests.get(f"{standin.url}/v1/policies", timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "resource_not_found"


def test_it_logs_requests(standin: StandIn) -> None:
    requests.get(f"{standin.url}/health", timeout=5)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not any("GET /health" in line for line in standin.log):
        time.sleep(0.05)
    assert any("GET /health" in line for line in standin.log)


def test_refuses_to_start_when_a_policy_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text((FIXTURES / "broken" / "broken.rego").read_text())
    done = subprocess.run(
        [sys.executable, str(STANDIN / "server.py"), "run", "--server", "--addr=127.0.0.1:0", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "cannot load policies" in done.stderr
    assert "broken.rego:6: rego_parse_error" in done.stderr


def test_refuses_to_start_when_a_policy_does_not_compile(tmp_path: Path) -> None:
    """As `opa run --server` does: an unsafe variable stops the start-up, not the first request."""
    (tmp_path / "unsafe.rego").write_text("package swiftdeploy.unsafe\n\nimport rego.v1\n\ny := z if true\n")
    done = subprocess.run(
        [sys.executable, str(STANDIN / "server.py"), "run", "--server", "--addr=127.0.0.1:0", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "rego_unsafe_var_error" in done.stderr


def test_null_input_is_opas_undefined_input(standin: StandIn) -> None:
    url = f"{standin.url}/v1/data/swiftdeploy/infrastructure/decision"
    null = requests.post(url, json={"input": None}, timeout=5).json()["result"]
    empty = requests.post(url, json={"input": {}}, timeout=5).json()["result"]
    assert null == empty
    assert null["reasons"][0] == 'input.context is missing; expected "pre_deploy"'


def test_an_evaluation_error_is_opas_500(tmp_path: Path) -> None:
    (tmp_path / "conflict.rego").write_text((FIXTURES / "conflict" / "conflict.rego").read_text())
    server = StandIn("run", "--server", "--addr=127.0.0.1:0", str(tmp_path))
    try:
        response = requests.post(f"{server.url}/v1/data/swiftdeploy/conflict/decision", json={"input": {"a": True}},
                                 timeout=5)
        assert response.status_code == 500
        assert response.json()["code"] == "internal_error"
        assert "eval_conflict_error" in response.json()["message"]
    finally:
        server.stop()


def test_stops_promptly_on_sigterm() -> None:
    server = StandIn("run", "--server", "--addr=127.0.0.1:0", str(POLICIES))
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 2


# --- pure parts: the command line and the image build context ------------------------

@pytest.mark.parametrize(
    "argv,addr,paths",
    [
        (["run", "--server", "--addr=0.0.0.0:8181", "/policies"], "0.0.0.0:8181", ["/policies"]),
        (["run", "--server", "--addr", "0.0.0.0:8181", "/policies"], "0.0.0.0:8181", ["/policies"]),
        (["run", "-s", "-a", ":8181", "--log-level", "debug", "/p", "/q"], ":8181", ["/p", "/q"]),
        (["run", "--server", "/policies"], "localhost:8181", ["/policies"]),
        (["run", "--server", "--log-format=json", "--unknown-flag", "/policies"], "localhost:8181", ["/policies"]),
    ],
)
def test_parse_argv_accepts_opas_command_line(argv: list[str], addr: str, paths: list[str]) -> None:
    assert load_module("server").parse_argv(argv) == (addr, paths)


@pytest.mark.parametrize(
    "addr,expected",
    [("0.0.0.0:8181", ("0.0.0.0", 8181)), ("localhost:8181", ("127.0.0.1", 8181)),
     (":8181", ("0.0.0.0", 8181)), ("[::1]:9000", ("::1", 9000))],
)
def test_split_addr(addr: str, expected: tuple[str, int]) -> None:
    assert load_module("server").split_addr(addr) == expected


def test_dockerfile_runs_the_standin_with_opas_arguments() -> None:
    text = (STANDIN / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE" in text and "FROM ${BASE_IMAGE}" in text
    assert 'ENTRYPOINT ["python3", "/standin/server.py"]' in text
    assert "COPY wheels/" in text and "pip install" not in text
    assert "TEST STAND-IN" in text and "not the OPA server" in text  # in the comment and the image label
    assert "regopy" not in text and "opa_bindings" in text
    assert "never presented as OPA" in (STANDIN / "README.md").read_text()


@pytest.mark.parametrize("machine,arch", [("x86_64", "x86_64"), ("aarch64", "aarch64"), ("arm64", "aarch64")])
def test_wheel_download_targets_the_bookworm_image(machine: str, arch: str, tmp_path: Path) -> None:
    build = load_module("build")
    argv = build.download_command(tmp_path, machine=machine, version="0.4.4")
    assert argv[1:4] == ["-m", "pip", "download"]
    assert "opa-golib-python-bindings==0.4.4" in argv and "--no-deps" in argv and "--only-binary=:all:" in argv
    # the wheel is py3-none; only its metadata asks for 3.14
    assert argv[argv.index("--python-version") + 1] == "3.14"
    assert argv[argv.index("--abi") + 1] == "none"
    platforms = [argv[i + 1] for i, a in enumerate(argv) if a == "--platform"]
    assert platforms[0] == f"manylinux_2_36_{arch}" and f"manylinux2014_{arch}" in platforms
    assert all(p.endswith(arch) for p in platforms)


def test_context_takes_the_wheel_from_the_download_cache(tmp_path: Path) -> None:
    """Offline: a cached wheel for the image's architecture is copied, nothing is downloaded."""
    build = load_module("build")
    cache = tmp_path / "cache"
    cache.mkdir()
    for arch in ("aarch64", "x86_64"):
        (cache / f"opa_golib_python_bindings-0.4.4-py3-none-manylinux_2_34_{arch}.whl").write_bytes(b"zip")
    (cache / "opa_golib_python_bindings-0.4.4-py3-none-manylinux_2_39_x86_64.whl").write_bytes(b"too new")
    build.wheel_version = lambda: "0.4.4"
    context = build.prepare_context(tmp_path / "ctx", machine="x86_64", cache=cache)
    assert sorted(p.name for p in (context / "wheels").iterdir()) == [
        "opa_golib_python_bindings-0.4.4-py3-none-manylinux_2_34_x86_64.whl"]
    assert sorted(p.name for p in context.iterdir()) == ["Dockerfile", "README.md", "server.py", "wheels"]


def test_wheel_download_refuses_an_unknown_architecture(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="riscv64"):
        load_module("build").download_command(tmp_path, machine="riscv64")
