"""Real OpenSSH servers for tests: Debian's sshd on loopback addresses, with keys made here.

``SshdServer(directory, address)`` generates an ed25519 host key, writes an
sshd_config that trusts one client key, starts ``sshd -D -e`` and waits until it
speaks SSH. Several servers on 127.0.0.2, 127.0.0.3, ... play several "remote
hosts"; all of them are this machine, so their Docker engine is this machine's.

``home`` gives the login its own ``$HOME`` (sshd's ``SetEnv HOME=...``), a directory made
here: SwiftDeploy puts a host's project directory (``deploy.remote_dir``, a path relative to
that home) below it, so every test server has a home of its own and the test can look at the
files under ``<home>/<remote_dir>``. Without ``home`` the login keeps the user's real home.

Fixtures: ``client_key`` (session: one ed25519 key pair), ``sshd_factory``
(starts servers, each with its own login home, and stops them at the end of the test) and
``known_hosts`` (a fresh, empty known_hosts path per test).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

SSHD = shutil.which("sshd") or shutil.which("sshd", path=os.pathsep.join(["/usr/sbin", "/sbin"])) or "sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public_line: str  # "ssh-ed25519 AAAA... comment"


def keygen(path: Path, comment: str = "swiftdeploy-test") -> KeyPair:
    """An ed25519 key pair without passphrase at ``path`` / ``path.pub``."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    return KeyPair(path, path.with_suffix(".pub").read_text().strip())


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def closed_port(address: str = "127.0.0.1") -> int:
    """A port nothing listens on (connection refused), for unreachable-host tests."""
    return free_port(address)


class SshdServer:
    """One sshd process; ``start()`` returns once it answers with an SSH banner."""

    def __init__(self, directory: Path, address: str, client: KeyPair, *, port: int | None = None,
                 home: Path | None = None) -> None:
        self.dir = directory
        self.address = address
        self.client = client
        self.port = port or free_port(address)
        self.home = home  # the login's $HOME (None: the user's own)
        self.dir.mkdir(parents=True, exist_ok=True)
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.dir / "ssh_host_ed25519_key", comment=f"host-{address}")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "sshd.log"

    @property
    def host_spec(self) -> str:
        return f"root@{self.address}:{self.port}"

    def known_hosts_line(self) -> str:
        """This server's key as ssh writes it into known_hosts."""
        name = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        keytype, blob = self.host_key.public_line.split()[:2]
        return f"{name} {keytype} {blob}"

    def regenerate_host_key(self) -> None:
        """A new host key (the server "changed"); takes effect at the next start()."""
        for suffix in ("", ".pub"):
            Path(f"{self.host_key.private}{suffix}").unlink()
        self.host_key = keygen(self.dir / "ssh_host_ed25519_key", comment=f"host-{self.address}")

    def _write_config(self) -> Path:
        authorized = self.dir / "authorized_keys"
        authorized.write_text(self.client.public_line + "\n")
        config = self.dir / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {self.host_key.private}",
            f"AuthorizedKeysFile {authorized}",
            f"PidFile {self.dir / 'sshd.pid'}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "AllowTcpForwarding yes",
            "MaxSessions 64",
            "MaxStartups 64:30:128",
            "LogLevel ERROR",
            f"Subsystem sftp {SFTP_SERVER}",
            *([f"SetEnv HOME={self.home}"] if self.home is not None else []),
            "",
        ]))
        return config

    def start(self, timeout: float = 10.0) -> "SshdServer":
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
        config = self._write_config()
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([SSHD, "-f", str(config), "-D", "-e"], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd on {self.address}:{self.port} did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return keygen(tmp_path_factory.mktemp("sshclient") / "id_ed25519", comment="swiftdeploy-client")


@pytest.fixture
def sshd_factory(tmp_path: Path, client_key: KeyPair) -> Iterator[Callable[..., SshdServer]]:
    """``sshd_factory(n)`` starts an sshd on 127.0.0.<n+1> whose login has its own ``$HOME``
    (``home``, by default ``tmp_path/home<n>``; ``server.home``); all stop after the test."""
    servers: list[SshdServer] = []

    def start(n: int = 1, home: Path | None = None) -> SshdServer:
        server = SshdServer(tmp_path / f"sshd{n}", f"127.0.0.{n + 1}", client_key,
                            home=home or tmp_path / f"home{n}").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def known_hosts(tmp_path: Path) -> Path:
    return tmp_path / "known_hosts"


def host_spec(server: SshdServer, name: str | None = None):
    """The swiftlib HostSpec that reaches ``server`` as root with the test client key."""
    from swiftlib.remote.connect import HostSpec

    return HostSpec(name or f"{server.address}:{server.port}", server.address, server.port, "root",
                    str(server.client.private))


@pytest.fixture
def remote_host(sshd_factory: Callable[..., SshdServer], known_hosts: Path):
    """A connected ``Host`` on one fresh sshd (127.0.0.2, login home ``tmp_path/home1``);
    closed after the test."""
    from swiftlib.remote.connect import connect

    server = sshd_factory(1)
    host = connect(host_spec(server, "remote1"), connect_timeout=5, accept_new_host_keys=True,
                   known_hosts=str(known_hosts))
    yield host
    host.connection.close()
