"""What nginx serves, told apart from what its include file says (Invoke's MockContext behind `Host`).

A run stopped between writing `nginx.d/traffic.conf` and reloading nginx leaves a file that names
the new split while nginx still serves the old one. The next run must reload, not report "ok" and
go on to remove the track nginx still sends requests to.
"""
from __future__ import annotations

import re

import pytest
from invoke import MockContext, Result

from swiftlib.host import Host
from swiftlib.lifecycle import nginx_include, traffic
from swiftlib.lifecycle.context import Options, Project, Target
from swiftlib.results import Reporter
from swiftlib.tracks import TRAFFIC_FILE, only

# The one exec that checks the config, reloads and looks at the old workers (commands.nginx_apply).
APPLY = re.compile(r"^docker exec \S+ sh -c '.*nginx -t -q .*nginx -s reload.*' sh -?\d+$")


def running_nginx(project: Project) -> tuple[Target, MockContext]:
    """A host whose nginx runs, accepts its config and reloads; every app track answers healthy."""
    nginx = project.manifest.nginx.container_name
    ctx = MockContext(run={
        re.compile(r"^docker inspect --format .*State\.Status.* " + re.escape(nginx) + "$"): Result("running healthy\n"),
        APPLY: Result("old: 7\ntested\nreloaded\nleft:\n"),  # accepted, reloaded, the old worker gone
    }, repeat=True)
    return Target.local(project, Host.local(ctx)), ctx


def reloads(ctx: MockContext) -> int:
    return sum(bool(APPLY.match(call.args[0])) for call in ctx.run.call_args_list)


def switch(project: Project, target: Target):
    reporter = Reporter(lambda line: None)
    return traffic.switch(project, target, reporter, only("stable"), Options(), why="test")


@pytest.fixture(autouse=True)
def healthy_tracks(monkeypatch):
    monkeypatch.setattr(traffic, "wait_track_healthy", lambda target, spec, **kw: {"status": "ok"})


def test_a_split_written_but_never_reloaded_is_applied_again(project):
    target, ctx = running_nginx(project)
    nginx_include.apply(target, TRAFFIC_FILE, "# an earlier split\n")  # what nginx serves
    text = traffic.render_traffic(project.manifest, project.templates_dir, only("stable"))
    target.workspace.write(TRAFFIC_FILE, text)  # a run stopped here, before its reload
    result = switch(project, target)
    assert result.status == "changed" and "nginx had not been reloaded with it" in result.msg
    assert reloads(ctx) == 2


def test_a_first_deploys_split_is_reloaded_without_a_story(project):
    """A first deploy renders the split before `up` starts nginx with it: nothing was left unloaded."""
    target, ctx = running_nginx(project)
    text = traffic.render_traffic(project.manifest, project.templates_dir, only("stable"))
    target.workspace.write(TRAFFIC_FILE, text)  # render, then `up`
    result = switch(project, target)
    assert result.status == "changed" and "reloaded" not in result.msg, result.msg
    assert reloads(ctx) == 1


def test_a_split_nginx_serves_is_ok_without_a_reload(project):
    target, ctx = running_nginx(project)
    assert switch(project, target).status == "changed" and reloads(ctx) == 1
    again = switch(project, target)
    assert again.status == "ok" and reloads(ctx) == 1


def test_a_refused_file_is_not_recorded_as_served(project):
    target, ctx = running_nginx(project)
    ctx.set_result_for("run", APPLY, Result("old: 7\n", stderr="emerg", exited=1))
    text = "split_clients junk;\n"
    with pytest.raises(Exception, match="nginx -t"):
        nginx_include.apply(target, TRAFFIC_FILE, text)
    assert not nginx_include.serves(target, TRAFFIC_FILE, text)
    assert target.workspace.read(TRAFFIC_FILE) is None  # the refused file is not left behind


def test_a_file_written_while_nginx_is_stopped_counts_as_served(project):
    """A stopped nginx reads the file as it starts."""
    target, _ = running_nginx(project)
    nginx_include.apply(target, TRAFFIC_FILE, "# split\n", running=False)
    assert nginx_include.serves(target, TRAFFIC_FILE, "# split\n")


def test_nginx_dying_under_its_check_is_named_and_the_old_file_stays(project):
    """Found by the fault matrix: nginx killed right after `up` made the next include's `nginx -t` fail with
    Docker's "container is not running" as exit 1, as if the file were wrong."""
    from swiftlib.errors import HealthCheckFailed
    from swiftlib.lifecycle.admin_access import ACCESS_FILE

    nginx = project.manifest.nginx.container_name
    ctx = MockContext(run={
        re.compile(r"^docker inspect --format .*State\.Status.* " + re.escape(nginx) + "$"):
            [Result("running healthy\n"), Result("exited none\n")],
        APPLY: Result(stderr=f"Error response from daemon: Container {nginx} is not running\n", exited=1),
    })
    target = Target.local(project, Host.local(ctx))
    target.workspace.write(ACCESS_FILE, "allow 172.18.0.1;\ndeny all;\n")
    with pytest.raises(HealthCheckFailed) as caught:
        nginx_include.apply(target, ACCESS_FILE, "allow 172.19.0.1;\ndeny all;\n")
    assert caught.value.message == (f"{ACCESS_FILE} was not applied: nginx ({nginx}) stopped while it was checked; "
                                    "run the command again (it starts nginx again)")
    assert target.workspace.read(ACCESS_FILE) == "allow 172.18.0.1;\ndeny all;\n"


