"""swiftlib.manifest.load: reading manifest.yaml and editing services.mode in place.

Broken files live in tests/fixtures/manifests/broken/ (first lines ``# expect: TEXT``).
Edits are checked byte for byte: tests/fixtures/manifests/edit/NAME.yaml promoted to
canary must equal NAME.canary.yaml exactly, and demoting it must give NAME.yaml back.
"""
from __future__ import annotations

import codecs
import os
import shutil
import signal
from pathlib import Path

import pytest

from swiftlib.manifest import load as manifest_file
from swiftlib.errors import ManifestError
from swiftlib.manifest.load import load_manifest, read_manifest_text, replace_scalar, set_mode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
EDITS = sorted(p for p in (FIXTURES / "edit").glob("*.yaml") if not p.name.endswith(".canary.yaml"))
PREFIX = b"# expect: "


def copy_to(tmp_path: Path, source: Path, name: str = "manifest.yaml") -> Path:
    target = tmp_path / name
    shutil.copyfile(source, target)
    return target


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# -- loading ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_file_reports_what_and_where(path: Path):
    first = path.read_bytes().splitlines()[0]
    assert first.startswith(PREFIX)
    expected = first[len(PREFIX):].decode("utf-8")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_loads_with_and_without_bom(tmp_path: Path):
    plain = (FIXTURES / "good" / "minimal.yaml").read_bytes()
    (tmp_path / "bom.yaml").write_bytes(codecs.BOM_UTF8 + plain)
    (tmp_path / "plain.yaml").write_bytes(plain)
    assert read_manifest_text(tmp_path / "bom.yaml") == (plain.decode(), True)
    assert read_manifest_text(tmp_path / "plain.yaml") == (plain.decode(), False)
    assert load_manifest(tmp_path / "bom.yaml") == load_manifest(tmp_path / "plain.yaml")


def test_loads_crlf_with_bom():
    m = load_manifest(FIXTURES / "edit" / "crlf_bom.yaml")
    assert (m.services.mode, m.services.port, m.opa.engine) == ("stable", 3000, "embedded")


def test_missing_file_says_what_to_do(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ManifestError) as info:
        load_manifest(missing)
    assert str(info.value) == f"{missing}: file not found; create it (see README) or pass --manifest PATH"


@pytest.fixture
def no_hang():
    """Fail instead of hanging when a read blocks (a FIFO with no writer)."""
    def expired(signum, frame):  # noqa: ANN001 - signal handler shape
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_directory_is_not_a_manifest(tmp_path: Path):
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a regular file; a manifest must be a regular file"
    assert info.value.exit_code == 2


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, no_hang):
    fifo = tmp_path / "manifest.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ManifestError, match="is a FIFO \\(named pipe\\), not a regular file"):
        load_manifest(fifo)
    with pytest.raises(ManifestError, match="is a FIFO"):
        set_mode(fifo, "canary")


def test_a_device_is_refused(no_hang):
    with pytest.raises(ManifestError) as info:
        load_manifest(Path("/dev/zero"))
    assert str(info.value) == "/dev/zero: is a character device, not a regular file; a manifest must be a regular file"


def test_a_file_over_one_mib_is_refused_but_one_mib_loads(tmp_path: Path):
    good = (FIXTURES / "good" / "minimal.yaml").read_bytes()
    path = tmp_path / "manifest.yaml"
    pad = manifest_file.MAX_MANIFEST_BYTES - len(good) - 1
    path.write_bytes(good + b"#" + b"x" * (pad - 1) + b"\n")  # exactly 1 MiB of comment padding
    assert path.stat().st_size == manifest_file.MAX_MANIFEST_BYTES == 1024 * 1024
    assert load_manifest(path).services.mode == "stable"
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(info.value) == f"{path}: is larger than 1 MiB, the most a manifest may be"


