"""Whether `docker compose up` of every service would change anything, decided as compose v2 decides it:
the config-hash and image labels against the service's hash and its image's ID, the container's
state, and containers of the project that no service names. Fixtures are what Docker 20.10 and
compose 2.26 printed for a running stack."""
from __future__ import annotations

import yaml

from swiftlib.runtime.compose_state import (Observed, Planned, ended_for_good, identities, parse_observed, pending,
                                            planned_services, service_images)

APP_HASH = "8f6353195d6638cda8701756fa93b609a9d533856d1093680656f883e2be273c"
NGINX_HASH = "e4208c67f2951ab3b6eb163144d597b02319d0e3ca6e8ab689454dd722f9135b"
APP_IMAGE = "sha256:eb32ee0ae4d22a75e98f71b3701ee1f9e39b5686f11c05d83f85467563252870"
NGINX_IMAGE = "sha256:ed910021a0f6d01eaa24c67e12a34df1798f927dd964a035b58323d31fa5553a"
INSPECTED = (f"/sdprof-app|running|{APP_HASH}|{APP_IMAGE}\n"
             f"/sdprof-nginx|running|{NGINX_HASH}|{NGINX_IMAGE}\n")
COMPOSE = yaml.safe_load("""
services:
  app:
    image: swiftdeploy-app:1.0.0
    container_name: sdprof-app
  nginx:
    image: nginx:stable
    container_name: sdprof-nginx
""")
PLANNED = planned_services(COMPOSE)
IMAGES = {"swiftdeploy-app:1.0.0": APP_IMAGE, "nginx:stable": NGINX_IMAGE}
HASHED = f"app {APP_HASH}\nnginx {NGINX_HASH}"  # `docker compose config --hash '*'` (no final newline)
HASHES = identities(HASHED, service_images(COMPOSE), IMAGES)
RUNNING = ["sdprof-app", "sdprof-nginx"]


def test_a_service_is_current_when_its_config_hash_and_image_id_are_what_its_container_was_made_from():
    assert HASHES == {"app": f"{APP_HASH} {APP_IMAGE}", "nginx": f"{NGINX_HASH} {NGINX_IMAGE}"}
    assert {name: seen.identity for name, seen in parse_observed(INSPECTED).items()} == {
        "sdprof-app": HASHES["app"], "sdprof-nginx": HASHES["nginx"]}
    assert identities(HASHED, service_images(COMPOSE), {}) == {"app": APP_HASH, "nginx": NGINX_HASH}


def test_a_stack_as_compose_left_it_needs_nothing():
    assert PLANNED == {"app": Planned("sdprof-app", "swiftdeploy-app:1.0.0"),
                       "nginx": Planned("sdprof-nginx", "nginx:stable")}
    assert pending(PLANNED, HASHES, parse_observed(INSPECTED), RUNNING) == []


def test_each_thing_compose_would_act_on_is_named():
    observed = parse_observed(INSPECTED)
    assert pending(PLANNED, {**HASHES, "nginx": f"{'0' * 64} {NGINX_IMAGE}"}, observed, RUNNING) == [
        "sdprof-nginx: its configuration changed"]
    rebuilt = identities(HASHED, service_images(COMPOSE), {**IMAGES, "swiftdeploy-app:1.0.0": "sha256:feed"})
    assert pending(PLANNED, rebuilt, observed, RUNNING) == ["sdprof-app: swiftdeploy-app:1.0.0 is another image now"]
    stopped = {**observed, "sdprof-nginx": Observed("exited", NGINX_HASH, NGINX_IMAGE)}
    assert pending(PLANNED, HASHES, stopped, RUNNING) == ["sdprof-nginx: exited"]
    gone = {"sdprof-nginx": observed["sdprof-nginx"]}
    assert pending(PLANNED, HASHES, gone, ["sdprof-nginx"]) == ["sdprof-app: not created"]
    assert pending(PLANNED, HASHES, observed, [*RUNNING, "sdprof-app-canary"]) == [
        "sdprof-app-canary: no service names it (an orphan)"]


