"""The fault-injection matrix: each lifecycle command, each kind of fault, at a step of the command.

On one real stack under steady load (25 requests/s on loopback), every run covers every command
(deploy, promote canary, promote stable, rollback, rollout, teardown) and every fault kind
(Ctrl-C, SIGKILL of the tool itself, the stable / canary / nginx container killed), two faults a
command, each at a step drawn from the steps that command prints. The draw is seeded and the seed
printed (``SWIFTDEPLOY_FAULT_SEED`` replays a run); over runs the whole product is covered. A case
a draw once failed on is kept in ``REGRESSIONS`` and runs every time.

After each fault the test does what a user would: after SIGKILL, release the stale lock (the
tool never breaks one silently); then run the command the tool advised (the Ctrl-C note, the
error, or `inv health`'s advice once a container died), and nothing else. Then manifest, state,
containers, traffic split, `health`, `status`, `audit --verify` and the lock must agree. A table of
(command, fault point, fault, recovered, requests failed) is printed at the end. No request may
fail under Ctrl-C or SIGKILL; a killed container fails the requests routed to it until the advised
command moves traffic, and those are counted, not forbidden.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from swiftlib.tracks import describe, parse_split
from tests.conftest import SWIFTDEPLOY, run_cli
from tests.integration.stack import Load, docker, leftovers, make_project, remove_stack

pytestmark = pytest.mark.docker

PREFIX = "sdmatrix"
PORT = 29080
IMAGE = "swiftdeploy-app:1.0.0"
FAULTS = ("SIGINT", "SIGKILL", "kill stable", "kill canary", "kill nginx")
CONTAINERS = {"kill stable": f"{PREFIX}-app", "kill canary": f"{PREFIX}-app-canary", "kill nginx": f"{PREFIX}-nginx"}

# What each command runs, and the points a fault can land on: a line it prints (the step before
# it is done), or seconds after it started (teardown prints its one step at the end).
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str | float, ...]]] = {
    "deploy": (("deploy",), ("TASK [validate]", "TASK [policy: pre_deploy]", "TASK [start next]",
                             "TASK [start stable]", "TASK [up]")),
    "promote canary": (("promote", "--mode", "canary"), ("TASK [manifest]", "TASK [render]", "TASK [start canary]")),
    "promote stable": (("promote", "--mode", "stable"), ("measuring the canary", "TASK [canary window]",
                                                         "TASK [manifest]", "TASK [start stable]",
                                                         "TASK [remove canary]")),
    "rollback": (("rollback",), ("TASK [traffic]", "TASK [remove canary]", "TASK [manifest]")),
    "rollout": (("rollout",), ("TASK [start canary]", "step 1/1 at", "TASK [canary window]",
                               "TASK [manifest]", "TASK [start stable]")),
    "teardown": (("teardown",), (0.2, 0.7)),  # it ends in about a second
}
ADVICE = re.compile(r"(?:run|finish with) `inv ([^`]+)`")


@dataclass
class Case:
    command: str
    fault: str
    point: str | float
    exit_code: int | None = None
    steps: list[str] = field(default_factory=list)  # what the test ran to recover, as a user would
    recovered: bool = False
    failed_requests: int = 0
    problem: str = ""


def draw_cases(seed: int) -> list[Case]:
    """Two faults a command; the five kinds rotate so each appears at least twice (pure)."""
    rng = random.Random(seed)
    kinds = list(FAULTS) * 3
    rng.shuffle(kinds)
    cases = []
    for i, command in enumerate(COMMANDS):
        pair = {kinds[(2 * i) % len(kinds)], kinds[(2 * i + 1) % len(kinds)]}
        while len(pair) < 2:
            pair.add(rng.choice(FAULTS))
        cases += [Case(command, fault, rng.choice(COMMANDS[command][1])) for fault in sorted(pair)]
    missing = set(FAULTS) - {c.fault for c in cases}
    for fault, case in zip(sorted(missing), cases):  # every kind each run, whatever the draw
        case.fault = fault
    return cases


# Cases an earlier draw failed on, replayed every run beside the draw (command, fault, point).
REGRESSIONS = (("promote stable", "kill canary", "measuring the canary"),  # advice only on a 502, not a timeout
               # the canary died after the manifest named its version, before stable was replaced:
               # rollback took the promotion for complete and waited for stable to run the new version
               ("promote stable", "kill canary", "TASK [manifest]"),
               # Ctrl-C before the canary's first step: the note said the canary "keeps 0%" and advised
               # promoting a canary that was never started
               ("rollout", "SIGINT", "TASK [manifest]"),
               )

SEED = int(os.environ.get("SWIFTDEPLOY_FAULT_SEED") or time.time())
CASES = draw_cases(SEED) + [Case(*known) for known in REGRESSIONS
                            if known not in {(c.command, c.fault, c.point) for c in draw_cases(SEED)}]


def test_every_command_and_every_fault_kind_is_drawn():
    for seed in range(50):
        cases = draw_cases(seed)
        assert {c.command for c in cases} == set(COMMANDS) and {c.fault for c in cases} == set(FAULTS)


# -- the stack -----------------------------------------------------------------------------------

def inv(manifest: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_cli(manifest, *args, timeout=timeout)


def services(manifest: Path) -> dict:
    return yaml.safe_load(manifest.read_text())["services"]


def must(result: subprocess.CompletedProcess, what: str) -> str:
    assert result.returncode == 0, f"{what}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def mode_is(manifest: Path, mode: str) -> None:
    """Bring the stack to ``mode`` the way a user would (it is deployed and healthy afterwards)."""
    if not leftovers(PREFIX):
        must(inv(manifest, "deploy"), "deploy")
    elif inv(manifest, "health", "--timeout", "10").returncode != 0:  # an earlier case failed half-way
        must(inv(manifest, "deploy"), "deploy after a failed case")
    if services(manifest)["mode"] != mode:
        must(inv(manifest, *(("promote", "--mode", "canary") if mode == "canary" else ("rollback",))), f"to {mode}")


def prepare(manifest: Path, command: str) -> None:
    if command == "deploy":  # a new stable version, so the deploy has a blue/green handover to interrupt
        mode_is(manifest, "stable")
        doc = yaml.safe_load(manifest.read_text())
        new = "3.0.0" if doc["services"]["version"] != "3.0.0" else "1.0.0"
        doc["services"].update(image=f"swiftdeploy-app:{new}", version=new)
        manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    elif command in ("promote stable", "rollback"):
        mode_is(manifest, "canary")
    else:
        mode_is(manifest, "stable")


def faulted(manifest: Path, tmp_path: Path, case: Case) -> tuple[int, str]:
    """Run the case's command and inject its fault at its point; the exit code and all it printed."""
    argv = [*SWIFTDEPLOY, *COMMANDS[case.command][0], "--manifest", str(manifest)]
    out_file = tmp_path / f"out-{case.command}-{case.fault}".replace(" ", "_")
    with out_file.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True, cwd=manifest.parent,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        started, hit = time.monotonic(), False
        while proc.poll() is None and time.monotonic() - started < 240:
            point = case.point
            hit = (time.monotonic() - started >= point) if isinstance(point, float) else point in out_file.read_text()
            if hit:
                break
            time.sleep(0.05)
        if hit and proc.poll() is None:
            if case.fault == "SIGINT":
                proc.send_signal(signal.SIGINT)
            elif case.fault == "SIGKILL":
                proc.kill()
            else:
                docker("kill", CONTAINERS[case.fault], check=False)
        elif not hit:
            case.problem = "the fault point never came (the command ended first)"
        code = proc.wait(timeout=300)
    return code, out_file.read_text()