def test_a_file_that_grows_past_the_cap_is_read_only_that_far(tmp_path: Path, monkeypatch):
    path = tmp_path / "manifest.yaml"
    path.write_bytes(b"# " + b"x" * (3 * manifest_file.MAX_MANIFEST_BYTES) + b"\n")
    real_stat = os.stat
    monkeypatch.setattr("swiftlib.fileio.os.stat", lambda p: real_stat(FIXTURES / "good" / "minimal.yaml"))
    reads = []
    real_read = os.read
    monkeypatch.setattr("swiftlib.fileio.os.read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(ManifestError, match="is larger than 1 MiB"):
        load_manifest(path)
    assert sum(reads) == manifest_file.MAX_MANIFEST_BYTES + 1


def test_a_symlink_out_of_the_project_is_refused_and_its_content_never_shown(tmp_path: Path):
    secret = tmp_path / "elsewhere" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\nport: SECRETVALUE\n")
    project = tmp_path / "project"
    project.mkdir()
    link = project / "manifest.yaml"
    link.symlink_to(secret)
    for call in (lambda: load_manifest(link), lambda: set_mode(link, "canary")):
        with pytest.raises(ManifestError) as info:
            call()
        assert str(info.value).startswith(f"{link}: resolves to {secret}, outside {project}")
        assert "SECRET" not in str(info.value)
    assert link.is_symlink() and secret.read_text().startswith("root:")


def test_project_load_refuses_a_manifest_symlink_out_of_the_project(tmp_path: Path):
    from swiftlib.lifecycle.context import Project

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "shadow").write_text("root:SECRET:19000:0:99999:7:::\n")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "manifest.yaml").symlink_to(tmp_path / "elsewhere" / "shadow")
    with pytest.raises(ManifestError) as info:
        Project.load(tmp_path / "project" / "manifest.yaml")
    assert "resolves to" in str(info.value) and "SECRET" not in str(info.value)


def test_a_symlink_inside_the_project_is_followed(tmp_path: Path):
    (tmp_path / "envs").mkdir()
    shutil.copyfile(FIXTURES / "good" / "minimal.yaml", tmp_path / "envs" / "prod.yaml")
    (tmp_path / "manifest.yaml").symlink_to("envs/prod.yaml")
    assert load_manifest(tmp_path / "manifest.yaml").services.mode == "stable"


