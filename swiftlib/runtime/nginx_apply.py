"""What a runtime's `nginx_apply` answers: `nginx -t`, then a graceful reload, then the first look at the
workers from before it (the lifecycle's `nginx_include` waits out the rest and decides what a refusal means).

The compose runtime does it in one exec (`commands.nginx_apply`), which prints each stage it reaches;
`parse` reads that (pure). A runtime whose nginx runs on several nodes composes its own steps (`in_steps`).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NginxApplied:
    tested: int  # `nginx -t`'s exit status: 0 when it accepted the config (and nginx was then reloaded)
    said: str  # what it said
    old: frozenset[str] = frozenset()  # the workers from before the reload
    left: frozenset[str] = frozenset()  # of those, the ones still running after the first look


@dataclass(frozen=True)
class ScriptOutput:
    stages: tuple[str, ...]  # `tested`, `reloaded`: the stages the script got past
    old: frozenset[str]
    left: frozenset[str]


def parse(stdout: str) -> ScriptOutput:
    """The `old:`/`tested`/`reloaded`/`left:` lines of the one-exec script (other lines are ignored)."""
    stages, old, left = [], frozenset(), frozenset()
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("old:"):
            old = frozenset(pid for pid in line[4:].split() if pid.isdigit())
        elif line.startswith("left:"):
            left = frozenset(pid for pid in line[5:].split() if pid.isdigit())
        elif line in ("tested", "reloaded"):
            stages.append(line)
    return ScriptOutput(tuple(stages), old, left & old)


def in_steps(runtime: Any, drain_wait: float | None) -> NginxApplied:
    """The same answer from a runtime's own `nginx_test`, `nginx_reload` and worker looks (a reload failure
    raises from `nginx_reload`)."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # the workers to wait for are listed while nginx -t runs
        listing = pool.submit(runtime.nginx_workers) if drain_wait is not None else None
        tested, said = runtime.nginx_test()
        old = frozenset(listing.result()) if listing is not None else frozenset()
    if tested != 0:
        return NginxApplied(tested, said, old)
    runtime.nginx_reload()
    left = frozenset(runtime.nginx_workers_left(set(old), wait=drain_wait)) if old else frozenset()
    return NginxApplied(0, said, old, left)
