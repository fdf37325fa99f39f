"""Root on a remote host for `bootstrap --hosts` (swiftlib.remote.become), Host.wrapped, and the
bootstrap's pure decisions that only a server (systemd) or a non-root login reaches."""
from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

import pytest

from swiftlib.bootstrap import commands as cmd
from swiftlib.errors import ConfigError
from swiftlib.host import Host
from swiftlib.remote.become import as_root, missing_root, sudo_wrap


@dataclass
class Ran:
    stdout: str = ""
    stderr: str = ""
    exited: int = 0


class ScriptedRunner:
    """Answers each command line from ``answers`` (first key contained in it wins); records what ran."""

    def __init__(self, answers: dict[str, Ran]) -> None:
        self.answers = answers
        self.ran: list[tuple[str, dict | None]] = []

    def run(self, command: str, **kwargs) -> Ran:
        self.ran.append((command, kwargs.get("env")))
        for key, answer in self.answers.items():
            if key in command:
                return answer
        return Ran()


def test_sudo_wrap_runs_the_line_unchanged_through_sudo_n_with_the_environment_inside():
    line = """printf '%s|%s\\n' "$DEBIAN_FRONTEND" 'it'\\''s "quoted" $HOME' | tr a-z A-Z"""
    argv = shlex.split(sudo_wrap(line, {"DEBIAN_FRONTEND": "noninteractive", "A": "1 2"}))
    assert argv[:3] == ["sudo", "-n", "--"]
    assert argv[3:] == ["env", "A=1 2", "DEBIAN_FRONTEND=noninteractive", "sh", "-c", line]
    # What sudo would run, run here: the line's quoting survives the wrapping.
    out = subprocess.run(argv[3:], capture_output=True, text=True, check=True).stdout
    assert out == "NONINTERACTIVE|IT'S \"QUOTED\" $HOME\n"


def test_sudo_wrap_without_environment_has_no_env():
    assert shlex.split(sudo_wrap("id -u")) == ["sudo", "-n", "--", "sh", "-c", "id -u"]


def test_a_wrapped_host_passes_its_environment_inside_the_command_not_to_the_runner():
    runner = ScriptedRunner({})
    host = Host(runner, name="web1", remote=True).wrapped(sudo_wrap)
    host.run(["apt-get", "update"], env={"DEBIAN_FRONTEND": "noninteractive"})
    command, env = runner.ran[-1]
    assert env is None
    assert shlex.split(command) == ["sudo", "-n", "--", "env", "DEBIAN_FRONTEND=noninteractive", "sh", "-c",
                                    "apt-get update"]
    assert host.name == "web1" and host.is_remote


def test_root_login_is_used_as_it_is():
    runner = ScriptedRunner({"id -u": Ran("0\nroot\n")})
    host = Host(runner, name="web1", remote=True)
    root = as_root(host)
    assert (root.host, root.login, root.via) == (host, "root", "login")
    assert root.describe() == "logged in as root"
    assert not any("sudo" in command for command, _ in runner.ran)


def test_a_login_with_passwordless_sudo_gets_every_command_through_sudo():
    runner = ScriptedRunner({"id -u": Ran("1000\ndeploy\n"), "command -v sudo": Ran(), "sudo -n true": Ran()})
    root = as_root(Host(runner, name="web1", remote=True))
    assert (root.login, root.via) == ("deploy", "sudo")
    root.host.run(["docker", "info"])
    assert shlex.split(runner.ran[-1][0]) == ["sudo", "-n", "--", "sh", "-c", "docker info"]
    assert "passwordless sudo" in root.describe()


@pytest.mark.parametrize("answers, missing", [
    ({"command -v sudo": Ran(exited=1)}, "sudo is not installed there"),
    ({"command -v sudo": Ran(), "sudo -n true": Ran(stderr="sudo: a password is required\n", exited=1)},
     "may not use sudo without a password (`sudo -n true`: sudo: a password is required)"),
])
def test_a_login_that_is_neither_root_nor_has_sudo_is_refused_naming_the_host_and_what_is_missing(answers, missing):
    runner = ScriptedRunner({"id -u": Ran("1001\nnosudo\n"), **answers})
    with pytest.raises(ConfigError) as caught:
        as_root(Host(runner, name="web1", remote=True))
    assert caught.value.exit_code == 2 and caught.value.host == "web1"
    assert "bootstrap needs root on web1: the login 'nosudo' is not root and" in caught.value.message
    assert missing in caught.value.message
    assert "NOPASSWD" in caught.value.message and "/etc/sudoers.d/nosudo" in caught.value.message


def test_missing_root_folds_sudo_output_to_one_line():
    text = missing_root("h", "u", has_sudo=True, sudo_said="Sorry, user u\n  may not run sudo on h.\n")
    assert "(`sudo -n true`: Sorry, user u may not run sudo on h.)" in text


@pytest.mark.parametrize("systemd, running, how", [
    (True, False, "systemd"), (True, True, "systemd"), (False, True, "wait"), (False, False, "spawn"),
])
def test_engine_start_uses_systemd_where_it_runs_else_waits_or_spawns_dockerd(systemd, running, how):
    assert cmd.engine_start(systemd=systemd, running=running) == how


def test_docker_group_membership_is_read_from_id_output():
    assert cmd.in_group("deploy sudo docker\n", "docker")
    assert not cmd.in_group("deploy dockerusers\n", "docker")
    assert cmd.groups_argv("deploy") == ["id", "-nG", "--", "deploy"]
    assert cmd.add_to_group_argv("deploy", "docker") == ["usermod", "-aG", "docker", "--", "deploy"]
    assert cmd.systemctl_enable_now_argv() == ["systemctl", "enable", "--now", "docker.service"]
