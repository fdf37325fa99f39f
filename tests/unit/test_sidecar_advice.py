"""An OPA sidecar that does not answer: the message says what is unreachable and why in words (never
the HTTP library's own text), and what to do, judged from the compose file the stack has: look at
its opa service, or, with none, deploy one or use the embedded engine."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import requests
import yaml

from swiftlib.errors import PolicyEngineError
from swiftlib.lifecycle import gates, sidecar_advice
from swiftlib.lifecycle.context import Project, Target
from swiftlib.lifecycle.engine_choice import EngineChoice
from swiftlib.policy import SidecarEngine
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
LIBRARY_TEXT = ("HTTPConnectionPool", "Max retries", "NewConnectionError", "urllib3", "object at 0x")


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    manifest["opa"].update(port=closed_port(), decision_timeout_seconds=0.5)
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return Project.load(tmp_path / "manifest.yaml")


def test_a_closed_port_is_named_with_the_reason_in_words() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(PolicyEngineError) as caught:
        SidecarEngine(url, timeout=0.3).wait_ready(0.3)
    message = caught.value.message
    assert message == f"the OPA sidecar at {url} was not ready within 0.3s: nothing listens there (connection refused)"
    assert caught.value.reason == "unavailable" and caught.value.exit_code == 4


def test_another_connection_failure_says_the_systems_words_not_the_librarys() -> None:
    engine = SidecarEngine("http://opa.example:8181", timeout=0.3)
    resolver = socket.gaierror(-2, "Name or service not known")
    library = requests.ConnectionError(f"HTTPConnectionPool(host='opa.example', port=8181): Max retries exceeded "
                                       f"(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at "
                                       f"0x7f>: Failed to resolve'))")
    library.__cause__ = resolver

    def get(*args, **kwargs):
        raise library

    engine._session.get = get
    with pytest.raises(PolicyEngineError) as caught:
        engine.wait_ready(0.1)
    message = caught.value.message
    assert message.endswith("was not ready within 0.1s: the connection failed (name or service not known)")
    assert not any(text in message for text in LIBRARY_TEXT), message


@pytest.mark.parametrize("compose, said", [
    (None, "there is no docker-compose.yml in"),
    ("services:\n  app: {}\n  nginx: {}\n", "its docker-compose.yml in"),
    ("services: [", "declares no opa service"),
])
def test_a_stack_without_the_opa_service_is_told_to_deploy_one_or_use_the_embedded_engine(compose, said) -> None:
    text = sidecar_advice.advice(sidecar_advice.compose_services(compose), "/srv/app")
    assert text.startswith("this stack runs no OPA sidecar: ") and said in text and "/srv/app" in text
    assert "opa.engine: sidecar" in text and "inv deploy" in text and "opa.engine: embedded" in text
    assert "docker compose logs opa" not in text


def test_a_stack_with_the_opa_service_is_told_to_look_at_it() -> None:
    text = sidecar_advice.advice(sidecar_advice.compose_services("services:\n  app: {}\n  opa: {}\n"), "/srv/app")
    assert "declares the opa service, which does not answer" in text
    assert "docker compose ps opa" in text and "docker compose logs opa" in text


def test_the_gate_adds_the_advice_and_audits_the_whole_message(project: Project) -> None:
    target = Target.local(project)
    (project.root / "docker-compose.yml").write_text("services:\n  app: {}\n  nginx: {}\n")
    with pytest.raises(PolicyEngineError) as caught:
        with gates.policy_engine(project, target, EngineChoice("sidecar", "test"), ready_seconds=0.3):
            pass
    message = caught.value.message
    assert "nothing listens there (connection refused); this stack runs no OPA sidecar" in message
    assert f"its docker-compose.yml in {project.root} declares no opa service" in message
    assert caught.value.host == "local" and caught.value.reason == "unavailable"
    [event] = [e for e in project.audit.read() if e["event_type"] == "policy_engine_failure"]
    assert event["data"]["message"] == message


def test_policy_test_with_the_sidecar_engine_and_no_sidecar(project: Project) -> None:
    result = run_cli(project.manifest_path, "policy-test", "--engine", "sidecar", timeout=60)
    assert result.returncode == 4, result.stdout + result.stderr
    port = project.manifest.opa.port
    assert result.stderr.startswith(f"ERROR: [local] the OPA sidecar at http://127.0.0.1:{port} was not ready within")
    assert "nothing listens there (connection refused)" in result.stderr
    assert "there is no docker-compose.yml in" in result.stderr and "opa.engine: embedded" in result.stderr
    assert "check that the opa service" not in result.stderr
    assert not any(text in result.stderr for text in LIBRARY_TEXT), result.stderr