NOTE = re.compile(r"interrupted: on local traffic goes to (.*?); running: (.*?); the manifest says (\S+) (\S+);")
KEEPS = re.compile(r"interrupted: on local the canary keeps (\d+)% of the traffic")


def note_matches_the_host(manifest: Path, said: str) -> None:
    """The Ctrl-C note says what is there: the split nginx serves, the tracks that run, the manifest."""
    split = parse_split((manifest.parent / "nginx.d" / "traffic.conf").read_text())
    if found := NOTE.search(said):
        goes, runs, mode, version = found.groups()
        assert goes.split(" (written; nginx may still serve")[0] == describe(split), (goes, split)
        tracks = [t for t, suffix in (("stable", ""), ("canary", "-canary"), ("next", "-next"))
                  if docker("ps", "-q", "--filter", f"name=^{PREFIX}-app{suffix}$")]
        assert runs == (", ".join(tracks) or "no app track"), (runs, tracks)
        assert (mode, version) == (services(manifest)["mode"], services(manifest)["version"])
    elif found := KEEPS.search(said):
        assert int(found.group(1)) == split.get("canary"), (found.group(0), split)
    else:
        assert "interrupted" in said, said


def follow_advice(manifest: Path, case: Case, said: str) -> subprocess.CompletedProcess | None:
    advised = ADVICE.findall(said)
    if not advised:
        return None
    case.steps.append(f"inv {advised[0]}")
    return inv(manifest, *advised[0].split())


