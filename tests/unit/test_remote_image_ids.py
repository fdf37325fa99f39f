"""Every image's ID on a host in one round trip: what `prepare host` compares before shipping any."""
from __future__ import annotations

import re

from invoke import MockContext, Result

from swiftlib.host import Host
from swiftlib.remote.images import image_ids


def test_each_image_gets_its_id_or_none_in_order():
    ctx = MockContext(run={re.compile(r"^sh -c 'ids=\$\(docker image inspect"): Result("sha256:aa\n-\nsha256:cc\n")})
    assert image_ids(Host.local(ctx), ["app:1", "missing:1", "nginx:stable"]) == {
        "app:1": "sha256:aa", "missing:1": None, "nginx:stable": "sha256:cc"}


def test_a_host_that_answered_nothing_has_none_of_them():
    ctx = MockContext(run={re.compile(r"^sh -c "): Result("", exited=255)})
    assert image_ids(Host.local(ctx), ["app:1", "nginx:stable"]) == {"app:1": None, "nginx:stable": None}
    assert image_ids(Host.local(MockContext()), []) == {}
