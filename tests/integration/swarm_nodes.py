"""Swarm nodes for tests: docker-in-docker containers with their own dockerd and sshd, on one network.

The node image is made without Docker Hub: the debootstrap root filesystem SwiftDeploy already caches
(swiftlib/bootstrap/rootfs.py, the same recipe machinery `inv bootstrap` uses) plus Debian's docker.io
and openssh-server, imported as ``NODE_IMAGE``. It is built once and kept (its recipe digest is a
label, so a changed recipe rebuilds it); a second session reuses it in a second.

A "bare" node (``SwarmNodes(..., bare=True)``) plays a fresh Debian 12 server for `inv bootstrap --hosts`:
only openssh-server and sudo (no Docker engine), sshd in front, the same docker-in-docker flags so the
engine that bootstrap installs can run there. Its image (``BARE_IMAGE``) is made the same way, and it
keeps no ``policy-rc.d``, so package scripts may start services as they would on a server.

``SwarmNodes(prefix, count, client_key)`` starts ``count`` nodes on a Docker network of its own, each
trusting the tests' client key for root over SSH, and reachable from this machine at its address on
that network (a bridge network's addresses are routed from the host). Each node generates its own SSH
host key at start; ``known_hosts_lines()`` reads them through ``docker exec``, so the client checks
keys as it would with real servers. ``close()`` removes the containers, their /var/lib/docker volumes
and the network: only objects carrying this run's label.

Docker-in-docker without --privileged (refused on these machines): every capability but
SYS_RESOURCE, no seccomp or AppArmor profile, the host's cgroup tree, a tmpfs /run and a volume for
/var/lib/docker (overlay2 cannot stack on the container's own overlay root).
"""
from __future__ import annotations

import fcntl
import json
import secrets
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.integration.sshd import KeyPair

NODE_IMAGE = "sdswarm/node:bookworm"
NODE_PACKAGES = ("docker.io", "openssh-server", "iproute2", "procps")
BARE_IMAGE = "sdbare/node:bookworm"
BARE_PACKAGES = ("openssh-server", "sudo")
RUN_LABEL = "org.swiftdeploy.test-run"  # every container, volume and network a run makes carries it
DIND_FLAGS = (
    "--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup", "--tmpfs", "/run", "--tmpfs", "/tmp",
)
# The node's whole start: a host key of its own, sshd trusting $AUTHORIZED_KEY, then dockerd in front.
NODE_START = "; ".join([
    "set -e",
    "mkdir -p /run/sshd /root/.ssh",
    "chmod 700 /root/.ssh",
    'printf "%s\\n" "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys',
    "ssh-keygen -A -q",
    "/usr/sbin/sshd -e -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no",
    "exec dockerd --host=unix:///var/run/docker.sock >/var/log/dockerd.log 2>&1",
])
# A bare node: the same SSH set-up, sshd in front; nothing else runs until bootstrap installs it.
BARE_START = "; ".join([
    "set -e",
    "mkdir -p /run/sshd /root/.ssh",
    "chmod 700 /root/.ssh",
    'printf "%s\\n" "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys',
    "ssh-keygen -A -q",
    "exec /usr/sbin/sshd -D -e -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no",
])


def _recipe(packages, start: str, description: str, tweak: str):
    from swiftlib.bootstrap.commands import STANDARD_PATH
    from swiftlib.bootstrap.rootfs import Recipe

    return Recipe(
        packages=packages,
        changes=(f"ENV PATH={STANDARD_PATH}", "ENV LANG=C.UTF-8", f"CMD {json.dumps(['/bin/sh', '-c', start])}"),
        labels=(("org.opencontainers.image.description", description),),
        tweaks=(("sh", "-c", tweak),),
    )


def node_recipe():
    # The package's postinst made host keys in the build: every node must make its own.
    return _recipe(NODE_PACKAGES, NODE_START,
                   "SwiftDeploy test Swarm node: Debian bookworm with docker.io and openssh-server",
                   "rm -f {root}/etc/ssh/ssh_host_*")


def bare_recipe():
    """A fresh Debian 12 server as far as bootstrap can tell: sshd and sudo, no Docker engine."""
    # Own host keys per node, as above; and no policy-rc.d left from the image build, so a
    # package's scripts may start its service, as on a server.
    return _recipe(BARE_PACKAGES, BARE_START,
                   "SwiftDeploy test bare node: Debian bookworm with openssh-server and sudo only",
                   "rm -f {root}/etc/ssh/ssh_host_* {root}/usr/sbin/policy-rc.d")


def ensure_node_image(progress=lambda text: None, *, bare: bool = False) -> str:
    """``NODE_IMAGE`` (or ``BARE_IMAGE``), built from Debian packages when missing or made from another recipe."""
    from swiftlib.bootstrap.rootfs import RECIPE_LABEL, import_image, inspect_image
    from swiftlib.bootstrap.steps import Apt
    from swiftlib.host import Host

    image, recipe = (BARE_IMAGE, bare_recipe()) if bare else (NODE_IMAGE, node_recipe())
    host = Host.local()
    found = inspect_image(host, image)
    if not (found and found["labels"].get(RECIPE_LABEL) == recipe.digest):
        import_image(host, image, recipe, progress, Apt(host, progress))
    return image


