"""The flows' decisions without Docker: Invoke's MockContext behind the `Host` seam.

Each test gives the host the answers a real engine would give (a container running or absent,
an image present or not); a command the test did not expect raises NotImplementedError (the flow
ran something it must not). What is asserted is what a user sees: the exit code and message,
the commands that ran (and that no compose, stop or reload did), the manifest's bytes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from invoke import MockContext, Result

from swiftlib.errors import ConfigError, UsageError
from swiftlib.host import Host
from swiftlib.lifecycle import flows
from swiftlib.lifecycle.context import Options, Project, Target
from swiftlib.results import Reporter

CHANGES = re.compile(r"docker (compose|stop|rm|kill|run|exec)\b")  # what acts, as opposed to probes


def inspect_state(name: str) -> re.Pattern:
    return re.compile(r"^docker inspect --format .*State\.Status.* " + re.escape(name) + "$")


class Engine:
    """A host whose Docker engine runs ``running`` containers and holds ``images``."""

    def __init__(self, *, running: tuple[str, ...] = (), images: tuple[str, ...] = ()) -> None:
        answers: dict = {}
        for name in running:
            answers[inspect_state(name)] = Result("running healthy\n")
        answers[re.compile(r"^docker inspect --format ")] = Result("", stderr="No such object", exited=1)
        for image in images:
            answers[re.compile(r"^docker image inspect .* " + re.escape(image) + "$")] = Result("sha256:1\n")
        answers[re.compile(r"^docker image inspect ")] = Result("", stderr="No such image", exited=1)
        self.ctx = MockContext(run=answers, repeat=True)

    @property
    def commands(self) -> list[str]:
        return [call.args[0] for call in self.ctx.run.call_args_list]


def target_on(project: Project, engine: Engine, **state) -> Target:
    target = Target.local(project, Host.local(engine.ctx))
    if state:
        target.write_state(**state)
    return target


def quiet() -> Reporter:
    return Reporter(lambda line: None)


def names(project: Project) -> dict[str, str]:
    m = project.manifest
    return {"stable": m.services.container_name, "canary": f"{m.services.container_name}-canary"}


def test_deploy_refuses_to_skip_the_canary_gate_for_a_host_that_runs_a_canary(project):
    engine = Engine(running=(names(project)["canary"],))
    target = target_on(project, engine, mode="canary")
    before = project.manifest_path.read_bytes()
    reporter = quiet()
    with pytest.raises(UsageError, match="promote --mode stable"):
        flows.deploy(project, target, reporter, Options())
    assert reporter.results[-1].status == "failed" and reporter.results[-1].exit_code == 2
    assert not [c for c in engine.commands if CHANGES.search(c)], engine.commands
    assert not (project.root / "docker-compose.yml").exists() and project.manifest_path.read_bytes() == before


def test_promote_canary_refuses_a_canary_image_the_host_lacks_before_any_change(project):
    engine = Engine(images=())
    target = target_on(project, engine)
    before = project.manifest_path.read_bytes()
    with pytest.raises(ConfigError, match=f"canary.image: {re.escape(project.manifest.canary.image)} is not on host"):
        flows.promote(project, target, quiet(), Options(), "canary")
    assert engine.commands == [f"docker image inspect --format '{{{{.Id}}}}' {project.manifest.canary.image}"]
    assert project.manifest_path.read_bytes() == before


def test_promote_canary_refuses_to_start_over_an_unfinished_promotion(project):
    engine = Engine(images=(project.manifest.canary.image,))
    marker = {"from_image": "app:1", "from_version": "1.0.0", "image": "app:2", "version": "2.0.0"}
    target = target_on(project, engine, mode="canary", promotion=marker)
    before = project.manifest_path.read_bytes()
    reporter = quiet()
    with pytest.raises(UsageError, match=r"promotion of 2\.0\.0 was interrupted .* `inv rollback` to go back to 1\.0\.0"):
        flows.promote(project, target, reporter, Options(), "canary")
    assert project.manifest_path.read_bytes() == before
    assert not [c for c in engine.commands if CHANGES.search(c)], engine.commands


def test_promote_stable_with_nothing_to_promote_changes_nothing(project):
    engine = Engine()
    target = target_on(project, engine, mode="stable")
    reporter = quiet()
    flows.promote(project, target, reporter, Options(), "stable")
    assert [(r.task, r.status, r.msg) for r in reporter.results] == [
        ("promote", "ok", "already in stable mode; nothing to do")]
    assert all(c.startswith("docker inspect") for c in engine.commands), engine.commands


def test_rollback_with_no_canary_is_ok_and_touches_nothing(project):
    engine = Engine(running=(names(project)["stable"],))
    target = target_on(project, engine, mode="stable")
    reporter = quiet()
    flows.rollback(project, target, reporter, Options())
    assert [(r.task, r.status) for r in reporter.results] == [("rollback", "ok")]
    assert "no canary runs" in reporter.results[0].msg
    assert not [c for c in engine.commands if CHANGES.search(c)], engine.commands


def test_rollback_after_a_promotion_that_already_replaced_stable_only_records_it(project, monkeypatch):
    """The canary is gone and stable answers with the promoted version: nothing runs that could be
    rolled back to, so rollback records the promotion as complete (and says how to go back) and acts on nothing."""
    from swiftlib.lifecycle import health

    engine = Engine(running=(names(project)["stable"],))
    version = project.manifest.services.version
    marker = {"from_image": "app:1", "from_version": "0.9.0", "image": project.manifest.services.image,
              "version": version}
    target = target_on(project, engine, mode="canary", promotion=marker)
    monkeypatch.setattr(health, "running_version", lambda target, name: version)  # what /healthz would answer
    monkeypatch.setattr(health, "wait_track_healthy", lambda target, spec, **kw: {"version": version})
    reporter = quiet()
    flows.rollback(project, target, reporter, Options())
    assert reporter.results[-1].status == "ok" and "recorded it as complete (deploy 0.9.0 to go back)" in \
        reporter.results[-1].msg
    state = json.loads((project.root / ".swiftdeploy/state.json").read_text())
    assert state["promotion"] is None and state["mode"] == "stable"
    assert not [c for c in engine.commands if CHANGES.search(c)], engine.commands


def test_rollback_check_mode_of_a_running_canary_plans_without_touching_anything(project, tmp_path):
    engine = Engine(running=(names(project)["stable"], names(project)["canary"]))
    target = target_on(project, engine, mode="canary")
    before = project.manifest_path.read_bytes()
    reporter = quiet()
    flows.rollback(project, target, reporter, Options(check=True))
    assert project.manifest_path.read_bytes() == before
    assert not [c for c in engine.commands if CHANGES.search(c)], engine.commands
    assert {r.task for r in reporter.results} >= {"traffic", "remove canary"}
    assert all(r.status in ("changed", "ok", "skipped") for r in reporter.results), reporter.results


def test_starting_a_track_that_runs_from_the_same_config_and_image_runs_no_compose(project, monkeypatch):
    """A promotion whose stable already runs the canary's config and image only waits for its health:
    `up` of the service would find nothing to do, so it is not asked (about 0.1 s)."""
    from swiftlib.lifecycle import track_steps

    stable, nginx = names(project)["stable"], project.manifest.nginx.container_name
    (project.root / "docker-compose.yml").write_text(f"services:\n  app:\n    image: {project.manifest.services.image}\n")

    def engine_running(image_id: str) -> MockContext:
        return MockContext(run={
            re.compile(r"^docker compose .* config --hash"): Result("app h1\n"),
            re.compile(r"^sh -c .*docker image inspect"): Result(f"{image_id}\n"),
            re.compile(r"^docker inspect --format .*config-hash.* " + stable + "$"): Result(f"/{stable}|running|h1|sha256:1|healthy\n"),
            inspect_state(stable): Result("running healthy\n"),
            inspect_state(nginx): Result("running healthy\n"),
            re.compile(r"^docker compose .* up -d --no-deps app$"): Result(""),
        }, repeat=True)

    def ups(ctx: MockContext) -> list[str]:
        return [call.args[0] for call in ctx.run.call_args_list if " up -d " in call.args[0]]

    monkeypatch.setattr(track_steps, "wait_track_healthy", lambda target, spec: None)
    same = engine_running("sha256:1")
    result = track_steps.start(project, Target.local(project, Host.local(same)), quiet(), "stable", Options())
    assert (result.status, result.msg) == ("ok", f"{stable} healthy (stable, version {project.manifest.services.version})")
    assert ups(same) == []
    asked = [call.args[0] for call in same.run.call_args_list
             if inspect_state(stable).match(call.args[0]) and "State.Health" in call.args[0]]
    assert len(asked) == 1, asked  # whether it runs is read once (over SSH, each read is a round trip)
    rebuilt = engine_running("sha256:2")  # the same tag, another image: compose would recreate it
    assert track_steps.start(project, Target.local(project, Host.local(rebuilt)), quiet(), "stable",
                             Options()).status == "changed"
    assert len(ups(rebuilt)) == 1


def test_a_promotion_asks_compose_for_the_promoted_files_hash_while_the_window_is_waited_out(project):
    """The first question after the window (the promoted compose file's config hash, 0.1 s of compose)
    is asked at the start of its wait; after the window the runtime answers it from the same text
    without compose."""
    from swiftlib import interrupt
    from swiftlib.lifecycle import promotion
    from swiftlib.lifecycle.engine_choice import choose_engine

    hashes = re.compile(r"^docker compose .* config --hash")
    ctx = MockContext(run={hashes: Result("app h1\napp-canary h2\nnginx h3\n"),
                           re.compile(r"^docker image inspect "): Result("sha256:9\n"),  # the OPA image is here
                           re.compile(r"^sh -c .*docker image inspect"): Result("sha256:1\nsha256:2\n")}, repeat=True)
    target = Target.local(project, Host.local(ctx))
    target.write_state(engine="embedded")  # chosen at deploy

    def asked() -> int:
        return sum(bool(hashes.match(call.args[0])) for call in ctx.run.call_args_list)

    slept: list[tuple[float, int]] = []
    wait = interrupt.sleep_after(lambda: promotion.warm_up(project, target), lambda s: slept.append((s, asked())))
    wait(4.0)  # the window
    assert len(slept) == 1 and 0 < slept[0][0] <= 4.0 and slept[0][1] == 1  # asked first, then the rest slept
    from swiftlib.policy.embedded import shared_engine

    assert "canary" in shared_engine(project.policies_dir)._bundles  # the gate's plan compiled during the wait too
    canary = project.manifest.canary
    text = promotion._promoted_compose(project, target, choose_engine(target),
                                       {"image": canary.image, "version": canary.version})
    assert target.runtime.config_hashes("app", text)["app"].split()[0] == "h1"
    assert asked() == 1  # answered from the warm-up


def test_a_warm_up_that_fails_leaves_the_question_to_the_promotion(project):
    from swiftlib.lifecycle import promotion

    ctx = MockContext(run={re.compile(r"^docker compose .* config --hash"): Result("", stderr="boom", exited=1),
                           re.compile(r"^docker image inspect "): Result("sha256:9\n"),
                           re.compile(r"^sh -c .*docker image inspect"): Result("sha256:1\n")}, repeat=True)
    target = Target.local(project, Host.local(ctx))
    promotion.warm_up(project, target)  # says nothing: the promotion reports what fails
    assert target.runtime.config_hashes("app", "services: {}\n") == {}  # asked again, and fails as compose says
    assert sum("config --hash" in call.args[0] for call in ctx.run.call_args_list) == 2



def test_removing_a_track_already_gone_changes_nothing_and_records_nothing(project):
    """The removal asks Docker to stop the container without reading its state first; Docker's own "No such
    container" answers for an absent one: no rm, no audit record, no step reported."""
    from swiftlib.lifecycle import track_steps

    engine = Engine()
    canary = names(project)["canary"]
    engine.ctx.set_result_for("run", re.compile(rf"^docker stop --time \d+ {re.escape(canary)}$"),
                              Result("", stderr=f"Error response from daemon: No such container: {canary}", exited=1))
    reporter = quiet()
    assert track_steps.remove(project, target_on(project, engine), reporter, "canary", Options()) is None
    assert [c for c in engine.commands if CHANGES.search(c)] == [f"docker stop --time 10 {canary}"]
    log = Path(project.audit.path)
    assert reporter.results == [] and (not log.exists() or "track_removed" not in log.read_text())


def test_removing_a_running_track_stops_it_then_removes_it_and_says_so(project):
    from swiftlib.lifecycle import track_steps

    engine = Engine(running=(names(project)["canary"],))
    canary = names(project)["canary"]
    for argv in (rf"^docker stop --time \d+ {re.escape(canary)}$", rf"^docker rm --force {re.escape(canary)}$"):
        engine.ctx.set_result_for("run", re.compile(argv), Result(canary + "\n"))
    reporter = quiet()
    done = track_steps.remove(project, target_on(project, engine), reporter, "canary", Options())
    assert done.status == "changed" and "drained and removed" in done.msg
    assert [c for c in engine.commands if CHANGES.search(c)] == [f"docker stop --time 10 {canary}",
                                                                 f"docker rm --force {canary}"]