@pytest.mark.parametrize("stdout, stages, old, left", [
    ("old: 7 8\ntested\nreloaded\nleft:\n", ("tested", "reloaded"), {"7", "8"}, set()),
    ("old: 7 8\ntested\nreloaded\nleft: 8\n", ("tested", "reloaded"), {"7", "8"}, {"8"}),
    ("old: 7 8\ntested\nreloaded\n", ("tested", "reloaded"), {"7", "8"}, set()),  # no drain asked
    ("old: 7 8\n", (), {"7", "8"}, set()),  # nginx -t refused
    ("old: 7\ntested\n", ("tested",), {"7"}, set()),  # the reload failed
    ("", (), set(), set()),  # the exec itself failed (nginx not running)
    ("old:\ntested\nreloaded\nleft: 9\n", ("tested", "reloaded"), set(), set()),  # only listed workers count
])
def test_the_apply_scripts_output_is_read_by_stage(stdout, stages, old, left):
    from swiftlib.runtime import nginx_apply

    out = nginx_apply.parse(stdout)
    assert (out.stages, set(out.old), set(out.left)) == (stages, old, left)


def test_a_failed_reload_after_an_accepted_check_is_a_failed_command(project):
    from swiftlib.errors import CommandFailed

    target, ctx = running_nginx(project)
    ctx.set_result_for("run", APPLY, Result("old: 7\ntested\n", stderr="nginx: [error] invalid PID number", exited=1))
    with pytest.raises(CommandFailed, match="nginx -s reload") as caught:
        nginx_include.apply(target, TRAFFIC_FILE, "# split\n", drain=True)
    assert "invalid PID number" in caught.value.message
    assert not nginx_include.serves(target, TRAFFIC_FILE, "# split\n")


def test_old_workers_still_busy_after_the_first_look_are_waited_for(project):
    target, ctx = running_nginx(project)
    ctx.set_result_for("run", APPLY, Result("old: 7 8\ntested\nreloaded\nleft: 8\n"))
    looks = re.compile(r"^docker exec \S+ sh -c 'n=\$1; shift; .*' sh \d+ 8$")
    ctx.set_result_for("run", looks, [Result("8\n"), Result("\n")])
    assert nginx_include.apply(target, TRAFFIC_FILE, "# split\n", drain=True) is not None
    assert sum(bool(looks.match(call.args[0])) for call in ctx.run.call_args_list) == 2
    assert nginx_include.serves(target, TRAFFIC_FILE, "# split\n")


class StepwiseNginx:
    """A runtime whose nginx is driven step by step (as the swarm runtime's, on every node)."""

    def __init__(self, tested: int = 0, workers: set[str] = frozenset({"n1:7"}), left: set[str] = frozenset()):
        self.calls: list[str] = []
        self._tested, self._workers, self._left = tested, set(workers), set(left)

    def nginx_workers(self) -> set[str]:
        self.calls.append("workers")
        return set(self._workers)

    def nginx_test(self) -> tuple[int, str]:
        self.calls.append("test")
        return self._tested, "" if self._tested == 0 else "emerg"

    def nginx_reload(self) -> None:
        self.calls.append("reload")

    def nginx_workers_left(self, old: set[str], wait: float) -> set[str]:
        self.calls.append(f"left {sorted(old)} {wait}")
        return self._left & old


def test_a_runtime_of_steps_checks_before_it_reloads_and_looks_at_the_listed_workers():
    from swiftlib.runtime import nginx_apply

    accepted = StepwiseNginx(left={"n1:7"})
    assert nginx_apply.in_steps(accepted, 2.0) == nginx_apply.NginxApplied(0, "", frozenset({"n1:7"}), frozenset({"n1:7"}))
    assert sorted(accepted.calls[:2]) == ["test", "workers"] and accepted.calls[2:] == ["reload", "left ['n1:7'] 2.0"]
    refused = StepwiseNginx(tested=1)
    assert nginx_apply.in_steps(refused, 2.0).tested == 1 and "reload" not in refused.calls
    no_drain = StepwiseNginx()
    assert nginx_apply.in_steps(no_drain, None) == nginx_apply.NginxApplied(0, "")
    assert no_drain.calls == ["test", "reload"]