def docker(*args: str, check: bool = True, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=stdin)
    if check and result.returncode:
        raise RuntimeError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr or result.stdout}")
    return result


@dataclass
class Node:
    name: str        # the inventory's name for it, e.g. node1
    container: str   # the Docker container, e.g. sdswarm-1a2b-node1
    address: str = ""

    def sh(self, script: str, *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``script`` inside the node (its own docker CLI talks to its own dockerd)."""
        return docker("exec", self.container, "sh", "-c", script, check=check, timeout=timeout)

    def add_login(self, user: str, client: KeyPair, *, sudo: bool) -> None:
        """A login ``user`` trusting ``client``'s key; ``sudo``: passwordless sudo for everything."""
        lines = [
            f"id -u {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh {user}",
            f"install -d -m 700 -o {user} -g {user} /home/{user}/.ssh",
            f"printf '%s\\n' '{client.public_line}' > /home/{user}/.ssh/authorized_keys",
            f"chown {user}:{user} /home/{user}/.ssh/authorized_keys",
        ]
        if sudo:
            lines.append(f"printf '%s\\n' '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user}")
            lines.append(f"chmod 440 /etc/sudoers.d/{user}")
        self.sh(" && ".join(lines))

    def swarm(self) -> dict:
        """The node's own view: `docker info`'s Swarm section."""
        return json.loads(self.sh("docker info --format '{{json .Swarm}}'").stdout)


class SwarmNodes:
    """``count`` docker-in-docker nodes named node1..nodeN, on one network of their own."""

    def __init__(self, prefix: str, count: int, client: KeyPair, *, bare: bool = False) -> None:
        self.run_id = f"{prefix}-{secrets.token_hex(3)}"
        self.network = self.run_id
        self.client = client
        self.bare = bare  # sshd and sudo only: no Docker engine until `inv bootstrap --hosts` installs one
        self.image = BARE_IMAGE if bare else NODE_IMAGE
        self.nodes = [Node(f"node{i}", f"{self.run_id}-node{i}") for i in range(1, count + 1)]

    def start(self, timeout: float = 90) -> "SwarmNodes":
        ensure_node_image(bare=self.bare)
        docker("network", "create", "--label", f"{RUN_LABEL}={self.run_id}", self.network)
        try:
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(lambda node: self._start(node, timeout), self.nodes))
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, node: Node, timeout: float) -> None:
        docker("run", "-d", "--name", node.container, "--hostname", node.name, "--network", self.network,
               "--label", f"{RUN_LABEL}={self.run_id}", *DIND_FLAGS,
               "--mount", f"type=volume,src={node.container}-docker,dst=/var/lib/docker,"
                          f"volume-label={RUN_LABEL}={self.run_id}",
               "-e", f"AUTHORIZED_KEY={self.client.public_line}", self.image)
        node.address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                              node.container).stdout.strip()
        self.wait_ready(node, timeout)

    def wait_ready(self, node: Node, timeout: float = 90) -> None:
        """Until the node's dockerd answers (a bare node has none) and its sshd greets from this machine."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            engine = self.bare or node.sh("docker info >/dev/null 2>&1", check=False, timeout=30).returncode == 0
            if engine and _greets(node.address):
                return
            time.sleep(0.3)
        log = node.sh("tail -n 20 /var/log/dockerd.log", check=False).stdout
        raise RuntimeError(f"node {node.container} not ready within {timeout}s (dockerd log:\n{log})")

    def known_hosts_lines(self) -> list[str]:
        lines = []
        for node in self.nodes:
            keytype, blob = node.sh("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2]
            lines.append(f"{node.address} {keytype} {blob}")
        return lines

    def __getitem__(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def close(self) -> None:
        """Remove what this run made, found by its label (a container that failed half-way too)."""
        label = f"label={RUN_LABEL}={self.run_id}"
        containers = docker("ps", "-aq", "--filter", label, check=False).stdout.split()
        if containers:
            docker("rm", "-f", "-v", *containers, check=False, timeout=300)
        volumes = docker("volume", "ls", "-q", "--filter", label, check=False).stdout.split()
        if volumes:
            docker("volume", "rm", "-f", *volumes, check=False, timeout=300)
        docker("network", "rm", self.network, check=False)


# Held while a module's nodes exist: with `pytest -n` (make test), test files run at once on several
# workers, and two sets of docker-in-docker nodes would build the node image twice at once and run
# eight dockerds on two cores. A module that wants nodes while another has them waits its turn.
NODES_LOCK = Path(tempfile.gettempdir()) / "swiftdeploy-tests-docker-in-docker.lock"


@contextmanager
def started_nodes(prefix: str, count: int, client: KeyPair, **options) -> Iterator["SwarmNodes"]:
    """``count`` nodes for a module's tests, removed when it is done (the module fixtures' one shape)."""
    with NODES_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        nodes = SwarmNodes(prefix, count, client, **options).start()
        try:
            yield nodes
        finally:
            nodes.close()


def trusting_home(directory, client_key: KeyPair, nodes: "SwarmNodes"):
    """A ``ClientHome`` (the CLI's $HOME) whose known_hosts holds exactly these nodes' host keys."""
    from tests.integration.fleet_env import ClientHome

    client = ClientHome(directory, client_key)
    client.known_hosts.write_text("\n".join(nodes.known_hosts_lines()) + "\n")
    return client


def _greets(address: str, port: int = 22) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False
