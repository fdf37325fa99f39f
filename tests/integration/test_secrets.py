"""Secrets on a real stack: the app reads /run/secrets/<NAME> (0400, its own user), the values reach
nothing else the tool writes or prints, a changed value is rolled out blue/green with no request
failing and audited by name and fingerprint, a missing one stops everything before any change,
and teardown removes the files."""
from __future__ import annotations

import json
import secrets as random
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SWIFTDEPLOY, run_cli
from tests.integration.stack import Load, docker, leftovers, make_project, remove_stack

pytestmark = pytest.mark.docker

PREFIX, PORT = "sdsecret", 25880
APP = f"{PREFIX}-app"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    outside = tmp_path_factory.mktemp("keys")  # the secrets' own files live outside the project
    values = {"API_TOKEN": f"tok-{random.token_hex(8)}", "DB_PASSWORD": f"pw-{random.token_hex(8)}",
              "SIGNING_KEY": f"sig-{random.token_hex(8)}"}
    (outside / "db").write_text(values["DB_PASSWORD"] + "\n")
    (outside / "signing").write_text(values["SIGNING_KEY"] + "\n")  # what a password manager would print
    manifest = make_project(tmp_path_factory.mktemp("secrets-project"), prefix=PREFIX, base_port=PORT)
    text = manifest.read_text() + (
        "secrets:\n"
        "  API_TOKEN: {env: SWD_TEST_API_TOKEN}\n"
        f"  DB_PASSWORD: {{file: {outside / 'db'}}}\n"
        f"  SIGNING_KEY: {{command: \"cat {outside / 'signing'}\"}}\n")
    manifest.write_text(text)
    printed: list[str] = []
    yield manifest, values, printed
    run_cli(manifest, "teardown", "--clean")
    remove_stack(PREFIX)


def cli(stack, *args, env_value: str | None = None, expect: int = 0) -> str:
    manifest, values, printed = stack
    import os

    env = {k: v for k, v in os.environ.items() if k != "SWD_TEST_API_TOKEN"}
    if env_value is not None:
        env["SWD_TEST_API_TOKEN"] = env_value
    done = subprocess.run([*SWIFTDEPLOY, *args, "--manifest", str(manifest)], capture_output=True, text=True,
                          timeout=600, cwd=manifest.parent, env=env)
    printed.append(done.stdout + done.stderr)
    assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def in_app(*argv: str) -> str:
    return docker("exec", APP, *argv)


def test_a_missing_secret_stops_the_deploy_before_anything_changes(stack):
    said = cli(stack, "deploy", expect=2)
    assert "secrets.API_TOKEN: the environment variable SWD_TEST_API_TOKEN is not set" in said
    assert not leftovers(PREFIX) and not (stack[0].parent / "docker-compose.yml").exists()


def test_the_app_reads_each_secret_from_its_own_file(stack):
    manifest, values, _ = stack
    said = cli(stack, "deploy", env_value=values["API_TOKEN"])
    assert "API_TOKEN placed" in said and "(values not shown)" in said
    for name, value in values.items():
        assert in_app("cat", f"/run/secrets/{name}") == value  # one trailing newline shorter than the source
        assert in_app("stat", "-c", "%a %u", f"/run/secrets/{name}") == "400 10001"
    config = json.loads(docker("inspect", APP))[0]["Config"]
    assert not any(value in entry for entry in config["Env"] for value in values.values())  # never environment


def test_a_changed_value_is_rolled_out_with_no_failed_request_and_audited_by_name(stack):
    manifest, values, _ = stack
    old = values["API_TOKEN"]
    values["API_TOKEN"] = f"tok-{random.token_hex(8)}"
    with Load(f"http://127.0.0.1:{PORT}/", rate=50) as load:
        said = cli(stack, "deploy", env_value=values["API_TOKEN"])
    assert load.dropped == [], f"{len(load.dropped)} requests failed:\n{said}"
    assert in_app("cat", "/run/secrets/API_TOKEN") == values["API_TOKEN"]
    events = [json.loads(line) for line in (manifest.parent / "history.jsonl").read_text().splitlines()]
    rotations = [e["data"] for e in events if e["event_type"] == "secrets"]
    assert rotations[-1]["changed"] == ["API_TOKEN"] and len(rotations[-1]["fingerprints"]["API_TOKEN"]) == 16
    assert rotations[0]["fingerprints"]["API_TOKEN"] != rotations[-1]["fingerprints"]["API_TOKEN"]
    values["OLD_API_TOKEN"] = old  # must not be anywhere either


def test_no_value_is_in_any_file_the_tool_wrote_or_anything_it_printed(stack):
    manifest, values, printed = stack
    cli(stack, "render", "--check", "--diff", env_value=values["API_TOKEN"])
    cli(stack, "validate", "--debug", env_value=values["API_TOKEN"])
    cli(stack, "status", "--json")
    cli(stack, "audit")
    cli(stack, "deploy", "--check", "--diff", env_value=values["API_TOKEN"])
    secret_dir = manifest.parent / ".swiftdeploy" / "secrets"
    files = [p for p in manifest.parent.rglob("*") if p.is_file() and secret_dir not in p.parents]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        for name, value in values.items():
            assert value.encode() not in data, f"{name}'s value is in {path}"
    for output in printed:
        for name, value in values.items():
            assert value not in output, f"{name}'s value was printed"


def test_teardown_removes_the_secret_files(stack):
    manifest, values, _ = stack
    said = cli(stack, "teardown")
    assert "secret API_TOKEN" in said
    assert not list((manifest.parent / ".swiftdeploy" / "secrets").glob("*"))
