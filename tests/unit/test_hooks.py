"""swiftlib.hooks: names, environment and output handling (pure), the hooks directory check,
and real hook executables run as subprocesses from temporary project directories."""
from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

import swiftlib.errors as errors
from swiftlib.errors import ConfigError, HookFailed, SwiftDeployError
from swiftlib.hooks import (COMMANDS, HOOK_NAMES, RESERVED_ENV, HookContext, Outcome, OutputTail, escape_controls,
                            hook_env, hook_name, new_context, run_hook, run_post_hook, run_pre_hook, validate_hooks)
from swiftlib.hooks import runner
from swiftlib.hooks.layout import misspelt_hook

CTX = HookContext("deploy", ("web1", "web2"), "1.4.0", "canary", "ops@box", "2026-01-02T03:04:05.678Z")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "manifest.yaml").write_text("services: {}\n")
    (tmp_path / "hooks").mkdir()
    return tmp_path


def _hook(root: Path, name: str, body: str, *, mode: int = 0o755, shell: str = "/bin/sh") -> Path:
    path = root / "hooks" / name
    path.write_text(f"#!{shell}\n{body}\n")
    os.chmod(path, mode)
    return path


# --- names, context and environment (pure) -------------------------------------------------

def test_hook_names_cover_every_command_before_and_after():
    commands = ("deploy", "promote", "rollout", "rollback")
    assert set(HOOK_NAMES) == {f"{p}-{c}" for p in ("pre", "post") for c in commands}
    assert COMMANDS == ("deploy", "promote", "rollout", "rollback")
    assert hook_name("post", "rollback") == "post-rollback"
    with pytest.raises(ValueError):
        hook_name("during", "deploy")
    with pytest.raises(ValueError):
        hook_name("pre", "teardown")


def test_pre_hook_env_holds_the_context_and_no_outcome():
    env = hook_env("pre-deploy", CTX, base={"PATH": "/usr/bin", "HOME": "/home/ops"})
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/ops",
        "SWIFTDEPLOY_COMMAND": "deploy",
        "SWIFTDEPLOY_HOOK": "pre-deploy",
        "SWIFTDEPLOY_HOSTS": "web1,web2",
        "SWIFTDEPLOY_VERSION": "1.4.0",
        "SWIFTDEPLOY_MODE": "canary",
        "SWIFTDEPLOY_PERFORMER": "ops@box",
        "SWIFTDEPLOY_RECORDED_AT": "2026-01-02T03:04:05.678Z",
    }


@pytest.mark.parametrize("exit_code, decision, status",
                         [(0, "allow", "ok"), (3, "deny", "failed"), (5, "none", "failed")])
def test_post_hook_env_adds_the_outcome(exit_code, decision, status):
    env = hook_env("post-deploy", CTX, Outcome(exit_code, decision), base={})
    assert env["SWIFTDEPLOY_HOOK"] == "post-deploy"
    assert env["SWIFTDEPLOY_STATUS"] == status
    assert env["SWIFTDEPLOY_DECISION"] == decision
    assert env["SWIFTDEPLOY_EXIT_CODE"] == str(exit_code)


def test_stale_swiftdeploy_values_in_the_callers_env_never_reach_a_hook():
    base = {"SWIFTDEPLOY_STATUS": "ok", "SWIFTDEPLOY_EXIT_CODE": "0", "SWIFTDEPLOY_HOOK": "x",
            "SWIFTDEPLOY_ACTOR": "ci-bot", "LANG": "C.UTF-8"}
    env = hook_env("pre-deploy", CTX, base=base)
    assert "SWIFTDEPLOY_STATUS" not in env and "SWIFTDEPLOY_EXIT_CODE" not in env
    assert env["SWIFTDEPLOY_HOOK"] == "pre-deploy"
    assert env["SWIFTDEPLOY_ACTOR"] == "ci-bot" and env["LANG"] == "C.UTF-8"
    assert set(RESERVED_ENV) >= {k for k in env if k.startswith("SWIFTDEPLOY_") and k != "SWIFTDEPLOY_ACTOR"}


