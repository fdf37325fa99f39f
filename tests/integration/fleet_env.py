"""Remote Docker hosts for the issue-4 end-to-end tests and scripts/bench_remote.py.

Every "remote host" is this machine behind its own sshd on 127.0.0.x (tests/integration/sshd.py),
sharing this machine's Docker engine; so each host gets its own compose project, container
names, network, volume, ports and project directory through ``swiftdeploy_overrides``.
Each sshd gives its login a ``$HOME`` of its own (``RemoteSshd(..., home=DIR)``): a host's
``deploy.remote_dir`` is relative to that home, so its files land under ``<home>/<remote_dir>``.

The CLI runs as a subprocess, as a user runs it, with ``HOME`` pointing at a ``ClientHome``:
its ``~/.ssh/config`` names the test client key and its ``~/.ssh/known_hosts`` holds the keys
of the servers the test chose to trust (connect.py reads both from ``$HOME``).
"""
from __future__ import annotations

import os
import re
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import SWIFTDEPLOY, REPO
from tests.integration.sshd import KeyPair, SshdServer

FIXTURES = REPO / "tests" / "fixtures" / "remote_fleet"
STANDIN = "swiftdeploy-test/opa-standin:local"
BASE_IMAGE = "swiftdeploy/python-base:bookworm"


class RemoteSshd(SshdServer):
    """An sshd with extras: ``home`` is the login's ``$HOME`` (where ``deploy.remote_dir`` lives),
    ``log_level`` DEBUG1 logs every tunnel channel it opens (so a test can prove a port was
    reached through SSH), ``force_command`` wraps every command it runs."""

    def __init__(self, directory: Path, address: str, client: KeyPair, *, port: int | None = None,
                 home: Path | None = None, log_level: str = "ERROR",
                 force_command: str | None = None) -> None:
        super().__init__(directory, address, client, port=port, home=home)
        self.log_level = log_level
        self.force_command = force_command

    def _write_config(self) -> Path:
        config = super()._write_config()
        text = config.read_text().replace("LogLevel ERROR", f"LogLevel {self.log_level}")
        if self.force_command:
            text += f"ForceCommand {self.force_command}\n"
        config.write_text(text)
        return config

    def tunnels_to(self, port: int) -> int:
        """How many ``direct-tcpip`` channels (ssh -L) this server opened to 127.0.0.1:``port``."""
        if not self.log.exists():
            return 0
        wanted = re.compile(rf"server_request_direct_tcpip: .* target 127\.0\.0\.1 port {port}$")
        return sum(1 for line in self.log.read_text(errors="replace").splitlines() if wanted.search(line))


class ClientHome:
    """A ``$HOME`` for the CLI: ~/.ssh/config with the client key, ~/.ssh/known_hosts."""

    def __init__(self, path: Path, key: KeyPair, trusted: tuple[SshdServer, ...] = (), *,
                 identity: bool = True) -> None:
        self.path = path
        self.key = key
        ssh = path / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
        (ssh / "config").write_text(f"Host *\n  IdentityFile {key.private}\n" if identity else "")
        self.known_hosts.touch()
        for server in trusted:
            self.trust(server)

    @property
    def known_hosts(self) -> Path:
        return self.path / ".ssh" / "known_hosts"

    def trust(self, server: SshdServer) -> None:
        with self.known_hosts.open("a") as fh:
            fh.write(server.known_hosts_line() + "\n")

    def env(self) -> dict[str, str]:
        """This HOME, and no SSH agent: keys come only from what the test set up."""
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        return {**env, "HOME": str(self.path)}

    def inv(self, manifest: Path, task: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """``inv TASK --manifest M ARGS...`` from the project directory, with this HOME."""
        argv = [*SWIFTDEPLOY, task, "--manifest", str(manifest), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=manifest.parent,
                              env=self.env())

    def fab(self, manifest: Path, server: SshdServer, task: str, *args: str,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """``fab -H root@addr:port -i KEY TASK --manifest M ARGS...`` with this HOME."""
        argv = [sys.executable, "-m", "fabric", "-r", str(REPO), "-H", server.host_spec, "-i", str(self.key.private),
                task, "--manifest", str(manifest), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=manifest.parent,
                              env=self.env())

    def connect(self, server: SshdServer, name: str):
        """A swiftlib ``Host`` on ``server``, verified against this HOME's known_hosts."""
        from swiftlib.remote.connect import HostSpec, connect

        spec = HostSpec(name, server.address, server.port, "root", str(self.key.private))
        return connect(spec, connect_timeout=5, known_hosts=str(self.known_hosts))


def stack_overrides(prefix: str, port: int, remote_dir: str) -> dict[str, Any]:
    """``swiftdeploy_overrides`` giving one host its own stack: names, ports, project directory
    (``remote_dir``, relative to the login's home on the host)."""
    if str(remote_dir).startswith("/"):
        raise ValueError(f"remote_dir {remote_dir!r}: give a path relative to the login's home")
    return {
        "services": {"container_name": f"{prefix}-app"},
        "nginx": {"port": port, "admin_port": port + 1, "container_name": f"{prefix}-nginx"},
        "opa": {"port": port + 2, "container_name": f"{prefix}-opa"},
        "network": {"name": f"{prefix}-net"},
        "logs": {"volume_name": f"{prefix}-logs"},
        "deploy": {"project_name": prefix, "remote_dir": str(remote_dir)},
    }


def render_inventory(template: str, dest: Path, **values: object) -> Path:
    """Fill ``tests/fixtures/remote_fleet/<template>`` (``${NAME}`` placeholders) into ``dest``."""
    text = string.Template((FIXTURES / template).read_text()).substitute({k: str(v) for k, v in values.items()})
    dest.write_text(text)
    return dest


def ensure_opa_standin() -> str:
    """The OPA stand-in image (tests/opa_standin), built when this engine lacks it."""
    if subprocess.run(["docker", "image", "inspect", STANDIN], capture_output=True).returncode == 0:
        return STANDIN
    import tempfile

    from tests.opa_standin.build import prepare_context

    with tempfile.TemporaryDirectory() as tmp:
        context = prepare_context(tmp)
        subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", STANDIN,
                        str(context)], check=True, capture_output=True, text=True, timeout=600)
    return STANDIN


def fake_df_command(directory: Path, available_kib: int) -> str:
    """A ForceCommand wrapper whose `df` reports ``available_kib`` free: a host whose disk
    figure could only have come from that host. Returns the wrapper's path."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    df = bin_dir / "df"
    df.write_text("#!/bin/sh\n"
                  "echo 'Filesystem     1024-blocks      Used Available Capacity Mounted on'\n"
                  f"echo '/dev/fakedisk   {available_kib * 2} {available_kib} {available_kib}      50% /'\n")
    wrapper = directory / "force-command"
    wrapper.write_text("#!/bin/sh\n"
                       f"PATH={bin_dir}:$PATH; export PATH\n"
                       'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
    for path in (df, wrapper):
        path.chmod(0o755)
    return str(wrapper)

