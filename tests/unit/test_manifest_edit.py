"""swiftlib.manifest.edit: promotion and rollback rewrite only the services scalars they change."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swiftlib.errors import ManifestError
from swiftlib.manifest.edit import set_services

MANIFEST = """\
# top comment
services:
  image: swiftdeploy-app:1.0.0   # the app
  port: 3000
  mode: canary
  version: 1.0.0
nginx: {image: "nginx:stable", port: 8080, contact: ops@example.com}
"""


def test_promotion_edits_mode_image_and_version_and_nothing_else(tmp_path: Path):
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST)
    changes = set_services(path, {"mode": "stable", "image": "swiftdeploy-app:2.0", "version": "2.0"})
    assert changes == {"mode": ("canary", "stable"), "image": ("swiftdeploy-app:1.0.0", "swiftdeploy-app:2.0"),
                       "version": ("1.0.0", "2.0")}
    text = path.read_text()
    assert "# top comment" in text and "# the app" in text
    assert yaml.safe_load(text)["services"]["version"] == "2.0"  # quoted: a plain 2.0 would be a number
    expected = (MANIFEST.replace("app:1.0.0 ", "app:2.0 ").replace("mode: canary", "mode: stable")
                .replace("version: 1.0.0", 'version: "2.0"'))
    assert text == expected


def test_nothing_to_change_leaves_the_file_alone(tmp_path: Path):
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST)
    before = path.stat().st_mtime_ns
    assert set_services(path, {"mode": "canary"}) == {}
    assert path.stat().st_mtime_ns == before


@pytest.mark.parametrize("values", [{"image": "Bad Image"}, {"mode": "prod\nx: 1"}, {"port": "1"}])
def test_a_bad_value_is_refused_and_the_file_keeps_its_bytes(tmp_path: Path, values):
    path = tmp_path / "manifest.yaml"
    path.write_text(MANIFEST)
    with pytest.raises(ManifestError):
        set_services(path, values)
    assert path.read_text() == MANIFEST
