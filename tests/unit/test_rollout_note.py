"""What `inv rollout` says when Ctrl-C stops it: where the traffic is and how to finish."""
from __future__ import annotations

from types import SimpleNamespace

from swiftlib.errors import ConfigError
from swiftlib.lifecycle.rollout import interrupted_note


def target(state=None, error=None):
    def read_state():
        if error:
            raise error
        return state or {}
    return SimpleNamespace(name="web1", read_state=read_state)


def test_the_note_names_the_host_the_share_and_both_ways_out():
    note = interrupted_note(target({"weight": 25}))
    assert note == ("interrupted: on web1 the canary keeps 25% of the traffic beside stable; "
                    "finish with `inv rollback` or `inv promote --mode stable`")


def test_stopped_before_the_first_step_the_note_says_stable_serves_all_and_only_rollback_finishes():
    """Found by the fault matrix (Ctrl-C right after rollout's manifest step): the note said 'the canary
    keeps 0% of the traffic beside stable' and advised `promote --mode stable` for a canary not started."""
    note = interrupted_note(target({"weight": 0, "mode": "stable"}))
    assert note == ("interrupted: on web1 before the canary took any traffic (stable serves all of it); "
                    "finish with `inv rollback`")


def test_an_unknown_or_unreadable_weight_still_gives_the_way_out():
    for t in (target({}), target({"weight": "x"}), target(error=ConfigError("state.json is a FIFO"))):
        note = interrupted_note(t)
        assert "the canary keeps its share of the traffic" in note and "inv rollback" in note


def test_the_check_mode_plan_names_the_image_the_steps_the_window_and_the_source():
    from pathlib import Path

    from swiftlib.lifecycle.rollout import plan
    from swiftlib.manifest.load import load_manifest

    manifest = load_manifest(Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "good" / "every_field.yaml")
    text = plan(SimpleNamespace(manifest=manifest))
    steps = ", ".join(f"{w}%" for w in manifest.canary.steps)
    assert f"({manifest.canary.image}, {manifest.canary.version}) at {steps}" in text
    assert f"one {manifest.canary_limits.evaluation_window_seconds:g} s window each" in text
    assert "(prometheus metrics)" in text and "roll back on a deny" in text


def test_stopped_in_the_final_promotion_the_note_says_what_is_there_not_the_steps_share(monkeypatch):
    """Past the gate the manifest already names the canary's version: 'the canary keeps its share'
    would be false, and a bare rollback used to keep the new version (the host's facts decide)."""
    from swiftlib.lifecycle import interrupted
    from swiftlib.lifecycle.interrupted import Facts

    marker = {"from_version": "1.0.0", "version": "2.0.0", "from_image": "a:1", "image": "a:2"}
    monkeypatch.setattr(interrupted, "gather",
                        lambda t: Facts({"canary": 100}, ("stable", "canary"), "stable", "2.0.0", marker))
    note = interrupted_note(target({"weight": 60, "promotion": marker}))
    assert "the canary keeps" not in note
    assert note.endswith("or `inv rollback` to go back to 1.0.0") and "traffic goes to canary 100%" in note