def test_numbers_follow_yaml_1_2_and_booleans_yaml_1_1(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("a: 2:14:0\nb: 1:30.5\nc: 0443\nd: no\ne: On\nf: true\ng: 0\nh: 0x1f\ni: 1_000\nj: -1.5\nk: .inf\n"
                    "l: -0\nm: 08\nn: 1.5e+3\n")
    assert manifest_file.load_raw(path) == {"a": "2:14:0", "b": "1:30.5", "c": "0443", "d": False, "e": True,
                                            "f": True, "g": 0, "h": 31, "i": 1000, "j": -1.5, "k": float("inf"),
                                            "l": 0, "m": "08", "n": 1500.0}


def test_an_anchor_without_alias_is_fine(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("a: &x 1\n")
    assert manifest_file.load_raw(path) == {"a": 1}


@pytest.mark.parametrize("text", ["[" * 1024, "a:\n" + "".join(" " * i + "a:\n" for i in range(1, 40)),
                                  "- " * 500 + "x\n", "{a: " * 300])
def test_deep_nesting_of_any_kind_is_refused(tmp_path: Path, text: str):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match="invalid YAML: nested more than 32 levels deep"):
        manifest_file.load_raw(path)


def test_a_billion_laughs_is_refused_at_the_first_alias(tmp_path: Path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    path = tmp_path / "m.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="line 2, column 8: invalid YAML: aliases"):
        manifest_file.load_raw(path)


def test_syntax_errors_never_quote_the_file(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("services:\n  image: SECRET1\n   bad: SECRET2\n  - SECRET3\n")
    with pytest.raises(ManifestError) as info:
        manifest_file.load_raw(path)
    assert "SECRET" not in str(info.value) and "line " in str(info.value)


def test_validation_errors_name_the_file(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text("services: {}\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(info.value).startswith(f"{path}: ") and "services.image: required field is missing" in str(info.value)


# -- set_mode: byte-exact edits ---------------------------------------------------------

@pytest.mark.parametrize("source", EDITS, ids=[p.stem for p in EDITS])
def test_set_mode_changes_only_the_one_value(tmp_path: Path, source: Path):
    expected = source.with_name(source.stem + ".canary.yaml").read_bytes()
    path = copy_to(tmp_path, source)
    assert set_mode(path, "canary") is True
    assert path.read_bytes() == expected
    assert load_manifest(path).services.mode == "canary"
    assert set_mode(path, "stable") is True
    assert path.read_bytes() == source.read_bytes()
    assert os.listdir(tmp_path) == ["manifest.yaml"]


def test_the_edit_fixtures_differ_in_exactly_one_line():
    for source in EDITS:
        old = source.read_bytes().splitlines(keepends=True)
        new = source.with_name(source.stem + ".canary.yaml").read_bytes().splitlines(keepends=True)
        assert len(old) == len(new)
        changed = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(changed) == 1 and changed[0][0].replace(b"stable", b"canary", 1) == changed[0][1], source.name


def test_set_mode_to_the_current_mode_touches_nothing(tmp_path: Path):
    path = copy_to(tmp_path, FIXTURES / "edit" / "crlf_bom.yaml")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = snapshot(path)
    assert set_mode(path, "stable") is False
    assert snapshot(path) == before


def test_a_failed_write_leaves_the_original_and_no_temp_file(tmp_path: Path, monkeypatch):
    path = copy_to(tmp_path, FIXTURES / "edit" / "single_quoted.yaml")
    before = path.read_bytes()

    def boom(src, dst):  # noqa: ANN001 - same shape as os.replace
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space left"):
        set_mode(path, "canary")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["manifest.yaml"]


@pytest.mark.parametrize("mode", ["prod", "Canary", "canary'", "canary\nnginx: {}", ""])
def test_set_mode_refuses_a_mode_that_is_not_stable_or_canary(tmp_path: Path, mode: str):
    path = copy_to(tmp_path, FIXTURES / "edit" / "plain.yaml")
    before = snapshot(path)
    with pytest.raises(ManifestError, match=r"services\.mode: expected one of stable, canary") as info:
        set_mode(path, mode)
    assert info.value.exit_code == 2
    assert snapshot(path) == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("services: app\n", "services: expected a mapping of fields"),
        ("- services\n", "services: expected a mapping of fields"),
        ("nginx: {port: 8080}\n", "services: expected a mapping of fields"),
        ("services:\n  image: a:1\n", "services.mode: cannot locate the field to edit"),
        ("services:\n  mode: !!str stable\n", "services.mode: in-place edit would change other fields"),
        ("services:\n  mode: >-\n    stable\n", "services.mode: in-place edit would change other fields"),
        ("services:\n  mode: [stable]\n", "services.mode: cannot edit this value in place (line 2)"),
    ],
    ids=["services-scalar", "top-level-list", "no-services", "no-mode", "tagged", "folded", "list"],
)
def test_set_mode_on_an_odd_file_raises_and_never_corrupts(tmp_path: Path, text: str, message: str):
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as info:
        set_mode(path, "canary")
    assert str(info.value).startswith(f"{path}: {message}")
    assert path.read_text() == text
    assert os.listdir(tmp_path) == ["manifest.yaml"]


def test_set_mode_refuses_to_write_an_invalid_manifest(tmp_path: Path):
    path = tmp_path / "manifest.yaml"
    path.write_text("services:\n  mode: stable\n")  # editable, but nothing else is valid
    with pytest.raises(ManifestError) as info:
        set_mode(path, "canary")
    assert str(info.value).startswith(f"{path}: ") and "services.image: required field is missing" in str(info.value)
    assert path.read_text() == "services:\n  mode: stable\n"


def test_set_mode_keeps_permission_bits(tmp_path: Path):
    path = copy_to(tmp_path, FIXTURES / "edit" / "plain.yaml")
    path.chmod(0o640)
    set_mode(path, "canary")
    assert path.stat().st_mode & 0o777 == 0o640


def test_replace_scalar_leaves_same_named_keys_elsewhere_alone():
    text = "opa:\n  mode: stable\nservices:\n  mode: stable  # here\n"
    assert replace_scalar(text, ("services", "mode"), "canary") == "opa:\n  mode: stable\nservices:\n  mode: canary  # here\n"


def test_scalar_pattern_stops_at_flow_indicators():
    assert manifest_file._SCALAR.match("stable, version: 1}").group(0) == "stable"
    assert manifest_file._SCALAR.match("stable}").group(0) == "stable"
    assert manifest_file._SCALAR.match("'it''s'  # c").group(0) == "'it''s'"
    assert manifest_file._SCALAR.match('"a\\"b" # c').group(0) == '"a\\"b"'
