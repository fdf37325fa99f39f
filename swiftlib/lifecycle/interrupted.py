"""What a Ctrl-C left on a host, said from what is there rather than from what the command meant.

Every step of deploy, promote and rollback leaves a state that serves every request (traffic
moves only to a healthy track, a track is removed only after it is drained), so an interrupted
command leaves one of those states; this says which one, and which command finishes the job.
The facts are read after the interrupt: the split in the traffic file (and whether nginx was
reloaded with it: a press between the write and the reload leaves nginx on the split before), the app
tracks that run, and the manifest's mode and version (a promotion may already have written
them). `rollout` keeps its own note (`rollout.interrupted_note`): the canary keeps its step.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SwiftDeployError
from ..tracks import TRACKS, TRAFFIC_FILE, Split, describe, parse_split
from . import nginx_include, track_steps
from .context import Target

# What finishes each command, and the way back when there is one.
FINISH = {
    "deploy": "run `inv deploy` again to finish",
    "promote canary": "run `inv promote --mode canary` again to finish, or `inv rollback`",
    "promote stable": "run `inv promote --mode stable` again to finish (it asks the canary gate again), "
                      "or `inv rollback`",
    "rollback": "run `inv rollback` again to finish",
    "rollout": "finish with `inv rollback` or `inv promote --mode stable`",
}
PROMOTED_FINISH = ("the canary gate allowed promoting {version}: run `inv promote --mode stable` again to finish "
                   "(it does not ask the gate again), or `inv rollback` to go back to {from_version}")


@dataclass(frozen=True)
class Facts:
    split: Split                # the traffic file's split ({} when there is none)
    running: tuple[str, ...]    # app tracks whose container runs, in TRACKS order
    mode: str                   # the manifest's services.mode
    version: str                # the manifest's services.version
    promotion: dict | None = None  # a promotion past its gate, not finished: its from_version and version
    split_loaded: bool = True   # False: the file was written but nginx's reload with it is not recorded


def describe_facts(host: str, facts: Facts, command: str) -> str:
    """The note (pure): where traffic goes, what runs, what the manifest says, how to finish."""
    goes = describe(facts.split) or "nowhere yet (no traffic split written)"
    if facts.split and not facts.split_loaded:
        goes += " (written; nginx may still serve the split before it: the next run applies it)"
    runs = ", ".join(facts.running) or "no app track"
    finish = FINISH.get(command, f"run `inv {command}` again to finish")
    if facts.promotion and command in ("promote stable", "rollout"):
        # Past the gate: both ways are open and both converge (the host's state records what stable was).
        finish = PROMOTED_FINISH.format(version=facts.promotion.get("version"),
                                        from_version=facts.promotion.get("from_version"))
    return (f"interrupted: on {host} traffic goes to {goes}; running: {runs}; the manifest says "
            f"{facts.mode} {facts.version}; {finish}")


def gather(target: Target) -> Facts:
    """The facts on ``target`` now (effects: reads the traffic file and asks Docker)."""
    text = target.workspace.read(TRAFFIC_FILE)
    return Facts(parse_split(text), tuple(t for t in TRACKS if track_steps.is_running(target, t)),
                 target.manifest.services.mode, target.manifest.services.version,
                 target.unfinished_promotion(), text is None or nginx_include.serves(target, TRAFFIC_FILE, text))


def note(target: Target, command: str) -> str:
    """`describe_facts` for ``target``; a shorter note when the facts cannot be read (never raises)."""
    try:
        return describe_facts(target.name, gather(target), command)
    except (SwiftDeployError, OSError) as exc:
        return (f"interrupted: on {target.name} the state could not be read ({exc}); "
                f"{FINISH.get(command, f'run `inv {command}` again to finish')}")