def test_extra_values_are_uppercased_and_prefixed():
    ctx = HookContext("promote", ("h1",), "2.0", "stable", "me", "t",
                      {"message": "release 2.0", "from-mode": "canary", "SWIFTDEPLOY_TICKET": 42, "empty": None})
    env = hook_env("pre-promote", ctx, base={})
    assert env["SWIFTDEPLOY_MESSAGE"] == "release 2.0"
    assert env["SWIFTDEPLOY_FROM_MODE"] == "canary"
    assert env["SWIFTDEPLOY_TICKET"] == "42"
    assert env["SWIFTDEPLOY_EMPTY"] == ""


@pytest.mark.parametrize("key", ["status", "Exit-Code", "hook", "SWIFTDEPLOY_HOSTS"])
def test_extra_keys_cannot_replace_the_variables_swiftdeploy_sets(key):
    with pytest.raises(ValueError, match="sets itself"):
        HookContext("deploy", (), "", "", "me", "t", {key: "x"})


@pytest.mark.parametrize("key", ["", "9lives", "a b", "naïve", "x=y"])
def test_extra_keys_must_make_variable_names(key):
    with pytest.raises(ValueError, match="environment variable name"):
        HookContext("deploy", (), "", "", "me", "t", {key: "x"})


def test_extra_values_cannot_hold_nul():
    with pytest.raises(ValueError, match="NUL"):
        HookContext("deploy", (), "", "", "me", "t", {"message": "a\0b"})


def test_hook_env_refuses_arguments_that_do_not_fit():
    with pytest.raises(ValueError, match="not a hook of the deploy command"):
        hook_env("pre-promote", CTX, base={})
    with pytest.raises(ValueError, match="not a hook"):
        hook_env("deploy", CTX, base={})
    with pytest.raises(ValueError, match="needs the command's outcome"):
        hook_env("post-deploy", CTX, base={})
    with pytest.raises(ValueError, match="cannot have an outcome"):
        hook_env("pre-deploy", CTX, Outcome(0), base={})
    with pytest.raises(ValueError):
        HookContext("teardown", (), "", "", "me", "t")


@pytest.mark.parametrize("exit_code, decision",
                         [(-1, "none"), (256, "none"), (True, "none"), (0, "maybe"), (0, "ALLOW")])
def test_outcome_is_validated(exit_code, decision):
    with pytest.raises(ValueError):
        Outcome(exit_code, decision)


def test_new_context_stamps_time_and_the_audit_actor(monkeypatch):
    monkeypatch.setenv("SWIFTDEPLOY_ACTOR", "alice@laptop")
    ctx = new_context("rollback", ["a", "b"], version=None, mode="stable", extra={"reason": "5xx"})
    assert ctx.performer == "alice@laptop"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ctx.recorded_at)
    assert (ctx.hosts, ctx.version, ctx.mode) == (("a", "b"), "", "stable")
    assert ctx.extra == {"SWIFTDEPLOY_REASON": "5xx"}
    assert new_context("deploy", [], performer="bob", recorded_at="T").performer == "bob"


# --- output tail (pure) --------------------------------------------------------------------

def test_escape_controls_neutralises_terminal_sequences_and_keeps_text():
    assert escape_controls("\x1b[2J\x07bell\r\x7f\x9b") == "\\x1b[2J\\x07bell\\x0d\\x7f\\x9b"
    assert escape_controls("evil\u202eexe.txt") == "evil\\u202eexe.txt"
    assert escape_controls("tab\tkept, é 漢字 ✓") == "tab\tkept, é 漢字 ✓"
    assert escape_controls("a\nb") == "a\\x0ab"


def test_tail_keeps_the_last_lines_and_says_how_many_were_left_out():
    tail = OutputTail()
    tail.feed("".join(f"line {i}\n" for i in range(1, 101)).encode())
    lines = tail.text().split("\n")
    assert lines[0] == "[... 80 earlier lines not shown]"
    assert lines[1:] == [f"line {i}" for i in range(81, 101)]


def test_tail_of_short_output_is_all_of_it():
    tail = OutputTail()
    for chunk in (b"one\r\ntw", b"o\nthree"):  # chunks split lines anywhere
        tail.feed(chunk)
    assert tail.text() == "one\ntwo\nthree"
    assert tail.total_lines == 3
    assert OutputTail().text() == ""


