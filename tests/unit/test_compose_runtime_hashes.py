"""The compose runtime asks compose for the config hashes once per compose text in a run.

A deploy with nothing to change asks for one track's hash (blue/green decision), then for every
service's (what `up` would do): one `docker compose config --hash '*'` answers both.
"""
from __future__ import annotations

import re

import pytest
from invoke import MockContext, Result

from swiftlib.host import Host
from swiftlib.lifecycle.context import Project, Target

COMPOSE = "services:\n  app:\n    image: swiftdeploy-app:1.0.0\n  nginx:\n    image: nginx:stable\n"
HASH = re.compile(r"docker compose .* config --hash")


@pytest.fixture
def ctx() -> MockContext:
    return MockContext(run={HASH: Result("app aaa\nnginx nnn"),
                            # image IDs in sorted image order: nginx:stable, swiftdeploy-app:1.0.0
                            re.compile(r"^sh -c .*docker image inspect"): Result("sha256:nginx\nsha256:app\n")},
                       repeat=True)


@pytest.fixture
def target(project: Project, ctx) -> Target:
    return Target.local(project, Host.local(ctx))


def hash_calls(ctx: MockContext) -> list[str]:
    return [c.args[0] for c in ctx.run.call_args_list if HASH.search(c.args[0])]


def test_one_track_then_every_service_is_one_compose_call(target, ctx) -> None:
    assert target.runtime.config_hashes("app", COMPOSE) == {"app": "aaa sha256:app"}
    assert target.runtime.config_hashes("*", COMPOSE) == {"app": "aaa sha256:app", "nginx": "nnn sha256:nginx"}
    assert len(hash_calls(ctx)) == 1 and hash_calls(ctx)[0].endswith("config --hash '*'")


def test_another_compose_text_is_asked_again(target, ctx) -> None:
    target.runtime.config_hashes("app", COMPOSE)
    target.runtime.config_hashes("app", COMPOSE.replace("1.0.0", "1.1.0"))
    assert len(hash_calls(ctx)) == 2


def test_a_failed_answer_is_not_remembered(target, ctx) -> None:
    ctx.set_result_for("run", HASH, Result("", stderr="no such file", exited=1))
    assert target.runtime.config_hashes("app", COMPOSE) == {}
    ctx.set_result_for("run", HASH, Result("app aaa\nnginx nnn"))
    assert target.runtime.config_hashes("app", COMPOSE) == {"app": "aaa sha256:app"}
    assert len(hash_calls(ctx)) == 2


def test_the_same_text_on_stdin_or_in_the_file_is_asked_once(target, ctx, tmp_path) -> None:
    """A promotion asks with the text it will write (stdin), then again once written (the file)."""
    target.runtime.config_hashes("app", COMPOSE)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    assert target.runtime.config_hashes("*") == {"app": "aaa sha256:app", "nginx": "nnn sha256:nginx"}
    assert len(hash_calls(ctx)) == 1
