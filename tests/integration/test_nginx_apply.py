"""The one exec that checks, reloads and drains nginx (`commands.nginx_apply`), run in a real nginx
container, read as the compose runtime reads it (`nginx_apply.parse`)."""
from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest

from swiftlib import commands
from swiftlib.runtime import nginx_apply
from tests.integration.stack import docker

pytestmark = pytest.mark.docker

# Requests to /slow are held 3 s by a backend in the same container (limit_rate on a 3 KB file):
# an old worker has a request in flight when the reload comes.
SLOW_SITE = """server {
    listen 8080;
    location / { return 200 "ok\\n"; }
    location /slow { proxy_pass http://127.0.0.1:8081/big.txt; }
}
server {
    listen 8081;
    location / { limit_rate 1k; root /usr/share/nginx/html; }
}
"""


@pytest.fixture
def nginx() -> str:
    name = f"sdtest-apply-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "nginx:stable")
    try:
        docker("exec", name, "sh", "-c", f"head -c 3072 /dev/zero > /usr/share/nginx/html/big.txt; "
                                         f"printf '%s' '{SLOW_SITE}' > /etc/nginx/conf.d/default.conf")
        docker("exec", name, "nginx", "-s", "reload")
        time.sleep(0.5)
        yield name
    finally:
        docker("rm", "-f", name, check=False)


def apply(container: str, drain_wait: float | None) -> tuple[subprocess.CompletedProcess, nginx_apply.ScriptOutput]:
    done = subprocess.run(commands.nginx_apply(container, drain_wait), capture_output=True, text=True, timeout=60)
    return done, nginx_apply.parse(done.stdout)


def workers(container: str) -> set[str]:
    return set(docker("exec", container, "sh", "-c", commands.NGINX_WORKERS_SCRIPT).split())


def test_an_accepted_config_is_reloaded_and_its_old_workers_waited_for(nginx):
    before = workers(nginx)
    done, out = apply(nginx, drain_wait=5.0)
    assert done.returncode == 0, done.stderr
    assert out.stages == ("tested", "reloaded") and out.old == before and out.left == frozenset()
    assert not workers(nginx) & before  # new workers serve


def test_a_worker_holding_a_request_is_named_until_it_finishes(nginx):
    before = workers(nginx)
    answered: list[int] = []
    asker = threading.Thread(target=lambda: answered.append(subprocess.run(
        ["docker", "exec", nginx, "curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:8080/slow"],
        capture_output=True, timeout=30).returncode))
    asker.start()
    time.sleep(0.8)  # the request is in flight on an old worker
    done, out = apply(nginx, drain_wait=0.2)
    assert out.stages == ("tested", "reloaded") and out.old == before
    assert out.left and out.left <= before  # still finishing the held request after 0.2 s
    left = subprocess.run(commands.nginx_workers_left(nginx, sorted(out.left), 10), capture_output=True, text=True)
    assert left.stdout.split() == []  # gone once it was answered
    asker.join(30)
    assert answered == [0]  # and answered in full


def test_a_refused_config_is_not_reloaded_and_says_why(nginx):
    before = workers(nginx)
    docker("exec", nginx, "sh", "-c", "echo 'junk;' >> /etc/nginx/conf.d/default.conf")
    done, out = apply(nginx, drain_wait=2.0)
    assert done.returncode == 1 and out.stages == ()
    assert 'unknown directive "junk"' in done.stderr
    assert workers(nginx) == before  # no reload: the old workers serve on


def test_a_stopped_nginx_answers_no_stage(nginx):
    docker("stop", nginx)
    done, out = apply(nginx, drain_wait=2.0)
    assert done.returncode != 0 and out.stages == () and "is not running" in done.stderr


def test_a_reload_that_fails_after_an_accepted_check_stops_at_that_stage(nginx):
    """nginx -s reload finds the master through its pid file: without it the check passes and the reload
    fails, and the output says which (the runtime reports it as a failed `nginx -s reload`)."""
    before = workers(nginx)
    docker("exec", nginx, "rm", "-f", "/run/nginx.pid")
    done, out = apply(nginx, drain_wait=2.0)
    assert done.returncode != 0 and out.stages == ("tested",) and out.old == before
    assert "nginx.pid" in done.stderr
    assert workers(nginx) == before  # not reloaded: the old workers serve on