def recover(manifest: Path, case: Case, code: int, said: str) -> None:
    if case.fault == "SIGKILL" and code != 0:
        case.steps.append("inv lock --release")
        must(inv(manifest, "lock", "--release"), "releasing the stale lock of a killed run")
    if code not in (0, -9):
        result = follow_advice(manifest, case, said)
        if result is None:  # no advice: the command itself, again
            case.steps.append(f"inv {' '.join(COMMANDS[case.command][0])}")
            result = inv(manifest, *COMMANDS[case.command][0])
        must(result, f"advised {case.steps[-1]}")
    elif code == -9:  # killed before it could say anything: the same command again
        case.steps.append(f"inv {' '.join(COMMANDS[case.command][0])}")
        must(inv(manifest, *COMMANDS[case.command][0]), "the killed command again")
    if case.command == "teardown":
        return
    health = inv(manifest, "health", "--timeout", "10")
    if health.returncode != 0:  # a container died after the command: what does health advise?
        result = follow_advice(manifest, case, health.stdout + health.stderr)
        assert result is not None, f"health failed without advice:\n{health.stdout}\n{health.stderr}"
        must(result, f"advised {case.steps[-1]}")


def agree(manifest: Path, case: Case) -> None:
    """Manifest, state, containers, traffic, health, status, audit and lock tell one story."""
    assert "free: no deploy lock held" in must(inv(manifest, "lock", "--status"), "lock status")
    must(inv(manifest, "audit", "--verify"), "audit --verify")
    running = set(leftovers(PREFIX).split())
    if case.command == "teardown":
        assert not running, running
        return
    svc = services(manifest)
    state = json.loads((manifest.parent / ".swiftdeploy" / "state.json").read_text())
    split = parse_split((manifest.parent / "nginx.d" / "traffic.conf").read_text())
    assert state.get("mode") == svc["mode"] and not state.get("promotion"), (state, svc)
    assert f"{PREFIX}-app-next" not in running
    if svc["mode"] == "stable":
        assert split == {"stable": 100}, split
        assert docker("ps", "-q", "--filter", f"name=^{PREFIX}-app-canary$") == ""
    else:
        assert split.get("canary", 0) > 0, split
    must(inv(manifest, "health"), "health")
    frame = json.loads(must(inv(manifest, "status", "--once", "--json"), "status"))
    assert frame["missing_tracks"] == {} and frame["version"] == svc["version"], frame


TABLE_HEADER = f"  {'command':15} {'fault point':28} {'fault':12} {'recovered':10} failed requests  recovery"
ROW_PROPERTY = "fault_matrix_row"  # each case's row rides on its test report (under xdist, to the controller)


def table_row(case: Case) -> str:
    return (f"  {case.command:15} {str(case.point):28} {case.fault:12} {'yes' if case.recovered else 'NO':10} "
            f"{case.failed_requests:<16} {' → '.join(case.steps) or '-'}"
            + (f"  ({case.problem})" if case.problem else ""))


def table_lines(rows: list[str]) -> list[str]:
    """The matrix as run, from its cases' rows (tests/integration/conftest.py prints it in pytest's summary)."""
    return [f"fault matrix (SWIFTDEPLOY_FAULT_SEED={SEED}):", TABLE_HEADER, *rows] if rows else []


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    for version in ("2.0.0", "3.0.0"):
        docker("tag", IMAGE, f"swiftdeploy-app:{version}")
    path = make_project(tmp_path_factory.mktemp("matrix"), prefix=PREFIX, base_port=PORT,
                        canary={"image": "swiftdeploy-app:2.0.0", "version": "2.0.0", "weight": 50, "steps": [50]})
    doc = yaml.safe_load(path.read_text())
    doc["deploy"]["health_timeout_seconds"] = 30  # a track that never comes up fails a case in 30 s, not 90
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    must(inv(path, "deploy"), "first deploy")
    yield path
    inv(path, "teardown", "--clean")
    remove_stack(PREFIX)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}-{c.fault}-at-{c.point}".replace(" ", "_") for c in CASES])
def test_a_fault_leaves_a_state_the_advised_command_puts_right(manifest, tmp_path, case, record_property):
    try:
        prepare(manifest, case.command)
        with Load(f"http://127.0.0.1:{PORT}/") as load:
            code, said = faulted(manifest, tmp_path, case)
            case.exit_code = code
            if case.fault == "SIGINT" and code == 130:
                note_matches_the_host(manifest, said)
            recover(manifest, case, code, said)
        case.failed_requests = len(load.dropped)
        agree(manifest, case)
        case.recovered = True
    finally:
        record_property(ROW_PROPERTY, table_row(case))
    if case.fault in ("SIGINT", "SIGKILL") and case.command != "teardown":  # teardown stops the service on purpose
        assert load.dropped == [], f"{len(load.dropped)} requests failed:\n{said}"