def test_tail_cuts_long_lines_and_replaces_bad_utf8():
    tail = OutputTail(max_line_chars=10)
    tail.feed(b"x" * 50 + b"\n\xff\xfeok\n")
    assert tail.text() == "xxxxxxxxxx…\n\ufffd\ufffdok"


def test_tail_memory_stays_bounded_on_a_flood():
    tail = OutputTail(keep_bytes=1000)
    for i in range(20000):
        tail.feed(f"row {i:06d} {'z' * 40}\n".encode())
    assert len(tail._buf) <= 2000
    lines = tail.text().split("\n")
    assert lines[0] == "[... 19980 earlier lines not shown]"
    assert lines[-1].startswith("row 019999")
    assert len(lines) == 21


# --- the hooks directory ------------------------------------------------------------------

def test_missing_or_empty_hooks_dir_has_no_hooks(tmp_path):
    assert validate_hooks("hooks", root=tmp_path) == ()
    (tmp_path / "hooks").mkdir()
    assert validate_hooks("hooks", root=tmp_path) == ()


def test_present_hooks_in_canonical_order_and_other_files_ignored(tmp_path):
    root = _project(tmp_path)
    for name in ("post-deploy", "pre-rollback", "pre-deploy"):
        _hook(root, name, "exit 0")
    for name in ("README.md", "lib.sh", "notify", "pre-deploy.sample", ".pre-deploy", "pre-deploy~",
                 "pre-deploy-helper", "post-deploy.disabled", "pre-connect"):
        (root / "hooks" / name).write_text("not a hook\n")
    (root / "hooks" / "shared").mkdir()
    assert validate_hooks("hooks", root=root) == ("pre-deploy", "post-deploy", "pre-rollback")


def test_hook_that_is_not_executable_names_the_fix(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "exit 0", mode=0o644)
    with pytest.raises(ConfigError) as info:
        validate_hooks("hooks", root=root)
    assert info.value.exit_code == 2
    assert "hooks/pre-deploy" in str(info.value)
    assert "chmod +x hooks/pre-deploy" in str(info.value)


def test_hooks_dir_is_named_as_the_manifest_names_it(tmp_path):
    (tmp_path / "ops" / "hooks").mkdir(parents=True)
    (tmp_path / "ops" / "hooks" / "post-promote").write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match=re.escape("chmod +x ops/hooks/post-promote")):
        validate_hooks("ops/hooks", root=tmp_path)


def test_hook_that_is_a_directory_is_refused(tmp_path):
    root = _project(tmp_path)
    (root / "hooks" / "pre-promote").mkdir()
    with pytest.raises(ConfigError, match=r"hooks/pre-promote: is a directory"):
        validate_hooks("hooks", root=root)


def test_hook_that_is_a_fifo_is_refused(tmp_path):
    root = _project(tmp_path)
    os.mkfifo(root / "hooks" / "pre-rollout")
    with pytest.raises(ConfigError, match=r"hooks/pre-rollout: is not a regular file"):
        validate_hooks("hooks", root=root)


def test_symlink_leading_outside_the_hooks_dir_is_refused(tmp_path):
    root = _project(tmp_path)
    outside = tmp_path / "elsewhere.sh"
    outside.write_text("#!/bin/sh\n")
    os.chmod(outside, 0o755)
    (root / "hooks" / "pre-deploy").symlink_to(outside)
    with pytest.raises(ConfigError, match=r"hooks/pre-deploy: is a symbolic link to .*outside the hooks directory"):
        validate_hooks("hooks", root=root)
    (root / "hooks" / "pre-deploy").unlink()
    (root / "hooks" / "pre-deploy").symlink_to("../elsewhere.sh")  # relative, through ..
    with pytest.raises(ConfigError, match="outside the hooks directory"):
        validate_hooks("hooks", root=root)


