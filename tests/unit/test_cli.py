"""The command line as a whole: short flags, unexpected errors, --forks, CommandFailed messages.

Everything here runs in-process on a throwaway project (embedded policy engine, no Docker):
tasks are called as Invoke calls them, with a Context and keyword arguments.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from invoke import Context, Exit

from swiftlib.cli import tasks
from swiftlib.cli import args as cli_args
from swiftlib.errors import CommandFailed, ConfigError, UsageError
from swiftlib.host import Host
from swiftlib.lifecycle import fleet, render_step, selection
from swiftlib.lifecycle.context import Options, Project, Target
from swiftlib.lifecycle.engine_choice import EngineChoice
from swiftlib.lifecycle.fleet import FleetOptions, TargetSpec, prepare_remote, run_fleet
from swiftlib.remote.batches import DEFAULT_FORKS, parse_forks
from swiftlib.results import Reporter, StepResult
from swiftlib.run.console import reporting
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
TASKS = ["bootstrap", "render", "validate", "up", "health", "deploy", "promote", "rollback", "rollout", "teardown",
         "maintenance", "certs", "opa-check", "lock", "status", "dashboard", "chaos", "policy-test", "audit", "inventory",
         "cluster"]
EXPECTED_SHORT = {"manifest": "m", "check": "C", "diff": "D", "inventory": "i", "limit": "l", "forks": "f",
                  "connect-timeout": "T", "hosts": "H", "debug": "d"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory with its own manifest (embedded engine: no Docker needed)."""
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    manifest["opa"]["engine"] = "embedded"
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


# -- short flags --------------------------------------------------------------------------

def arguments(name: str):
    return tasks.ns[name].get_arguments(ignore_unknown_help=True)


