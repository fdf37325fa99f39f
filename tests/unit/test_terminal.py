"""Values from a manifest are shown on the terminal, never obeyed (swiftlib.terminal)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from swiftlib.terminal import printable
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw, shown", [
    ("evil\x1b[31mRED", "evil\\x1b[31mRED"),        # colour / cursor sequences
    ("t\x1b]0;title\x07", "t\\x1b]0;title\\x07"),    # window title, bell
    ("a\rb\x00c\x7fd", "a\\x0db\\x00c\\x7fd"),        # carriage return overwrites a line
    ("csi\x9b2J", "csi\\x9b2J"),                      # the one-byte C1 CSI
    ("abc\u202edcba", "abc\\u202edcba"),              # bidi override reorders what is read
])
def test_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_ordinary_text_is_unchanged() -> None:
    text = "TASK [deploy] ****\n\tok: [web-1] => naïve 日本 ✓ 100%"
    assert printable(text) == text


def test_a_manifest_value_with_escapes_is_printed_escaped(tmp_path: Path) -> None:
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    manifest["opa"]["engine"] = "embedded"
    manifest["nginx"]["contact"] = "ops\x1b]0;pwned\x07\x1b[2J@example.com"
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    result = run_cli(path, "validate")
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "\x1b" not in output and "\x07" not in output
    assert "nginx.contact" in output and "ops\\x1b]0;pwned\\x07\\x1b[2J@example.com" in output
