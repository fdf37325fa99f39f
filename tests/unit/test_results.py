"""swiftlib.results: Ansible-shaped output, the recap and the run's exit code.

tests/fixtures/results/ansible_reference.txt is real `ansible-playbook` output (playbook
and inventory beside it); the Reporter fed the same results must print the same TASK
headers, result lines and PLAY RECAP. run.txt / run.json are goldens for a richer run
(``REGENERATE_GOLDENS=1`` rewrites them; review the diff).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swiftlib.errors import (CommandFailed, HealthCheckFailed, HostUnreachable, ManifestError, PolicyDenied,
                             PolicyEngineError, PreflightFailed)
from swiftlib.results import Recap, Reporter, StepResult, failed, format_result, task_header

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
REGENERATE = os.environ.get("REGENERATE_GOLDENS") == "1"


def reporter() -> tuple[Reporter, list[str]]:
    lines: list[str] = []
    return Reporter(lines.append), lines


def test_same_results_print_what_ansible_prints():
    rep, lines = reporter()
    long = "zz-a-very-long-hostname-indeed.example.com"
    for result in [
        StepResult("render", long, "ok"), StepResult("render", "localhost", "changed"), StepResult("render", "b-host", "ok"),
        StepResult("skip some", "localhost", "skipped"), StepResult("skip some", long, "skipped"),
        StepResult("skip some", "b-host", "changed"),
        StepResult("fail one", "localhost", "skipped"), StepResult("fail one", long, "skipped"),
        StepResult("fail one", "b-host", "failed", "non-zero return code", exit_code=1),
    ]:
        rep.record(result)
    assert rep.finish() == 1
    shown = ("TASK [", "ok:", "changed:", "skipping:", "PLAY RECAP", "b-host ", "localhost ", "zz-")
    theirs = (FIXTURES / "ansible_reference.txt").read_text().splitlines()
    theirs = theirs[theirs.index("TASK [render] " + "*" * 66):]
    assert [line for line in lines if line.startswith(shown)] == [line for line in theirs if line.startswith(shown)]
    for i, line in enumerate(lines):  # a blank line before every banner, as Ansible prints
        if line.startswith(("TASK [", "PLAY RECAP")):
            assert lines[i - 1] == ""
    fatal = [line for line in lines if line.startswith("fatal:")]
    assert fatal == ['fatal: [b-host]: FAILED! => {"changed": false, "exit_code": 1, "msg": "non-zero return code"}']
    assert next(line for line in theirs if line.startswith("fatal:")).startswith("fatal: [b-host]: FAILED! => {")


@pytest.mark.parametrize("task", ["render", "x" * 70, "x" * 76, "x" * 100])
def test_task_header_is_80_wide_with_at_least_three_stars(task: str):
    header = task_header(task)
    assert header.startswith(f"TASK [{task}] ***")
    assert len(header) == max(80, len(f"TASK [{task}] ") + 3)


def golden_run() -> tuple[Reporter, list[str]]:
    rep, lines = reporter()
    rep.record(StepResult("render", "localhost", "changed", "docker-compose.yml, nginx.conf"),
               detail=["--- nginx.conf (current)", "+++ nginx.conf (rendered)"])
    rep.record(StepResult("render", "web-1", "ok"))
    rep.record(StepResult("validate", "localhost", "ok", "5 checks passed"), detail=["  ok  nginx -t"])
    rep.record(failed("validate", "web-1", PreflightFailed("port 8080 is in use by another process")))
    rep.note("skipping web-1 for the remaining steps")
    rep.record(StepResult("up", "localhost", "skipped", "check mode: no container started"))
    rep.record(failed("up", "db.example.com", HostUnreachable("ssh: connect timed out (10 s)"), attempt=1))
    rep.record(StepResult("health", "localhost", "ok", "/healthz 200 in 0.4 s", data={"status": 200}))
    return rep, lines


def test_reporter_output_and_json_match_goldens():
    rep, lines = golden_run()
    assert rep.finish() == 6
    text = "\n".join(lines) + "\n"
    data = rep.to_json() + "\n"
    if REGENERATE:
        (FIXTURES / "run.txt").write_text(text)
        (FIXTURES / "run.json").write_text(data)
    assert text == (FIXTURES / "run.txt").read_text()
    assert data == (FIXTURES / "run.json").read_text()


def test_to_json_shape():
    doc = json.loads(golden_run()[0].to_json())
    assert set(doc) == {"results", "recap", "exit_code"} and doc["exit_code"] == 6
    assert doc["results"][0] == {"task": "render", "host": "localhost", "status": "changed",
                                 "msg": "docker-compose.yml, nginx.conf"}
    assert doc["results"][3]["exit_code"] == 2 and doc["results"][5]["data"] == {"attempt": 1}
    assert doc["recap"]["localhost"] == {"ok": 3, "changed": 1, "failed": 0, "skipped": 1, "unreachable": 0}
    assert doc["recap"]["db.example.com"]["unreachable"] == 1


def test_quiet_reporter_emits_nothing_but_keeps_the_recap():
    lines: list[str] = []
    rep = Reporter(lines.append, quiet=True)
    rep.record(failed("up", "h", HealthCheckFailed("no /healthz")))
    rep.note("hidden")
    assert rep.finish() == 5 and lines == []


@pytest.mark.parametrize(
    "codes, expected",
    [
        ([], 0),
        ([0, 0], 0),
        ([1], 1),
        ([5, 1], 5),
        ([2, 5, 1], 2),
        ([3, 2, 5], 3),
        ([4, 3, 2], 4),
        ([6, 4, 3, 2, 5, 1], 6),
        ([1, 6], 6),
    ],
)
def test_recap_exit_code_precedence(codes: list[int], expected: int):
    recap = Recap()
    for i, code in enumerate(codes):
        recap.add(StepResult("t", f"host{i}", "failed" if code else "ok", exit_code=code))
    assert recap.exit_code() == expected


def test_recap_keeps_a_hosts_first_failure_code():
    recap = Recap()
    recap.add(StepResult("a", "h", "failed", exit_code=3))
    recap.add(StepResult("b", "h", "failed", exit_code=1))
    assert recap.exit_codes == {"h": 3} and recap.exit_code() == 3


@pytest.mark.parametrize(
    "error, status, code",
    [
        (ManifestError("nginx.port: expected an integer"), "failed", 2),
        (CommandFailed("docker compose up", 17, "boom"), "failed", 1),
        (PolicyDenied("disk below 10 GB"), "failed", 3),
        (PolicyEngineError("OPA timed out"), "failed", 4),
        (HealthCheckFailed("no /healthz"), "failed", 5),
        (HostUnreachable("refused"), "unreachable", 6),
    ],
)
def test_failed_maps_errors_to_status_and_exit_code(error, status: str, code: int):
    result = failed("task", "h", error)
    assert (result.status, result.exit_code, result.msg) == (status, code, error.message)


def test_unreachable_line_is_ansible_shaped_and_keeps_unicode():
    line = format_result(StepResult("up", "h", "unreachable", "hôte injoignable", exit_code=6))
    assert line == 'fatal: [h]: UNREACHABLE! => {"changed": false, "msg": "hôte injoignable", "unreachable": true}'


def test_held_hosts_print_as_blocks_in_completion_order():
    lines: list[str] = []
    reporter = Reporter(lines.append)
    reporter.hold("a")
    reporter.hold("b")
    reporter.record(StepResult("render", "a", "changed"))
    reporter.record(StepResult("render", "b", "ok"))
    reporter.record(StepResult("up", "b", "ok"))
    assert lines == []  # nothing yet: both hosts still running
    reporter.release("b")
    reporter.record(StepResult("up", "a", "changed"))
    reporter.release("a")
    shown = [line for line in lines if line and not line.startswith("TASK")]
    assert shown == ["ok: [b]", "ok: [b]", "changed: [a]", "changed: [a]"]
    assert reporter.recap.counts["a"]["changed"] == 2 and reporter.recap.counts["b"]["ok"] == 2


def test_a_failure_inside_a_step_is_recorded_under_that_steps_name():
    lines: list[str] = []
    reporter = Reporter(lines.append)
    with pytest.raises(HealthCheckFailed):
        with reporter.failing_as("traffic", "web1"):
            raise HealthCheckFailed("nginx stopped")
    assert [(r.task, r.host, r.status, r.exit_code) for r in reporter.results] == [("traffic", "web1", "failed", 5)]
    assert lines[1] == task_header("traffic")
    with pytest.raises(KeyError):  # a bug is not a step's failure: the run reports it with its traceback
        with reporter.failing_as("traffic", "web1"):
            raise KeyError("x")
    assert len(reporter.results) == 1
