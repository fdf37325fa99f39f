"""swiftlib.tracks: the traffic split the manifest asks for, a rollout step's split, nginx's
split_clients lines, and the split read back from the traffic file (all pure)."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.manifest.load import load_manifest
from swiftlib.render import render_traffic
from swiftlib.tracks import (describe, parse_split, running_tracks, split_clients_lines, split_for,
                             with_weight)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(REPO / "manifest.yaml")


def canary_at(manifest, weight: int):
    from dataclasses import replace

    return replace(manifest.with_mode("canary"), canary=replace(manifest.canary, weight=weight))


def test_the_manifest_split_follows_the_mode_and_the_weight(manifest) -> None:
    assert split_for(manifest) == {"stable": 100}
    assert split_for(canary_at(manifest, 10)) == {"stable": 90, "canary": 10}
    assert split_for(canary_at(manifest, 100)) == {"canary": 100}


@pytest.mark.parametrize("weight, split", [(10, {"stable": 90, "canary": 10}), (100, {"canary": 100}),
                                           (150, {"canary": 100})])
def test_a_rollout_steps_split(weight: int, split: dict) -> None:
    assert with_weight(weight) == split


def test_running_tracks(manifest) -> None:
    assert [t.name for t in running_tracks(manifest)] == ["stable"]
    assert [t.name for t in running_tracks(canary_at(manifest, 10), bridge=True)] == ["stable", "canary", "next"]
    assert [t.service for t in running_tracks(manifest, bridge=True)] == ["app", "app-next"]


def test_split_clients_gives_the_last_track_the_rest() -> None:
    assert split_clients_lines({"stable": 100}) == [("*", "app")]
    assert split_clients_lines({"stable": 80, "canary": 15, "next": 5}) == [("80%", "app"), ("15%", "app-canary"),
                                                                            ("*", "app-next")]
    for bad in ({"stable": 90}, {"stable": 110, "canary": -10}):
        with pytest.raises(ValueError, match="must add up to 100%"):
            split_clients_lines(bad)


@pytest.mark.parametrize("split", [{"stable": 100}, {"stable": 90, "canary": 10}, {"canary": 100},
                                   {"stable": 50, "canary": 25, "next": 25}])
def test_the_split_is_read_back_from_the_traffic_file_it_was_written_to(manifest, split: dict) -> None:
    text = render_traffic(manifest, REPO / "templates", split)
    assert parse_split(text) == split
    assert describe(parse_split(text)) == describe(split)


def test_a_traffic_file_without_a_readable_split_line_is_unknown() -> None:
    assert parse_split(None) == {} and parse_split("split_clients ...\n") == {}
    assert parse_split("# split: stable=90, bogus=10, canary=x\n") == {"stable": 90}
