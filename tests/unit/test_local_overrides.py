"""A local inventory host's `swiftdeploy_overrides` outlive a manifest edit (a promotion's)."""
from __future__ import annotations

import shutil
from pathlib import Path

from swiftlib.lifecycle import manifest_step
from swiftlib.lifecycle.context import Project
from swiftlib.lifecycle.fleet import FleetOptions, TargetSpec, open_target
from swiftlib.results import Reporter

REPO = Path(__file__).resolve().parents[2]


def test_a_local_hosts_overrides_survive_the_manifest_edit_of_a_promotion(tmp_path):
    shutil.copy(REPO / "manifest.yaml", tmp_path / "manifest.yaml")
    project = Project.load(tmp_path / "manifest.yaml")
    spec = TargetSpec("edge", None, {"nginx": {"port": 18123}})
    with open_target(project, spec, FleetOptions()) as target:
        assert target.name == "edge" and target.manifest.nginx.port == 18123
        manifest_step.use(project, target, {"mode": "canary"}, Reporter(lambda line: None))
        assert target.manifest.services.mode == "canary"  # the edit is seen ...
        assert target.manifest.nginx.port == 18123        # ... and the host's override is kept
