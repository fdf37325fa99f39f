"""Image transfer without a registry: docker save | ssh | docker load, on the real engine.

Every "remote host" here is this machine, so both ends share one engine. The tests
therefore check the pieces against it: the ID comparison (a host that has the
image answers ``ok`` and nothing is sent), the byte stream through SSH into
``docker load`` (an image removed from the engine comes back with the same ID),
and ``stream_image`` end to end.
"""
from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import tarfile
from pathlib import Path

import pytest

from swiftlib.errors import CommandFailed
from swiftlib.host import Host
from swiftlib.remote.channel import open_output, run_bytes
from swiftlib.remote.images import ensure_image, image_id, stream_image
from tests.integration.sshd import client_key, known_hosts, remote_host, sshd_factory  # noqa: F401

pytestmark = [pytest.mark.sshd, pytest.mark.docker]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def tiny_image(tmp_path: Path):
    """A ~2 MB image made offline (docker import of one random file), removed afterwards."""
    name = f"sdtest-tiny:{secrets.token_hex(4)}"
    (tmp_path / "payload.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    archive = tmp_path / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "payload.bin", arcname="payload.bin")
    subprocess.run(["docker", "import", str(archive), name], check=True, capture_output=True)
    yield name
    docker("rmi", "-f", name, check=False)


def test_same_image_on_both_engines_is_ok(remote_host, tiny_image: str) -> None:
    calls: list[tuple[int, float]] = []
    assert ensure_image(Host.local(), remote_host, tiny_image, lambda b, s: calls.append((b, s))) == "ok"
    assert calls == []  # nothing was sent


def test_removed_image_is_restored_through_ssh(remote_host, tiny_image: str) -> None:
    wanted = image_id(Host.local(), tiny_image)
    source = open_output(Host.local(), shlex.join(["docker", "save", tiny_image]))
    chunks = []
    while data := source.read():
        chunks.append(data)
    assert source.finish()[0] == 0
    docker("rmi", tiny_image)
    assert image_id(remote_host, tiny_image) is None  # the "remote" lacks it now
    result = run_bytes(remote_host, "docker load", chunks)
    assert result.exited == 0, result.stderr
    assert tiny_image.encode() in result.stdout
    assert image_id(remote_host, tiny_image) == wanted  # same ID: the next ensure_image says ok


def test_stream_image_reports_bytes_and_seconds(remote_host, tiny_image: str) -> None:
    size = len(subprocess.run(["docker", "save", tiny_image], capture_output=True, check=True).stdout)
    calls: list[tuple[int, float]] = []
    sent = stream_image(Host.local(), remote_host, tiny_image, lambda b, s: calls.append((b, s)))
    assert sent == size > 2 * 1024 * 1024
    assert calls[-1][0] == size and calls[-1][1] > 0


def test_missing_local_image_says_build_it(remote_host) -> None:
    with pytest.raises(CommandFailed, match="build it first"):
        ensure_image(Host.local(), remote_host, f"sdtest-absent:{secrets.token_hex(4)}")


def test_failed_load_is_reported_for_the_remote(remote_host, tiny_image: str) -> None:
    result = run_bytes(remote_host, "docker load", b"this is not a tar archive")
    assert result.exited != 0 and result.stderr


def test_every_image_id_comes_in_the_order_asked_whether_or_not_one_is_missing(remote_host, tiny_image: str) -> None:
    """One `docker image inspect` answers when the engine has every image; with one missing, each is asked
    alone and the missing one is None, the others keep their place (here and over SSH alike)."""
    from swiftlib.remote.images import image_ids

    tiny, nginx = image_id(Host.local(), tiny_image), image_id(Host.local(), "nginx:stable")
    assert tiny and nginx and tiny != nginx
    for host in (Host.local(), remote_host):
        assert image_ids(host, ["nginx:stable", tiny_image]) == {"nginx:stable": nginx, tiny_image: tiny}
        assert image_ids(host, [tiny_image, "sdtest-absent:0", "nginx:stable"]) == {
            tiny_image: tiny, "sdtest-absent:0": None, "nginx:stable": nginx}