def test_symlink_inside_the_hooks_dir_is_fine_and_dangling_one_is_not(tmp_path):
    root = _project(tmp_path)
    (root / "hooks" / "lib").mkdir()
    target = root / "hooks" / "lib" / "notify.sh"
    target.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(target, 0o755)
    (root / "hooks" / "post-deploy").symlink_to("lib/notify.sh")
    assert validate_hooks("hooks", root=root) == ("post-deploy",)
    (root / "hooks" / "pre-deploy").symlink_to("lib/missing.sh")
    with pytest.raises(ConfigError, match=r"hooks/pre-deploy: is a symbolic link to a file that does not exist"):
        validate_hooks("hooks", root=root)


@pytest.mark.parametrize("name, expected", [
    ("pre_deploy", "pre-deploy"),
    ("predeploy", "pre-deploy"),
    ("pre-deploy.sh", "pre-deploy"),
    ("Pre-Deploy", "pre-deploy"),
    ("POST_ROLLBACK.py", "post-rollback"),
    ("post.promote", "post-promote"),
    ("pre-rollout.bash", "pre-rollout"),
])
def test_misspelt_hook_names_the_expected_name(tmp_path, name, expected):
    assert misspelt_hook(name) == expected
    root = _project(tmp_path)
    _hook(root, name, "exit 0")
    with pytest.raises(ConfigError) as info:
        validate_hooks("hooks", root=root)
    message = str(info.value)
    assert f"hooks/{name}: looks like the {expected} hook" in message
    assert f"rename it to hooks/{expected}" in message


@pytest.mark.parametrize("name", ["pre-deploy", "pre-deploy.sample", "pre-deploy.bak", "pre-deploy~", ".predeploy",
                                  "deploy", "pre-deploy-check", "predeployment", "README.md", "pre-connect"])
def test_names_that_are_not_misspelt_hooks(name):
    assert misspelt_hook(name) is None


def test_every_problem_is_reported_at_once(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "exit 0", mode=0o600)
    _hook(root, "post_deploy", "exit 0")
    (root / "hooks" / "pre-rollback").mkdir()
    with pytest.raises(ConfigError) as info:
        validate_hooks("hooks", root=root)
    message = str(info.value)
    assert message.startswith("3 problems in the hooks directory hooks")
    assert "chmod +x hooks/pre-deploy" in message
    assert "rename it to hooks/post-deploy" in message
    assert "hooks/pre-rollback: is a directory" in message


def test_hooks_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "hooks").write_text("oops\n")
    with pytest.raises(ConfigError, match="the hooks directory is not a directory"):
        validate_hooks("hooks", root=tmp_path)


# --- running hooks (real subprocesses) -----------------------------------------------------

def test_missing_hook_is_skipped(tmp_path):
    result = run_hook("pre-deploy", CTX, hooks_dir="hooks", root=tmp_path)  # no hooks directory at all
    assert (result.status, result.exit_code, result.path, result.detail) == ("skipped", None, "hooks/pre-deploy",
                                                                            "not present")
    root = _project(tmp_path)
    _hook(root, "post-deploy", "exit 1")
    assert run_pre_hook(CTX, hooks_dir="hooks", root=root).status == "skipped"


