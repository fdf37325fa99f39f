"""swiftlib.audit.log (hash-chained history) and swiftlib.audit.report (Markdown)."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import time
from pathlib import Path

import pytest

from swiftlib.audit.log import GENESIS_HASH, KEYS, AuditLog, EventType, VerifyResult, build_line
from swiftlib.audit.report import cell, render_report, summarize, violations
from swiftlib.errors import ConfigError

NOT_SEALED = ("not sealed on this machine (written elsewhere, or before sealing): the chain alone cannot show lines "
              "cut from the end")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
WORKERS, EVENTS_EACH = 8, 200


def _log_with(tmp_path, n: int) -> AuditLog:
    log = AuditLog(tmp_path / "history.jsonl")
    for i in range(n):
        log.append(EventType.STATUS_SCRAPE, {"i": i, "mode": "canary"}, host=f"h{i % 2}")
    return log


def _lines(log: AuditLog) -> list[bytes]:
    return Path(log.path).read_bytes().splitlines(keepends=True)


def _write(log: AuditLog, lines: list[bytes]) -> None:
    Path(log.path).write_bytes(b"".join(lines))


# --- appending -------------------------------------------------------------

def test_append_writes_compact_ordered_chained_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("SWIFTDEPLOY_ACTOR", "alice@laptop")
    log = AuditLog(tmp_path / "history.jsonl")
    first = log.append("deploy", {"changed": True, "note": "é"}, host="prod-1")
    second = log.append(EventType.MODE_CHANGE, {"from": "canary", "to": "stable"}, actor="bob")
    raw = _lines(log)
    assert len(raw) == 2 and all(line.endswith(b"\n") for line in raw)
    assert b": " not in raw[0] and b", " not in raw[0]  # compact separators
    assert tuple(json.loads(raw[0])) == KEYS
    assert first == json.loads(raw[0]) and second == json.loads(raw[1])
    assert TIMESTAMP.fullmatch(first["timestamp"])
    assert (first["event_type"], first["host"], first["actor"]) == ("deploy", "prod-1", "alice@laptop")
    assert (second["event_type"], second["host"], second["actor"]) == ("mode_change", "local", "bob")
    assert first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == hashlib.sha256(raw[0].rstrip(b"\n")).hexdigest()
    body = raw[1].rstrip(b"\n")[: -len(',"hash":"') - 64 - 2] + b"}"
    assert second["hash"] == hashlib.sha256(body).hexdigest()
    assert log.read() == [first, second]
    assert log.verify() == VerifyResult(True, 2, None, "", hashlib.sha256(raw[1].rstrip(b"\n")).hexdigest(),
                                        seal="sealed through line 2 on this machine")


def test_default_actor_is_user_at_host(tmp_path, monkeypatch):
    import getpass
    import socket

    monkeypatch.delenv("SWIFTDEPLOY_ACTOR", raising=False)
    event = AuditLog(tmp_path / "h.jsonl").append("up", {})
    assert event["actor"] == f"{getpass.getuser()}@{socket.gethostname()}"


@pytest.mark.parametrize("bad", ["", "Deploy", "pre-deploy", "deploy ", "déploy"])
def test_event_type_must_be_lowercase_words(tmp_path, bad):
    log = AuditLog(tmp_path / "h.jsonl")
    with pytest.raises(ValueError, match="event type"):
        log.append(bad, {})
    assert not Path(log.path).exists() or Path(log.path).read_bytes() == b""


def test_unknown_event_type_and_odd_data_are_recorded(tmp_path):
    log = AuditLog(tmp_path / "h.jsonl")
    event = log.append("custom_step", {"path": Path("/x/y"), "nested": {"a": [1, 2.5, None]}})
    assert event["data"] == {"path": "/x/y", "nested": {"a": [1, 2.5, None]}}
    assert log.verify().ok


def test_timestamps_never_go_backwards(tmp_path):
    log = _log_with(tmp_path, 30)
    stamps = [e["timestamp"] for e in log.read()]
    assert stamps == sorted(stamps)


# --- reading ---------------------------------------------------------------

def test_absent_history(tmp_path):
    log = AuditLog(tmp_path / "none.jsonl")
    assert log.read() == []
    assert log.verify() == VerifyResult(True, 0, None, "", GENESIS_HASH, seal=NOT_SEALED)


def test_read_names_file_and_line_of_malformed_json(tmp_path):
    log = _log_with(tmp_path, 3)
    lines = _lines(log)
    lines[1] = b'{"timestamp": oops\n'
    _write(log, lines)
    with pytest.raises(ConfigError) as err:
        log.read()
    assert f"{log.path}:2:" in str(err.value)
    assert err.value.exit_code == 2


def _crashed_history(tmp_path) -> tuple[AuditLog, int]:
    """A history whose last write was cut off by a crash: 4 good lines (one a violation), then half a line."""
    log = AuditLog(tmp_path / "history.jsonl")
    log.append("deploy", {"changed": True, "mode": "stable"}, host="web1")
    log.append("policy_violation", {"domain": "canary", "question": "promote?", "allow": False,
                                    "reasons": ["error rate 0.5 above 0.01"]}, host="web1")
    log.append("promote", {"from": "canary", "to": "stable", "result": "blocked"}, host="web1")
    log.append("health", {"healthy": True, "elapsed_s": 1.5}, host="web1")
    log.append("status_scrape", {"mode": "canary"}, host="web1")
    raw = Path(log.path).read_bytes()
    Path(log.path).write_bytes(raw[: raw.rindex(b"\n", 0, len(raw) - 1) + 40])  # keep 40 bytes of line 5
    return log, 5


def test_read_can_skip_a_truncated_last_line_and_returns_every_other_event(tmp_path):
    log, bad = _crashed_history(tmp_path)
    with pytest.raises(ConfigError, match=f"history.jsonl:{bad}: not valid JSON"):
        log.read()  # the strict default is unchanged
    events = log.read(skip_unreadable=True)
    assert [e["event_type"] for e in events] == ["deploy", "policy_violation", "promote", "health"]
    result = log.verify()
    assert (result.ok, result.lines, result.first_bad_line, result.unreadable_lines) == (False, 5, 5, (5,))


def test_read_skips_every_unreadable_line_and_verify_names_them_all(tmp_path):
    log = _log_with(tmp_path, 6)
    lines = _lines(log)
    lines[1] = b'{"timestamp": oops\n'
    lines[3] = b"[1, 2]\n"  # JSON, but not an object
    lines[4] = b"\xff\xfe\n"
    _write(log, lines)
    assert [e["data"]["i"] for e in log.read(skip_unreadable=True)] == [0, 2, 5]
    result = log.verify()
    assert (result.first_bad_line, result.unreadable_lines) == (2, (2, 4, 5))


def test_audit_report_of_a_crashed_history_shows_every_readable_event_and_names_the_bad_line(tmp_path):
    """What `inv audit` does: verify, read what can be read, render."""
    log, bad = _crashed_history(tmp_path)
    result = log.verify()
    events = log.read(skip_unreadable=True)
    report = render_report(events, verify=result, generated_at="now")
    assert "from 4 events." in report
    assert f"❌ verification FAILED at line {bad}: line {bad} is not valid JSON" in report
    assert (f"**Unreadable:** line {bad} of the history is not a JSON event (a write cut off by a crash "
            "leaves one at the end) and left out of this report.") in report
    timeline = report.split("## Timeline")[1].split("## Policy violations")[0]
    assert all(kind in timeline for kind in ("deploy", "policy_violation", "promote", "health"))
    violations_part = report.split("## Policy violations")[1]
    assert "error rate 0.5 above 0.01" in violations_part and "No policy violations" not in violations_part


def test_report_names_many_unreadable_lines_and_an_all_unreadable_history():
    many = VerifyResult(False, 30, 1, "line 1 is not valid JSON", unreadable_lines=tuple(range(1, 26)))
    report = render_report([], verify=many, generated_at="now")
    assert "**Unreadable:** lines 1, 2, 3," in report and "20 and 5 more of the history are not JSON events" in report
    assert "has 30 lines, but no events" in report
    only = render_report([], verify=VerifyResult(False, 1, 1, "x", unreadable_lines=(1,)), generated_at="now")
    assert "**Unreadable:** line 1 " in only
    assert "No events have been recorded" not in only and "but no events" not in only


def test_a_history_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    import os
    import signal

    fifo = tmp_path / "history.jsonl"
    os.mkfifo(fifo)

    def expired(signum, frame):  # noqa: ANN001 - signal handler shape
        raise TimeoutError("blocked on the FIFO")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    try:
        for call in (AuditLog(fifo).read, AuditLog(fifo).verify, lambda: AuditLog(fifo).append("up", {})):
            with pytest.raises(ConfigError, match=r"cannot use as the audit history \(is a FIFO \(named pipe\), "
                                                  r"not a regular file\)"):
                call()
        with pytest.raises(ConfigError, match="is a character device"):
            AuditLog("/dev/zero").read()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- verification ----------------------------------------------------------

def test_verify_detects_edited_line_and_names_it(tmp_path):
    log = _log_with(tmp_path, 6)
    lines = _lines(log)
    lines[3] = lines[3].replace(b'"mode":"canary"', b'"mode":"stable"')
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.lines, result.first_bad_line) == (False, 6, 4)
    assert "line 4 was altered" in result.problem


def test_verify_detects_edit_with_recomputed_own_hash(tmp_path):
    log = _log_with(tmp_path, 6)
    lines = _lines(log)
    record = json.loads(lines[2])
    record["data"]["mode"] = "stable"
    prev = lines[1].rstrip(b"\n")
    forged = build_line(record, prev)  # a consistent line 3 ...
    lines[2] = forged.encode() + b"\n"
    _write(log, lines)
    result = log.verify()  # ... still breaks line 4's link to it
    assert result.first_bad_line == 4
    assert "line 3 was rewritten" in result.problem


def test_verify_detects_removed_middle_line(tmp_path):
    log = _log_with(tmp_path, 6)
    lines = _lines(log)
    del lines[2]
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.lines, result.first_bad_line) == (False, 5, 3)
    assert "prev_hash mismatch" in result.problem and "removed" in result.problem


def test_verify_detects_removed_first_line(tmp_path):
    log = _log_with(tmp_path, 3)
    _write(log, _lines(log)[1:])
    result = log.verify()
    assert (result.ok, result.first_bad_line) == (False, 1)


def test_verify_detects_swapped_lines(tmp_path):
    log = _log_with(tmp_path, 6)
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    _write(log, lines)
    result = log.verify()
    assert (result.ok, result.first_bad_line) == (False, 4)
    assert "reordered" in result.problem


def test_verify_detects_truncated_last_line(tmp_path):
    log = _log_with(tmp_path, 4)
    raw = Path(log.path).read_bytes()
    Path(log.path).write_bytes(raw[:-30])
    result = log.verify()
    assert (result.ok, result.lines, result.first_bad_line) == (False, 4, 4)
    assert "not valid JSON" in result.problem


def test_verify_detects_missing_final_newline(tmp_path):
    log = _log_with(tmp_path, 2)
    Path(log.path).write_bytes(Path(log.path).read_bytes()[:-1])
    result = log.verify()
    assert (result.ok, result.first_bad_line) == (False, 2)
    assert "incomplete" in result.problem


def test_append_after_damage_keeps_damage_visible(tmp_path):
    log = _log_with(tmp_path, 3)
    Path(log.path).write_bytes(Path(log.path).read_bytes()[:-10])
    log.append("deploy", {"changed": False})
    lines = _lines(log)
    assert len(lines) == 4 and json.loads(lines[3])["event_type"] == "deploy"
    assert log.verify().first_bad_line == 3


def _worker(path: str, worker: int, count: int, barrier) -> None:
    log = AuditLog(path)
    barrier.wait(timeout=30)  # start together, so the appends really overlap
    for i in range(count):
        log.append("status_scrape", {"worker": worker, "i": i}, host=f"w{worker}")


def test_concurrent_appends_from_real_processes(tmp_path):
    path = str(tmp_path / "history.jsonl")
    ctx = multiprocessing.get_context("spawn")
    started = time.monotonic()
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=_worker, args=(path, w, EVENTS_EACH, barrier))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    raw = Path(path).read_bytes().split(b"\n")
    assert raw[-1] == b"" and len(raw) - 1 == WORKERS * EVENTS_EACH
    events = [json.loads(line) for line in raw[:-1]]
    assert sorted((e["data"]["worker"], e["data"]["i"]) for e in events) == [
        (w, i) for w in range(WORKERS) for i in range(EVENTS_EACH)]
    # each worker's own events stay in its order ...
    for w in range(WORKERS):
        assert [e["data"]["i"] for e in events if e["data"]["worker"] == w] == list(range(EVENTS_EACH))
    # ... and the writers really interleaved (otherwise this tested nothing concurrent)
    switches = sum(a["data"]["worker"] != b["data"]["worker"] for a, b in zip(events, events[1:]))
    assert switches > WORKERS * 10
    # the seal followed every append: it vouches for the last line, written by whichever process came last
    assert AuditLog(path).verify() == VerifyResult(
        True, WORKERS * EVENTS_EACH, None, "", hashlib.sha256(raw[-2]).hexdigest(),
        seal=f"sealed through line {WORKERS * EVENTS_EACH} on this machine")
    assert time.monotonic() - started < 30  # typically ~1-2 s


# --- report ----------------------------------------------------------------

def _fixture_events() -> list[dict]:
    return json.loads((FIXTURES / "events.json").read_text())


def test_report_matches_golden_file():
    report = render_report(_fixture_events(), verify=VerifyResult(True, 15, None, "", "ab" * 32),
                           generated_at="2025-03-01T12:00:00.000Z")
    assert report == (FIXTURES / "expected_report.md").read_text()


def test_report_tables_escape_pipes_and_newlines():
    report = render_report(_fixture_events(), verify=None, generated_at="t")
    violation_rows = report.split("## Policy violations")[1].strip().splitlines()[2:]
    assert len(violation_rows) == 2  # the denied check + its violation are listed once
    assert "p99 812ms \\| limit 500ms" in violation_rows[0]
    for row in violation_rows:  # every row still has exactly 5 cells
        assert len(re.split(r"(?<!\\)\|", row)) == 5 + 2
    assert "10.0 GB free some space" in violation_rows[1]  # newline folded into the cell
    assert "**Integrity:** not checked" in report


def test_cell_escaping():
    assert cell("a|b\nc\r\nd") == "a\\|b c d"
    assert cell("image <none>") == "image &lt;none>"
    assert cell(None) == ""


def test_report_of_empty_history_says_so():
    report = render_report([], verify=VerifyResult(True, 0, None, ""), generated_at="now")
    assert "No events have been recorded yet." in report
    assert "## Timeline" not in report
    unread = render_report([], verify=VerifyResult(False, 7, 3, "bad"), generated_at="now")
    assert "has 7 lines, but no events" in unread and "No events have been recorded" not in unread


def test_report_shows_failed_verification():
    bad = VerifyResult(False, 9, 4, "line 4 was altered: its content does not match its hash")
    report = render_report(_fixture_events()[:2], verify=bad, generated_at="now")
    assert "❌ verification FAILED at line 4: line 4 was altered" in report


@pytest.mark.parametrize("event_type, data, expected", [
    ("mode_change", {"from": "canary", "to": "stable"}, "canary → stable"),
    ("policy_check", {"domain": "canary", "allow": True, "reasons": []}, "canary: allow"),
    ("policy_check", {"domain": "infra", "allow": False, "reasons": ["a", "b"]}, "infra: deny (a; b)"),
    ("policy_what_if", {"domain": "canary", "allow": False, "reasons": ["error rate 2.00% exceeds 1.00%"],
                        "what_if": ["metrics.error_rate=0.02"]},
     "what-if canary: deny (error rate 2.00% exceeds 1.00%) with metrics.error_rate=0.02"),
    ("deploy", {"changed": True}, "changed"),
    ("deploy", {"changed": False, "error": "boom"}, "unchanged — boom"),
    ("health", {"healthy": False, "elapsed_s": 30}, "unhealthy — after 30.0s"),
    ("lock", {"action": "acquired"}, "acquired"),
    ("deploy", {"status": "ok", "mode": "canary", "version": "1.2"}, "ok — mode canary"),
    ("up", {"services": "all", "containers": ["app", "nginx"]}, "containers: app, nginx"),
    ("policy_engine_failure", {"domain": "canary", "reason": "timeout", "message": "no answer in 5s"},
     "canary: policy engine failed — timeout — no answer in 5s"),
    ("chaos", {"request": {"mode": "slow", "duration": 2}, "response": {"ok": True}},
     "request.mode=slow, request.duration=2, response.ok=True"),
    ("whatever", {"x": 1, "nested": {"y": 2, "deep": {"z": 3}}, "items": [1]}, "x=1, nested.y=2"),
    ("up", {"summary": "multi\nline   text"}, "multi line text"),
    ("status_scrape", {"blob": "z" * 300}, "blob=" + "z" * 114 + "…"),
])
def test_summaries(event_type, data, expected):
    assert summarize({"event_type": event_type, "data": data}) == expected


def test_denied_check_without_violation_is_listed():
    events = [
        {"event_type": "policy_check", "host": "a", "data": {"domain": "d", "question": "q", "allow": False}},
        {"event_type": "policy_violation", "host": "b", "data": {"domain": "d", "question": "q", "allow": False}},
    ]
    assert violations(events) == events  # different hosts: two separate denials


# --- the charts section (swiftlib.audit.charts builds it) ---------------------

def test_report_without_charts_is_unchanged_and_with_charts_gains_one_section():
    events = json.loads((FIXTURES / "events.json").read_text(encoding="utf-8"))
    plain = render_report(events, verify=None, generated_at="2025-03-01T11:00:00Z")
    assert render_report(events, verify=None, generated_at="2025-03-01T11:00:00Z", charts=None) == plain
    charted = render_report(events, verify=None, generated_at="2025-03-01T11:00:00Z", charts=[])
    assert "## Error rate and p99 latency" not in plain
    section = ("## Error rate and p99 latency\n\nNo error-rate or p99 samples have been recorded yet: "
               "`inv status` records one per frame while it runs, and each canary gate decision adds the "
               "windows it judged.\n\n")
    assert charted == plain.replace("## Timeline", section + "## Timeline")


def test_a_line_of_absurd_nesting_is_named_not_a_crash(tmp_path):
    """5,000 nested `[` made json raise RecursionError: `inv audit`, `--verify` and `opa-check --set` crashed."""
    log = AuditLog(tmp_path / "history.jsonl")
    log.append("deploy", {"version": "1.0.0"})
    with open(log.path, "a", encoding="utf-8") as fh:
        fh.write("[" * 5000 + "\n")
    log.append("health", {"status": "ok"})
    result = log.verify()
    assert not result.ok and result.first_bad_line == 2 and "line 2 is not valid JSON" in result.problem
    assert result.unreadable_lines == (2,)
    events = log.read(skip_unreadable=True)
    assert [e["event_type"] for e in events] == ["deploy", "health"]
    with pytest.raises(ConfigError, match=r"history\.jsonl:2: not valid JSON"):
        log.read()
    assert "line 2 of the history is not a JSON event" in render_report(events, verify=result, generated_at="now")


# --- the seal: what a chain alone cannot show -----------------------------------------------

def _sealed_history(tmp_path, n=4):
    log = AuditLog(tmp_path / "history.jsonl")
    for i in range(n):
        log.append("deploy", {"i": i})
    return log


def test_lines_cut_from_the_end_fail_verification(tmp_path):
    """A chain alone: the shorter history read "hash chain intact"."""
    log = _sealed_history(tmp_path)
    lines = Path(log.path).read_bytes().splitlines(keepends=True)
    Path(log.path).write_bytes(b"".join(lines[:2]))
    result = log.verify()
    assert not result.ok and result.first_bad_line == 3
    assert "the history was cut: it ends after line 2" in result.problem and "removed from the end" in result.problem


def test_a_rewritten_history_with_recomputed_hashes_fails_verification(tmp_path):
    """A chain alone: an edited event with every hash after it recomputed read "hash chain intact"."""
    log = _sealed_history(tmp_path)
    events = log.read()
    events[1]["data"] = {"i": 100}  # one event changed, the chain rebuilt around it
    prev, out = None, b""
    for event in events:
        line = build_line(event, prev).encode()
        out += line + b"\n"
        prev = line
    Path(log.path).write_bytes(out)
    result = log.verify()
    assert not result.ok and "was rewritten" in result.problem, result


def test_lines_appended_after_the_seal_elsewhere_are_fine_and_said(tmp_path, monkeypatch):
    """A history shared through git gets lines from other machines: the seal vouches for what was written here."""
    log = _sealed_history(tmp_path, 2)
    monkeypatch.setenv("SWIFTDEPLOY_STATE_DIR", str(tmp_path / "other-machine"))
    log.append("deploy", {"elsewhere": True})
    monkeypatch.setenv("SWIFTDEPLOY_STATE_DIR", str(tmp_path / "state-here"))
    assert log.verify().seal == NOT_SEALED  # this "machine" never sealed it
    monkeypatch.undo()
    result = log.verify()
    assert result.ok and result.seal == "sealed through line 2 on this machine; 1 lines appended since"


def test_the_seal_lives_outside_the_project_and_only_its_owner_reads_it(tmp_path, monkeypatch):
    from swiftlib.audit import seal as audit_seal

    monkeypatch.setenv("SWIFTDEPLOY_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "project").mkdir()
    log = _sealed_history(tmp_path / "project", 1)
    seal = audit_seal.seal_path(log.path)
    assert seal.is_file() and str(seal).startswith(str(tmp_path / "state"))
    assert oct(seal.stat().st_mode & 0o777) == "0o600"
