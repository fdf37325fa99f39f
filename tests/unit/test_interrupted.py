"""lifecycle.interrupted: the note a Ctrl-C leaves, built from the facts on the host (pure part)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from swiftlib.errors import CommandFailed
from swiftlib.lifecycle import interrupted
from swiftlib.lifecycle.interrupted import Facts, describe_facts

CASES = [
    # a promotion cut short after the canary took all traffic and the manifest was updated: the host's
    # state remembers the old stable, so both ways converge and the note names both versions
    (Facts({"canary": 100}, ("stable", "canary"), "stable", "2.0.0", {"from_version": "1.0.0", "version": "2.0.0"}),
     "promote stable",
     "interrupted: on web1 traffic goes to canary 100%; running: stable, canary; the manifest says stable 2.0.0; "
     "the canary gate allowed promoting 2.0.0: run `inv promote --mode stable` again to finish (it does not ask "
     "the gate again), or `inv rollback` to go back to 1.0.0"),
    # the same in rollout's final promotion (its own note would say the canary keeps a step's share)
    (Facts({"stable": 100}, ("stable", "canary"), "stable", "2.0.0", {"from_version": "1.0.0", "version": "2.0.0"}),
     "rollout",
     "interrupted: on web1 traffic goes to stable 100%; running: stable, canary; the manifest says stable 2.0.0; "
     "the canary gate allowed promoting 2.0.0: run `inv promote --mode stable` again to finish (it does not ask "
     "the gate again), or `inv rollback` to go back to 1.0.0"),
    # the same, cut short before the manifest was edited: either way is open
    (Facts({"canary": 100}, ("stable", "canary"), "canary", "1.0.0"), "promote stable",
     "interrupted: on web1 traffic goes to canary 100%; running: stable, canary; the manifest says canary 1.0.0; "
     "run `inv promote --mode stable` again to finish (it asks the canary gate again), or `inv rollback`"),
    # a blue/green deploy cut short while the next version serves
    (Facts({"next": 100}, ("stable", "next"), "stable", "5.0.0"), "deploy",
     "interrupted: on web1 traffic goes to next 100%; running: stable, next; the manifest says stable 5.0.0; "
     "run `inv deploy` again to finish"),
    # a canary started but not yet given traffic
    (Facts({"stable": 100}, ("stable", "canary"), "canary", "1.0.0"), "promote canary",
     "interrupted: on web1 traffic goes to stable 100%; running: stable, canary; the manifest says canary 1.0.0; "
     "run `inv promote --mode canary` again to finish, or `inv rollback`"),
    # pressed between writing the new split and reloading nginx: the file says it, nginx may not serve it yet
    (Facts({"stable": 100}, ("stable", "canary"), "stable", "1.0.0", None, False), "rollback",
     "interrupted: on web1 traffic goes to stable 100% (written; nginx may still serve the split before it: the "
     "next run applies it); running: stable, canary; the manifest says stable 1.0.0; run `inv rollback` again to "
     "finish"),
    # a first deploy stopped before anything ran
    (Facts({}, (), "stable", "1.0.0"), "rollback",
     "interrupted: on web1 traffic goes to nowhere yet (no traffic split written); running: no app track; "
     "the manifest says stable 1.0.0; run `inv rollback` again to finish"),
]


@pytest.mark.parametrize("facts, command, expected", CASES)
def test_the_note_says_what_is_there_and_what_finishes_it(facts, command, expected):
    assert describe_facts("web1", facts, command) == expected


def test_a_note_is_given_even_when_the_host_cannot_be_asked(monkeypatch):
    def unreachable(target):
        raise CommandFailed("docker ps", 1, "Cannot connect to the Docker daemon", host="web1")

    monkeypatch.setattr(interrupted, "gather", unreachable)
    said = interrupted.note(SimpleNamespace(name="web1"), "deploy")
    assert said.startswith("interrupted: on web1 the state could not be read (")
    assert said.endswith("run `inv deploy` again to finish")