def test_every_task_is_in_the_collection() -> None:
    assert sorted(tasks.ns.task_names) == sorted(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_short_flags_are_the_chosen_ones_on_every_task(name: str) -> None:
    for arg in arguments(name):
        long, *short = arg.names
        assert short == ([EXPECTED_SHORT[long]] if long in EXPECTED_SHORT else []), (name, arg.names)


@pytest.mark.parametrize("name", TASKS)
def test_h_is_help_and_risky_flags_have_no_short_form(name: str) -> None:
    for arg in arguments(name):
        assert "h" not in arg.names, (name, arg.names)
        if arg.names[0] in ("accept-new-host-keys", "clean", "force", "release"):
            assert arg.names == (arg.names[0],), (name, arg.names)


@pytest.mark.parametrize("name", TASKS)
def test_every_task_takes_debug_and_manifest(name: str) -> None:
    names = {arg.names[0] for arg in arguments(name)}
    assert {"debug"} <= names
    assert "manifest" in names or name == "inventory"


def test_the_documented_flags_exist_where_expected() -> None:
    flags = {name: {arg.names[0] for arg in arguments(name)} for name in TASKS}
    for name in ("render", "deploy", "promote"):
        assert {"check", "diff"} <= flags[name]
    for name in ("render", "validate", "up", "health", "deploy", "promote", "rollback", "rollout", "teardown",
                 "maintenance", "certs", "opa-check", "lock"):
        assert {"hosts", "inventory", "limit", "serial", "max-fail-percentage", "forks",
                "accept-new-host-keys", "connect-timeout", "json"} <= flags[name], name
    for name in ("status", "chaos"):
        assert {"hosts", "inventory", "limit", "connect-timeout"} <= flags[name]
        assert not {"forks", "serial", "max-fail-percentage"} & flags[name]


# -- unexpected exceptions ----------------------------------------------------------------

def boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


def run_task(task, **kwargs) -> int:
    try:
        task(Context(), **kwargs)
    except Exit as exc:
        return exc.code
    return 0


def test_an_unexpected_exception_is_one_line_a_saved_traceback_and_exit_1(project, monkeypatch, capsys):
    monkeypatch.delenv("INVOKE_DEBUG", raising=False)
    monkeypatch.setattr(fleet, "target_specs", boom)  # before any host: it escapes the run
    assert run_task(tasks.render, manifest=str(project)) == 1
    out, err = capsys.readouterr()
    assert "PLAY RECAP" not in out  # no host ran: nothing to recap
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("ERROR: unexpected RuntimeError: boom (traceback written to ")
    saved = Path(lines[0].split("traceback written to ", 1)[1].split(";", 1)[0])
    try:
        text = saved.read_text()
        assert "Traceback (most recent call last)" in text and "RuntimeError: boom" in text and "in boom" in text
        assert saved.stat().st_mode & 0o077 == 0  # private: tracebacks may show paths and values
    finally:
        saved.unlink()
    assert "--debug prints it" in lines[0]


def test_debug_prints_the_traceback_instead(project, monkeypatch, capsys):
    monkeypatch.setattr(fleet, "target_specs", boom)
    assert run_task(tasks.render, manifest=str(project), debug=True) == 1
    out, err = capsys.readouterr()
    assert "PLAY RECAP" not in out
    assert "Traceback (most recent call last)" in err and "in boom" in err
    assert "traceback written to" not in err
    assert err.rstrip().splitlines()[-1] == "ERROR: unexpected RuntimeError: boom (traceback above)"


def test_invoke_debug_env_counts_as_debug(project, monkeypatch, capsys):
    monkeypatch.setenv("INVOKE_DEBUG", "1")
    monkeypatch.setattr(fleet, "target_specs", boom)
    assert run_task(tasks.render, manifest=str(project)) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_json_mode_keeps_stdout_one_document(project, monkeypatch, capsys):
    monkeypatch.delenv("INVOKE_DEBUG", raising=False)
    monkeypatch.setattr(fleet, "target_specs", boom)
    assert run_task(tasks.render, manifest=str(project), json=True) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["exit_code"] == 1 and doc["error"] == "unexpected RuntimeError: boom"
    path = err.split("traceback written to ", 1)[1].split(";", 1)[0]
    os.unlink(path)


def test_an_unexpected_exception_on_one_host_is_explained_after_the_recap(project, monkeypatch, capsys):
    monkeypatch.delenv("INVOKE_DEBUG", raising=False)

    def broken(project, target, reporter, *args, **kwargs):
        reporter.record(StepResult("render", target.name, "ok", "fine so far"))
        {}["missing"]

    monkeypatch.setattr(render_step, "render", broken)
    assert run_task(tasks.render, manifest=str(project)) == 1
    out, err = capsys.readouterr()
    assert "PLAY RECAP" in out
    assert err.startswith("ERROR: unexpected KeyError: 'missing' on local (traceback written to ")
    os.unlink(err.split("traceback written to ", 1)[1].split(";", 1)[0])


def test_a_task_without_reporting_is_covered_too(monkeypatch, capsys):
    monkeypatch.delenv("INVOKE_DEBUG", raising=False)
    import swiftlib.inventory as inventory_pkg

    monkeypatch.setattr(inventory_pkg, "load_inventory", boom)
    assert run_task(tasks.inventory, inventory="whatever.ini") == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: unexpected RuntimeError: boom (traceback written to ")
    os.unlink(err.split("traceback written to ", 1)[1].split(";", 1)[0])


@pytest.mark.parametrize("task, args, message", [
    ("deploy", ["--serial", "abc"], "--serial: expected a number of hosts"),
    ("chaos", ["--mode", "error", "--rate", "5"], "--rate: expected a share of the requests from 0 to 1"),
])
def test_a_usage_error_before_any_host_prints_its_message_and_no_recap(project, task, args, message):
    result = run_cli(project, task, *args, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"ERROR: {message}")
    assert "PLAY RECAP" not in result.stdout, result.stdout  # no host ran: an empty recap says nothing


def test_no_recap_without_a_host_in_json_mode_either_keeps_one_document(capsys):
    with pytest.raises(Exit):
        with reporting(json_out=True):
            raise UsageError("--serial: bad")
    out, err = capsys.readouterr()
    assert json.loads(out)["recap"] == {} and "PLAY RECAP" not in out and err == "ERROR: --serial: bad\n"


def test_the_recap_is_printed_when_a_swiftdeploy_error_ends_the_run(capsys):
    with pytest.raises(Exit) as info:
        with reporting() as reporter:
            reporter.record(StepResult("render", "local", "ok"))
            raise ConfigError("bad input")
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "PLAY RECAP" in out and "local " in out and "ERROR: bad input" in err


# -- CommandFailed never claims an exit status it did not see ------------------------------

@pytest.mark.parametrize("exited", [None, 0])
def test_command_failed_without_a_status_says_failed(exited) -> None:
    message = str(CommandFailed("docker compose down", exited, "still present: app", host="h1"))
    assert message == "[h1] `docker compose down` failed\n    still present: app"


def test_command_failed_with_a_status_names_it() -> None:
    assert str(CommandFailed("false", 1)) == "`false` exited 1"
    negative = str(CommandFailed("sleep 9", -9))
    assert "exited" not in negative and "without an exit status" in negative


def test_no_command_failed_is_raised_with_a_made_up_status() -> None:
    """A literal 0 or negative number as the exit status is a message that lies."""
    offenders = []
    for path in (REPO / "swiftlib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "CommandFailed":
                if len(node.args) >= 2:
                    status = node.args[1]
                    if isinstance(status, ast.UnaryOp) and isinstance(status.op, ast.USub):
                        offenders.append(f"{path.name}:{node.lineno}")
                    elif isinstance(status, ast.Constant) and status.value == 0:
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_a_timed_out_command_says_so_without_an_exit_status() -> None:
    with pytest.raises(CommandFailed) as info:
        Host.local().run(["sleep", "5"], timeout=0.3)
    assert "`sleep 5` failed" in str(info.value) and "timed out after 0.3s" in str(info.value)
    assert "exited" not in str(info.value)


# -- --forks ------------------------------------------------------------------------------

def test_parse_forks() -> None:
    assert parse_forks("") == parse_forks(None) == DEFAULT_FORKS == 5
    assert parse_forks("1") == 1 and parse_forks(" 12 ") == 12 and parse_forks(3) == 3
    for bad in ("0", "-1", "two", "1.5", "²", True):
        with pytest.raises(ConfigError, match="--forks: expected a whole number of hosts >= 1"):
            parse_forks(bad)


def concurrency(project_path: Path, hosts: int, opts: FleetOptions) -> int:
    """The most hosts acting at once.

    Each action stays in until as many hosts act as --forks allows (``forks``, or fewer once
    fewer hosts are left), waiting on a condition rather than sleeping: a 150 ms sleep counted
    on the threads overlapping, which a loaded machine does not promise. A cap that lets fewer
    hosts in makes that wait time out (``stalled``). Then, while hosts are still waiting, each
    gives one more a moment to come in, which only a cap that lets too many in allows (it shows
    in ``peak``); a working cap passes whatever that moment's length.
    """
    project = Project.load(project_path)
    running = peak = done = 0
    stalled: list[str] = []
    changed = threading.Condition()

    def action(project, target, reporter):
        nonlocal running, peak, done
        with changed:
            running += 1
            peak = max(peak, running)
            changed.notify_all()
            if not changed.wait_for(lambda: running >= min(opts.forks, hosts - done), timeout=10):
                stalled.append(target.name)
            if hosts - done > running:
                changed.wait_for(lambda: running > opts.forks, timeout=0.1)
            running -= 1
            done += 1
            changed.notify_all()
        reporter.record(StepResult("work", target.name, "ok"))

    reporter = Reporter(lambda line: None)
    run_fleet(project, [TargetSpec(f"h{i}") for i in range(hosts)], action, reporter, opts)
    assert reporter.recap.exit_code() == 0 and len(reporter.results) == hosts
    assert stalled == [], f"waited in vain for {opts.forks} hosts at once (at most {peak} acted together)"
    return peak


def test_forks_caps_the_hosts_acting_at_once(project) -> None:
    assert concurrency(project, 6, FleetOptions(forks=2)) == 2


def test_forks_defaults_to_five(project) -> None:
    assert FleetOptions().forks == 5
    assert concurrency(project, 8, FleetOptions()) == 5


def test_forks_flag_reaches_the_fleet_options() -> None:
    assert selection.fleet_options(cli_args.HostFlags(forks="3")).forks == 3
    assert selection.fleet_options(cli_args.HostFlags()).forks == 5


def test_a_task_started_by_fab_acts_on_the_connection_it_was_handed() -> None:
    from fabric import Connection

    ctx = Connection("deploy@web1:2222", connect_kwargs={"key_filename": ["/keys/id_ed25519"]})
    [spec] = selection.specs(ctx, cli_args.HostFlags(hosts="ignored@elsewhere"))
    assert (spec.name, spec.ssh.address, spec.ssh.port, spec.ssh.user, spec.ssh.key_file) == \
        ("web1:2222", "web1", 2222, "deploy", "/keys/id_ed25519")
    assert spec.connection is ctx and selection.local_context(ctx) is None
    plain = Context()
    assert selection.local_context(plain) is plain and selection.specs(plain, cli_args.HostFlags())[0].is_local


def test_a_watching_task_refuses_more_than_one_host(project) -> None:
    with pytest.raises(UsageError, match="this task watches one host, but 2 were selected"):
        with selection.single_target(Context(), str(project), cli_args.HostFlags(hosts="a@h1,a@h2")):
            pass


# -- prepare_remote ships a canary image only this machine has ------------------------------

def test_prepare_remote_ships_the_canary_image(project, monkeypatch) -> None:
    import swiftlib.remote.images as images

    raw = yaml.safe_load(project.read_text())
    raw.setdefault("canary", {})["image"] = "swiftdeploy-app:2.0.0-rc1"
    project.write_text(yaml.safe_dump(raw, sort_keys=False))
    manifest = Project.load(project).manifest
    canary = manifest.canary.image
    assert canary not in (manifest.services.image, manifest.nginx.image)
    local = SimpleNamespace(name="local")
    monkeypatch.setattr(fleet.Host, "local", staticmethod(lambda *a: local))
    host = SimpleNamespace(is_remote=True, name="h1")
    on_this_machine = {manifest.services.image, manifest.nginx.image, canary}  # no OPA image here

    def ids(on, wanted):  # the remote host has none of them yet
        return {image: f"sha256:{image}" if on is local and image in on_this_machine else None for image in wanted}

    monkeypatch.setattr(images, "image_ids", ids)
    shipped = []
    monkeypatch.setattr(images, "ensure_image", lambda src, dst, image: shipped.append(image) or "changed")
    target = SimpleNamespace(name="h1", host=host, manifest=manifest, runtime=SimpleNamespace(hosts=lambda: [host]),
                             workspace=SimpleNamespace(sync_dir=lambda src, dst: []), policies_subdir="policies")
    reporter = Reporter(lambda line: None)
    prepare_remote(SimpleNamespace(policies_dir=project.parent / "policies"), target, reporter, check=False)
    assert shipped == [manifest.services.image, manifest.nginx.image, canary]
    assert reporter.results[-1].status == "changed"


# -- render: no file left changed without its audit record ----------------------------------

def render_once(project_path: Path):
    project = Project.load(project_path)
    target = Target.local(project)
    return render_step.render(project, target, Reporter(lambda line: None), EngineChoice("embedded", "test"), Options())


def test_render_writes_nothing_when_the_audit_record_cannot_be_appended(project) -> None:
    history = project.parent / "history.jsonl"
    history.mkdir()  # not appendable
    with pytest.raises(ConfigError, match="cannot use as the audit history"):
        render_once(project)
    assert not (project.parent / "docker-compose.yml").exists()
    assert not (project.parent / "nginx.conf").exists()


def test_render_puts_changed_files_back_when_the_audit_append_fails(project) -> None:
    render_once(project)  # a first, audited render
    compose = project.parent / "docker-compose.yml"
    compose.write_text("# edited by hand\n")
    history = project.parent / "history.jsonl"
    history.rename(project.parent / "history.saved")
    history.mkdir()
    with pytest.raises(ConfigError):
        render_once(project)
    assert compose.read_text() == "# edited by hand\n"
    history.rmdir()
    (project.parent / "history.saved").rename(history)
    result = render_once(project)  # and with a working history it renders and audits
    assert result.status == "changed" and compose.read_text() != "# edited by hand\n"
    assert history.read_text().count('"event_type":"render"') == 2


@pytest.mark.parametrize("port", ["70000", "-1", "80.5", "http"])
def test_dashboard_refuses_a_bad_port_before_anything_starts(project, port) -> None:
    result = run_cli(project, "dashboard", f"--port={port}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--port" in result.stderr and "0-65535" in result.stderr
    assert not (project.parent / ".swiftdeploy").exists()  # no frame was taken, nothing recorded


@pytest.mark.parametrize("text, port", [("0", 0), ("8090", 8090), ("65535", 65535)])
def test_port_number_takes_0_to_65535(text, port):
    assert cli_args.port_number("--port", text) == port


@pytest.mark.parametrize("text", ["", "65536", "-1", "80.0", " 80", "0x50", "١٢", "99999999999999999999"])
def test_port_number_refuses_anything_else_naming_the_flag(text):
    with pytest.raises(UsageError, match=r"--port: expected a port number 0-65535"):
        cli_args.port_number("--port", text)


# -- a reader that goes away (`| head`) -------------------------------------------------------

def test_a_printing_task_whose_reader_went_away_ends_quietly_with_141(tmp_path):
    import subprocess

    from tests.conftest import SWIFTDEPLOY

    inventory = tmp_path / "big.ini"
    inventory.write_text("[web]\nweb[0001:3000] ansible_host=10.0.0.1\n")  # more JSON than a pipe buffers
    proc = subprocess.Popen([*SWIFTDEPLOY, "inventory", "-i", str(inventory)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "{"
    proc.stdout.close()  # as `| head -1` does
    code, err = proc.wait(timeout=60), proc.stderr.read()
    assert code == 141, err  # what a shell reports for a writer whose pipe closed
    assert err == "", err  # no traceback, no "unexpected BrokenPipeError"


def test_a_run_whose_reader_went_away_goes_on_unprinted():
    """A deploy never stops half way because nobody reads its lines any more."""
    import subprocess
    import sys

    code = ("import os, sys\n"
            "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"
            "from swiftlib.run.console import emit\n"
            "for n in range(3): emit(f'step {n}')\n"
            "sys.stderr.write('finished')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0 and done.stderr == "finished", done.stderr


def test_version_names_the_installed_distribution(capsys):
    """Read only when asked (the metadata lookup is kept off every other command's start-up)."""
    from importlib.metadata import version

    from swiftlib.cli.program import program

    with pytest.raises(SystemExit) as done:
        program().run(["swiftdeploy", "--version"])
    assert done.value.code in (0, None)
    assert capsys.readouterr().out == f"SwiftDeploy {version('swiftdeploy')}\n"
