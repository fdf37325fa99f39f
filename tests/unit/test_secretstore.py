"""Secrets on the controller: each source read as documented, every failure named without the value,
and fingerprints that tell a change without telling the value."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swiftlib.errors import ManifestError
from swiftlib.manifest.load import load_manifest
from swiftlib.manifest.model import SecretSource, build_manifest
from swiftlib.secretstore import fingerprints
from swiftlib.secretstore.sources import SecretError, resolve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"


def test_each_source_gives_its_value_one_trailing_newline_shorter(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "db").write_text("pw-from-file\n")
    (tmp_path / "crlf").write_text("windows\r\n")
    sources = [SecretSource("A", "env", "SWD_A"), SecretSource("B", "file", str(tmp_path / "db")),
               SecretSource("C", "command", "printf 'from-command\\n\\n'"), SecretSource("D", "file", str(tmp_path / "crlf"))]
    assert resolve(sources, project, environ={"SWD_A": "from-env"}) == {
        "A": "from-env", "B": "pw-from-file", "C": "from-command\n", "D": "windows"}


@pytest.mark.parametrize("source, environ, message", [
    (SecretSource("A", "env", "SWD_MISSING"), {}, "secrets.A: the environment variable SWD_MISSING is not set"),
    (SecretSource("A", "env", "SWD_EMPTY"), {"SWD_EMPTY": ""}, "secrets.A: the value from its env (SWD_EMPTY) is empty"),
    (SecretSource("B", "file", "/nonexistent/swiftdeploy/db"), {}, "secrets.B: /nonexistent/swiftdeploy/db does not exist"),
    (SecretSource("C", "command", "echo the-value-itself; echo locked >&2; exit 3"), {},
     "secrets.C: `echo the-value-itself; echo locked >&2; exit 3` exited 3: locked"),
    (SecretSource("C", "command", "true"), {}, "secrets.C: the value from its command (true) is empty"),
])
def test_a_missing_or_empty_secret_is_named_and_its_value_never_shown(tmp_path, source, environ, message):
    with pytest.raises(SecretError) as info:
        resolve([source], tmp_path, environ=environ)
    assert info.value.exit_code == 2 and info.value.message == message


def test_a_failing_commands_output_is_never_shown(tmp_path):
    secret_file = tmp_path / "value"
    secret_file.write_text("half-a-secret")
    with pytest.raises(SecretError) as info:
        resolve([SecretSource("C", "command", "cat " + str(secret_file) + "; exit 1")], tmp_path, environ={})
    assert "half-a-secret" not in info.value.message


def test_a_secret_file_inside_the_project_is_refused(tmp_path):
    (tmp_path / "token").write_text("committed by mistake")
    with pytest.raises(SecretError, match="inside the project directory; keep secrets outside it"):
        resolve([SecretSource("T", "file", str(tmp_path / "token"))], tmp_path, environ={})


def test_a_value_written_into_the_manifest_is_refused_without_being_echoed():
    with pytest.raises(ManifestError) as info:
        load_manifest(FIXTURES / "bad" / "secrets_value_inline.yaml")
    assert "hunter2-never-echoed" not in str(info.value)


def test_the_manifest_names_each_secret_and_its_source():
    raw = yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())
    raw["secrets"] = {"API_TOKEN": {"env": "SWD_API_TOKEN"}, "DB": {"file": "~/keys/db"},
                      "OP": {"command": "op read op://vault/item/field"}}
    assert build_manifest(raw).secrets == (SecretSource("API_TOKEN", "env", "SWD_API_TOKEN"),
                                           SecretSource("DB", "file", "~/keys/db"),
                                           SecretSource("OP", "command", "op read op://vault/item/field"))
    assert build_manifest(yaml.safe_load((FIXTURES / "good" / "minimal.yaml").read_text())).secrets == ()


def test_fingerprints_are_keyed_stable_and_tell_a_change(monkeypatch, tmp_path):
    monkeypatch.setenv("SWIFTDEPLOY_STATE_DIR", str(tmp_path / "state"))
    key = fingerprints.key()
    assert len(key) == 32 and fingerprints.key() == key  # made once, then read
    assert oct((tmp_path / "state" / "secrets.key").stat().st_mode & 0o777) == "0o600"
    one = fingerprints.fingerprint(key, "A", "v1")
    assert one == fingerprints.fingerprint(key, "A", "v1") and len(one) == 16
    assert one != fingerprints.fingerprint(key, "A", "v2") and one != fingerprints.fingerprint(key, "B", "v1")
    assert one != fingerprints.fingerprint(b"another key" * 3, "A", "v1")  # nothing to match without the key
    assert fingerprints.combined({"A": one}) != fingerprints.combined({"A": fingerprints.fingerprint(key, "A", "v2")})


def test_a_run_starting_while_the_key_is_written_never_sees_a_partial_key(monkeypatch, tmp_path):
    """Another run asks for the key at the worst moment: this one has begun making it and not yet written
    it. With an exclusive create of the key file itself, that run read an empty key and fingerprinted
    every secret under it (a secret that looked changed on the next run)."""
    monkeypatch.setenv("SWIFTDEPLOY_STATE_DIR", str(tmp_path))
    real = fingerprints.random_bytes.token_bytes
    seen: list[bytes] = []

    def token_bytes(n: int) -> bytes:
        if n == 32 and not seen:  # as the key is drawn: the other run's key(), in the middle of this one's
            seen.append(b"asking")
            seen.append(fingerprints.key())
        return real(n)

    monkeypatch.setattr(fingerprints.random_bytes, "token_bytes", token_bytes)
    mine = fingerprints.key()
    assert len(seen[1]) == 32 and mine == seen[1] == fingerprints.key()  # one whole key, the same for both
    assert [p.name for p in tmp_path.iterdir()] == [fingerprints.KEY_FILE]  # no part file left