def test_hook_runs_in_the_project_dir_with_the_context(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", 'env > seen.env; pwd > seen.cwd; echo "checked $SWIFTDEPLOY_HOSTS"')
    ctx = HookContext("deploy", ("web1", "web2"), "1.4.0", "canary", "ops@box", "2026-01-02T03:04:05.678Z",
                      {"message": "hello world"})
    result = run_pre_hook(ctx, hooks_dir="hooks", root=root, base_env={"PATH": os.environ["PATH"],
                                                                       "SWIFTDEPLOY_STATUS": "stale"})
    assert (result.status, result.exit_code, result.detail) == ("ok", 0, "exited 0")
    assert result.output_tail == "checked web1,web2"
    assert Path((root / "seen.cwd").read_text().strip()).resolve() == root.resolve()
    seen = dict(line.split("=", 1) for line in (root / "seen.env").read_text().splitlines() if "=" in line)
    assert seen["SWIFTDEPLOY_COMMAND"] == "deploy"
    assert seen["SWIFTDEPLOY_HOOK"] == "pre-deploy"
    assert seen["SWIFTDEPLOY_HOSTS"] == "web1,web2"
    assert seen["SWIFTDEPLOY_VERSION"] == "1.4.0"
    assert seen["SWIFTDEPLOY_MODE"] == "canary"
    assert seen["SWIFTDEPLOY_PERFORMER"] == "ops@box"
    assert seen["SWIFTDEPLOY_RECORDED_AT"] == "2026-01-02T03:04:05.678Z"
    assert seen["SWIFTDEPLOY_MESSAGE"] == "hello world"
    assert "SWIFTDEPLOY_STATUS" not in seen and "SWIFTDEPLOY_EXIT_CODE" not in seen


def test_hook_inherits_the_process_environment_by_default(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.setenv("DEPLOY_TOKEN_FOR_TEST", "abc")
    _hook(root, "pre-promote", 'echo "$DEPLOY_TOKEN_FOR_TEST $SWIFTDEPLOY_COMMAND"')
    ctx = HookContext("promote", ("h",), "1", "stable", "me", "t")
    assert run_pre_hook(ctx, hooks_dir="hooks", root=root).output_tail == "abc promote"


def test_failing_pre_hook_raises_hook_failed_with_code_and_last_output(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", 'i=1; while [ $i -le 30 ]; do echo "out $i"; i=$((i+1)); done\n'
                              'echo "error: tests are red" >&2\nexit 3')
    with pytest.raises(HookFailed) as info:
        run_pre_hook(CTX, hooks_dir="hooks", root=root)
    err = info.value
    assert err.exit_code == 7 and isinstance(err, SwiftDeployError)
    assert err.hook == "pre-deploy" and err.exited == 3
    message = str(err)
    assert message.startswith("hook pre-deploy (hooks/pre-deploy) exited 3; the command stopped before changing")
    assert "error: tests are red" in message and "out 30" in message
    assert "out 10\n" not in message  # only the last lines
    assert "[... 11 earlier lines not shown]" in message
    assert err.result.status == "failed" and err.result.exit_code == 3


def test_stderr_and_stdout_are_kept_in_the_order_written(tmp_path):
    root = _project(tmp_path)
    _hook(root, "post-rollout", "echo one; echo two >&2; echo three; exit 0")
    ctx = HookContext("rollout", ("h",), "2", "canary", "me", "t")
    result = run_post_hook(ctx, Outcome(0, "allow"), hooks_dir="hooks", root=root)
    assert result.output_tail == "one\ntwo\nthree"


def test_failing_post_hook_is_reported_not_raised(tmp_path):
    root = _project(tmp_path)
    _hook(root, "post-deploy", 'echo "$SWIFTDEPLOY_STATUS $SWIFTDEPLOY_DECISION $SWIFTDEPLOY_EXIT_CODE"; exit 9')
    result = run_post_hook(CTX, Outcome(3, "deny"), hooks_dir="hooks", root=root)
    assert (result.status, result.exit_code, result.output_tail) == ("failed", 9, "failed deny 3")
    assert result.failed and result.command == "deploy"


def test_pre_hook_timeout_stops_it_and_its_children(tmp_path):
    # The hook must start, write child.pid and print before the timeout: 2 s leaves a loaded
    # machine ample time to start a shell (0.5 s did not always).
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "sleep 60 &\necho $! > child.pid\necho waiting\nwait")
    start = time.monotonic()
    with pytest.raises(HookFailed) as info:
        run_pre_hook(CTX, hooks_dir="hooks", root=root, timeout=2)
    assert time.monotonic() - start < 12
    result = info.value.result
    assert result.timed_out and result.exit_code is None and result.status == "failed"
    assert "timed out after 2 s" in str(info.value) and "waiting" in str(info.value)
    child = int((root / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the hook's background child survived the timeout"


def test_hook_ignoring_sigterm_is_killed(tmp_path):
    # The hook's "stubborn" must be printed before the timeout: with 0.3 s a shell slow to start
    # on a loaded machine printed nothing in time and the test failed; 2 s leaves ample time.
    root = _project(tmp_path)
    _hook(root, "post-deploy", "trap '' TERM\necho stubborn\nwhile :; do sleep 0.1; done")
    start = time.monotonic()
    result = run_post_hook(CTX, Outcome(0, "allow"), hooks_dir="hooks", root=root, timeout=2)
    assert result.timed_out and result.status == "failed" and result.output_tail == "stubborn"
    assert time.monotonic() - start < 2 + runner.TERM_GRACE + runner.DRAIN_GRACE + 3


def test_background_process_holding_the_output_does_not_hold_the_command(tmp_path):
    root = _project(tmp_path)
    _hook(root, "post-deploy", "sleep 30 &\necho $! > bg.pid\necho started")
    start = time.monotonic()
    try:
        result = run_post_hook(CTX, Outcome(0, "allow"), hooks_dir="hooks", root=root)
    finally:
        pid = int((root / "bg.pid").read_text())
        os.kill(pid, signal.SIGKILL)  # the sleeper this test's hook started
    assert time.monotonic() - start < runner.DRAIN_GRACE + 3
    assert (result.status, result.exit_code, result.output_tail) == ("ok", 0, "started")


def test_hook_that_closes_its_output_is_still_waited_for(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "echo before\nexec >/dev/null 2>&1\nsleep 0.5\nexit 4")
    with pytest.raises(HookFailed) as info:
        run_pre_hook(CTX, hooks_dir="hooks", root=root)
    assert info.value.exited == 4
    assert info.value.result.output_tail == "before"


def test_hook_killed_by_a_signal(tmp_path):
    root = _project(tmp_path)
    _hook(root, "post-deploy", "kill -KILL $$")
    result = run_post_hook(CTX, Outcome(0, "allow"), hooks_dir="hooks", root=root)
    assert (result.status, result.exit_code, result.detail) == ("failed", None, "killed by SIGKILL")


def test_hook_reads_nothing_from_stdin(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", 'if read answer; then echo "got $answer"; else echo "no input"; fi')
    assert run_pre_hook(CTX, hooks_dir="hooks", root=root, timeout=5).output_tail == "no input"


def test_script_without_shebang_cannot_start(tmp_path):
    root = _project(tmp_path)
    path = root / "hooks" / "pre-deploy"
    path.write_text("echo no shebang\n")
    os.chmod(path, 0o755)
    with pytest.raises(HookFailed, match=r"could not start: .*#! line"):
        run_pre_hook(CTX, hooks_dir="hooks", root=root)


def test_missing_interpreter_is_named(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "exit 0", shell="/nonexistent/interpreter")
    with pytest.raises(HookFailed, match="interpreter that does not exist"):
        run_pre_hook(CTX, hooks_dir="hooks", root=root)


def test_hook_made_unrunnable_after_validation_fails_with_the_fix(tmp_path):
    root = _project(tmp_path)
    path = _hook(root, "pre-deploy", "exit 0")
    assert validate_hooks("hooks", root=root) == ("pre-deploy",)
    os.chmod(path, 0o644)
    with pytest.raises(HookFailed) as info:
        run_pre_hook(CTX, hooks_dir="hooks", root=root)
    assert "chmod +x hooks/pre-deploy" in str(info.value)
    post = _hook(root, "post-deploy", "exit 0", mode=0o644)
    assert post.exists()
    result = run_post_hook(CTX, Outcome(0, "allow"), hooks_dir="hooks", root=root)
    assert result.status == "failed" and "chmod +x hooks/post-deploy" in result.detail


def test_flooding_hook_keeps_only_the_tail_escaped(tmp_path):
    root = _project(tmp_path)
    _hook(root, "post-deploy", "import sys\nfor i in range(200000): print('line', i)\n"
                               "print('\\x1b[2J\\x1b]0;pwned\\x07 done')", shell=os.path.realpath(_python()))
    start = time.monotonic()
    result = run_post_hook(CTX, Outcome(0, "allow"), hooks_dir="hooks", root=root)
    assert time.monotonic() - start < 20
    lines = result.output_tail.split("\n")
    assert len(lines) == 21 and lines[0] == "[... 199981 earlier lines not shown]"
    assert lines[-2] == "line 199999"
    assert lines[-1] == "\\x1b[2J\\x1b]0;pwned\\x07 done"
    assert "\x1b" not in result.output_tail


def test_to_audit_is_json_ready(tmp_path):
    root = _project(tmp_path)
    _hook(root, "pre-deploy", "echo ok")
    audit = run_pre_hook(CTX, hooks_dir="hooks", root=root).to_audit()
    assert json.loads(json.dumps(audit)) == audit
    assert audit["hook"] == "pre-deploy" and audit["command"] == "deploy" and audit["path"] == "hooks/pre-deploy"
    assert audit["status"] == "ok" and audit["exit_code"] == 0 and audit["output_tail"] == "ok"
    assert isinstance(audit["seconds"], float) and audit["timed_out"] is False
    skipped = run_hook("post-deploy", CTX, hooks_dir="hooks", root=root, outcome=Outcome(0)).to_audit()
    assert skipped["status"] == "skipped" and skipped["exit_code"] is None


def test_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="timeout"):
        run_hook("pre-deploy", CTX, hooks_dir="hooks", root=tmp_path, timeout=0)


def test_hook_failed_is_in_the_error_tree():
    assert issubclass(HookFailed, SwiftDeployError) and not issubclass(HookFailed, ConfigError)
    assert HookFailed.exit_code == 7
    assert re.search(r"HookFailed\s+7", errors.__doc__)
    err = HookFailed("pre-rollback", 1, "")
    assert str(err) == "hook pre-rollback exited 1; the command stopped before changing anything"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _python() -> str:
    import sys

    return sys.executable


# --- around a command (lifecycle.hook_runs.hooked) ------------------------------------------

def test_ctrl_c_during_the_command_reaches_the_post_hook_as_exit_130(tmp_path):
    from types import SimpleNamespace

    from swiftlib.lifecycle.hook_runs import hooked
    from swiftlib.results import Reporter

    root = _project(tmp_path)
    _hook(root, "post-rollout", 'echo "$SWIFTDEPLOY_STATUS $SWIFTDEPLOY_EXIT_CODE" > seen')
    audited = []
    project = SimpleNamespace(root=root, audit=SimpleNamespace(append=lambda kind, data, **kw: audited.append(kind)),
                              manifest=SimpleNamespace(hooks_dir="hooks", services=SimpleNamespace(version="1", mode="canary")))
    reporter = Reporter(lambda line: None)
    with pytest.raises(KeyboardInterrupt):
        with hooked(project, "rollout", ["local"], reporter):
            raise KeyboardInterrupt
    assert (root / "seen").read_text().split() == ["failed", "130"]
    assert audited == ["hook"]


def test_a_hooks_directory_linked_outside_the_project_is_refused_and_never_run(tmp_path):
    """A `hooks -> /elsewhere` link used to run whatever was there, as the operator."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pre-deploy").write_text("#!/bin/sh\ntouch \"$PWD/ran\"\n")
    os.chmod(elsewhere / "pre-deploy", 0o755)
    root = tmp_path / "project"
    root.mkdir()
    (root / "hooks").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match=r"hooks: the hooks directory resolves to .*elsewhere, outside the project"):
        validate_hooks("hooks", root=root)
    result = run_hook("pre-deploy", CTX, hooks_dir="hooks", root=root)  # changed after validation: still not run
    assert result.status == "failed" and "outside the project directory" in result.detail
    assert not (root / "ran").exists()


def test_a_hook_line_says_its_exit_code_once(tmp_path):
    from swiftlib.hooks.runner import HookResult
    from swiftlib.lifecycle.context import Project
    from swiftlib.lifecycle.hook_runs import _record
    from swiftlib.results import Reporter

    import shutil
    from pathlib import Path

    shutil.copy(Path(__file__).resolve().parents[2] / "manifest.yaml", tmp_path / "manifest.yaml")
    reporter = Reporter(lambda line: None)
    _record(Project.load(tmp_path / "manifest.yaml"), reporter,
            HookResult("post-rollback", "hooks/post-rollback", "ok", 0, 0.1, detail="exited 0"))
    assert reporter.results[-1].msg == "post-rollback exited 0"
