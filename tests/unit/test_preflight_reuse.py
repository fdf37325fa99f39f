"""A deploy's pre-flight answers `nginx -t` and `docker compose config` from an earlier pass of the
same files (same nginx image; same engine and compose versions), and runs them again otherwise.

Invoke's MockContext stands behind the `Host` seam; what is asserted is which checks ran on the
host and what the check lines say.
"""
from __future__ import annotations

import re

import pytest
from invoke import MockContext, Result

from swiftlib.host import Host
from swiftlib.lifecycle import preflight
from swiftlib.lifecycle.context import Project, Target
from swiftlib.render import COMPOSE_FILE

COMPOSE_CONFIG = re.compile(r"^docker compose .* config -q")
NGINX_T = re.compile(r"^docker run --rm .* --entrypoint nginx .* -t ")
IDENTITY = re.compile(r"^docker info --format ")


def engine(compose_version: str = "2.26.1") -> MockContext:
    return MockContext(run={
        IDENTITY: Result(f"20.10.24|{compose_version} /usr/libexec/docker/cli-plugins/docker-compose\n"),
        re.compile(r"^docker image inspect "): Result("sha256:abc\n"),
        COMPOSE_CONFIG: Result(""),
        NGINX_T: Result(""),
        re.compile(r".*"): Result(""),  # ports, names: nothing listens, nothing exists
    }, repeat=True)


def files_of(project: Project) -> dict[str, str]:
    from swiftlib.render import render_all

    return render_all(project.manifest, project.templates_dir, include_opa=False)


def ran(ctx: MockContext, pattern: re.Pattern) -> int:
    return sum(1 for call in ctx.run.call_args_list if pattern.search(call.args[0]))


def checks(project: Project, ctx: MockContext, files: dict[str, str], *, reuse: bool = True) -> dict[str, str]:
    target = Target.local(project, Host.local(ctx))
    found = preflight.host_checks(target, files, reuse=reuse)
    assert all(check.passed for check in found), [check.line() for check in found]
    assert not (project.root / preflight.SCRATCH / COMPOSE_FILE).exists()  # scratch copies removed
    return {check.name: check.reason for check in found}


def test_a_second_deploy_of_the_same_files_answers_both_from_the_first_pass(project) -> None:
    files, ctx = files_of(project), engine()
    checks(project, ctx, files)
    assert (ran(ctx, COMPOSE_CONFIG), ran(ctx, NGINX_T)) == (1, 1)
    said = checks(project, ctx, files)
    assert (ran(ctx, COMPOSE_CONFIG), ran(ctx, NGINX_T)) == (1, 1)
    assert said["docker compose config"].endswith("(the same file passed it before)")
    assert said["nginx -t"].endswith("(the same files passed it there before)")
    assert said["docker engine"] == "Docker 20.10.24 answers on local"


def test_another_compose_file_or_another_compose_version_is_checked_again(project) -> None:
    files = files_of(project)
    checks(project, engine(), files)
    changed = {**files, COMPOSE_FILE: files[COMPOSE_FILE] + "# edited\n"}
    ctx = engine()
    assert "passed it before" not in checks(project, ctx, changed)["docker compose config"]
    upgraded = engine(compose_version="2.27.0")
    assert "passed it before" not in checks(project, upgraded, changed)["docker compose config"]
    assert ran(ctx, COMPOSE_CONFIG) == ran(upgraded, COMPOSE_CONFIG) == 1


def test_validate_and_check_mode_always_run_the_checks(project) -> None:
    files, ctx = files_of(project), engine()
    checks(project, ctx, files)
    checks(project, ctx, files, reuse=False)
    assert (ran(ctx, COMPOSE_CONFIG), ran(ctx, NGINX_T)) == (2, 2)


def test_a_refused_compose_file_is_not_remembered(project) -> None:
    files, ctx = files_of(project), engine()
    ctx.set_result_for("run", COMPOSE_CONFIG, Result("", stderr="services.app: bad", exited=15))
    target = Target.local(project, Host.local(ctx))
    refused = {c.name: c for c in preflight.host_checks(target, files, reuse=True)}["docker compose config"]
    assert not refused.passed and "services.app: bad" in refused.reason
    ctx.set_result_for("run", COMPOSE_CONFIG, Result(""))
    assert "passed it before" not in checks(project, ctx, files)["docker compose config"]
    assert ran(ctx, COMPOSE_CONFIG) == 2


@pytest.mark.parametrize("cut", ["engine_check", "image_check"])  # while the copies are written; a probe
def test_ctrl_c_during_the_checks_leaves_no_scratch_copy(project, monkeypatch, cut) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(preflight, cut, interrupted)
    target = Target.local(project, Host.local(engine()))
    with pytest.raises(KeyboardInterrupt):
        preflight.host_checks(target, files_of(project), reuse=True)
    scratch = project.root / preflight.SCRATCH
    assert not [path for path in scratch.rglob("*") if path.is_file()], list(scratch.rglob("*"))