def test_what_could_not_be_read_counts_as_a_change():
    """A hash compose did not print or an image whose ID is unknown: only compose can tell, so `up` runs."""
    observed = parse_observed(INSPECTED)
    assert pending(PLANNED, {"nginx": HASHES["nginx"]}, observed, RUNNING) == ["sdprof-app: its configuration changed"]
    unknown = identities(HASHED, service_images(COMPOSE), {})
    assert pending(PLANNED, unknown, observed, RUNNING) == [
        "sdprof-app: swiftdeploy-app:1.0.0 is another image now", "sdprof-nginx: nginx:stable is another image now"]
    unlabelled = parse_observed("/sdprof-app|running||\n" + INSPECTED.splitlines()[1])
    assert pending(PLANNED, HASHES, unlabelled, RUNNING) == ["sdprof-app: its configuration changed"]


def test_a_file_only_compose_can_judge_is_not_planned():
    for spec in ({"image": "x"}, {"container_name": "c"}, {"container_name": "c", "image": "x", "build": "."},
                 {"container_name": "c", "image": "x", "scale": 2}, {"container_name": "c", "image": "x", "profiles": ["p"]}):
        assert planned_services({"services": {"s": spec}}) is None, spec
    assert planned_services({}) is None and planned_services({"services": {}}) is None
    assert planned_services([]) is None


def test_garbage_lines_are_not_containers():
    assert parse_observed("Error: No such object: sdprof-nope\n\n|a|b|c\n") == {}


# `docker inspect --format ENDED_FORMAT` as Docker 20.10 printed it: a running container, one `docker
# kill`ed (unless-stopped: it stays down), one that exited by itself under unless-stopped (Docker restarts
# it), one that exited under `restart: no`, one the kernel killed at its memory limit, then "No such object".
ENDED = ("/sdt-run running 0 false\n/sdt-kill exited 137 false\n/sdt-crash restarting 3 false\n"
         "/sdt-no exited 3 false\n/sdt-oom exited 137 true\n")


def test_only_a_container_docker_will_not_start_again_has_ended():
    assert ended_for_good(ENDED, ["sdt-run", "sdt-crash"], missing=False) is None
    assert ended_for_good(ENDED, ["sdt-run", "sdt-kill"], missing=False) == \
        "sdt-kill has exited with code 137 (killed) and Docker will not restart it"
    assert ended_for_good(ENDED, ["sdt-no"], missing=False) == \
        "sdt-no has exited with code 3 and Docker will not restart it"
    assert ended_for_good(ENDED, ["sdt-oom"], missing=False) == \
        "sdt-oom has exited with code 137 (out of memory: raise its memory limit) and Docker will not restart it"
    assert ended_for_good("/sdt-gone dead 0 false\n", ["sdt-gone"], missing=False).startswith("sdt-gone is dead with code 0")


def test_a_container_the_engine_does_not_know_has_ended_only_when_it_said_so():
    assert ended_for_good(ENDED, ["sdt-run", "sdt-missing"], missing=True) == "sdt-missing does not exist"
    # no answer at all (an engine that could not be asked): nothing is known to have ended
    assert ended_for_good("", ["sdt-run"], missing=False) is None
    # a blank line (a remote shell's noise) is no container, not a crash in the middle of a health wait
    assert ended_for_good("\n" + ENDED, ["sdt-kill"], missing=False).startswith("sdt-kill has exited")


def test_one_inspect_tells_each_containers_state_and_what_it_was_made_from():
    """LOOK_FORMAT's lines, as `docker inspect` prints them for two containers when a third is gone."""
    from swiftlib.runtime.compose_state import parse_looks

    printed = ("/app|running|h1|sha256:1|healthy\n"
               "/app-canary|exited|h2|sha256:2|none\n")
    assert parse_looks(printed, ["app", "app-canary", "app-next"]) == {
        "app": ("running healthy", "h1 sha256:1"),
        "app-canary": ("exited none", "h2 sha256:2"),
        "app-next": ("absent", ""),
    }
    # a container made before compose labelled its image: the hash alone, as running_hash gives it
    assert parse_looks("/app|running||\n/app|running|h1||starting\n", ["app"]) == {"app": ("running starting", "h1")}
