"""SSH connections to Docker hosts: who to reach, and reaching them safely.

``parse_host_string("deploy@h1:2222")`` and ``HostSpec.from_inventory(host)`` say
who; ``connect(spec, ...)`` opens a Fabric ``Connection`` and returns a ``Host``.

Host keys are checked like OpenSSH with ``StrictHostKeyChecking`` ``yes`` (the
default here) or ``accept-new`` (``accept_new_host_keys=True``): a key not yet in
known_hosts is refused, or recorded when accepting new keys; a key that differs
from the recorded one is always refused. Nothing ever prompts. Keys come from the
spec, ``~/.ssh/config`` (IdentityFile, User, Port, HostName) and the agent, as
Fabric does by default.

Every failure to connect (refused, timeout, DNS, auth, host key) raises
``HostUnreachable`` (exit 6) naming the host, the cause and what to do.

The connection's TCP socket has Nagle's algorithm off (``TCP_NODELAY``, as OpenSSH sets it):
paramiko sets no socket option, so each small SSH message sent while an earlier one was
unacknowledged waited for the peer's delayed ACK, about 40 ms: every command's channel open
paid it (a no-change deploy over SSH: 2.4 s with it, 1.2 s without).
"""
from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

import paramiko
from fabric import Connection

from ..errors import ConfigError, HostUnreachable, UsageError
from ..host import Host

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_append_lock = threading.Lock()  # threads connecting to several hosts share one file


@dataclass(frozen=True)
class HostSpec:
    """How to reach one host. ``port``/``user`` None: ~/.ssh/config, else 22 / local user."""

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None

    @classmethod
    def from_inventory(cls, host: Any) -> "HostSpec":
        """From an ``InventoryHost`` (name, address, port, user, key_file)."""
        return cls(host.name, host.address, host.port, host.user, host.key_file)


def parse_host_string(text: str) -> HostSpec:
    """``[user@]host[:port]`` (IPv6 as ``[::1]:2222``) -> HostSpec named ``host[:port]``."""
    raw = text.strip()
    user, _, rest = raw.rpartition("@") if "@" in raw else ("", "", raw)
    port_text: str | None = None  # None: no ":port" given
    if rest.startswith("["):
        address, sep, tail = rest[1:].partition("]")
        if not sep or (tail and not tail.startswith(":")):
            raise UsageError(f"--hosts {text!r}: expected [IPv6]:port")
        port_text = tail[1:] if tail else None
    elif rest.count(":") == 1:
        address, _, port_text = rest.partition(":")
    else:
        address = rest  # a bare IPv6 address keeps its colons
    if not address or (user == "" and "@" in raw) or port_text == "":
        raise UsageError(f"--hosts {text!r}: expected [user@]host[:port]")
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise UsageError(f"--hosts {text!r}: port must be an integer 1-65535, got {port_text!r}")
        port = int(port_text)
    name = address if port is None else (f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return HostSpec(name=name, address=address, port=port, user=user or None)


def parse_host_list(text: str) -> list[HostSpec]:
    """``--hosts deploy@h1,deploy@h2:2222`` -> specs, in order, without duplicates."""
    specs = [parse_host_string(part) for part in text.split(",") if part.strip()]
    if not specs:
        raise UsageError("--hosts: expected a comma-separated list of [user@]host[:port]")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"--hosts: {', '.join(dupes)} given more than once")
    return specs


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.key = key


class _RefuseNewKeys(paramiko.MissingHostKeyPolicy):
    """StrictHostKeyChecking=yes: an unknown key stops the connection."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(hostname, key)


class _AcceptNewKeys(paramiko.MissingHostKeyPolicy):
    """StrictHostKeyChecking=accept-new: record an unknown key in known_hosts and go on."""

    def __init__(self, path: str) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _append_lock:  # one line, one O_APPEND write: concurrent runs never interleave
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)


def _known_hosts_files(conn: Connection, known_hosts: str | None) -> list[str]:
    """The file to check and record in first, then read-only extras (ssh's defaults)."""
    if known_hosts:
        return [os.path.expanduser(known_hosts)]
    configured = conn.ssh_config.get("userknownhostsfile")
    names = configured.split() if isinstance(configured, str) else [DEFAULT_KNOWN_HOSTS]
    return [os.path.expanduser(n) for n in names] + [GLOBAL_KNOWN_HOSTS]


def _load_known_hosts(client: paramiko.SSHClient, files: list[str]) -> None:
    for path in files:
        if os.path.exists(path):
            try:
                client.load_system_host_keys(path)  # read-only; new keys are appended by us
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read known_hosts: {exc.strerror or exc}") from exc


def _nodelay_transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    """paramiko's ``transport_factory``: the Transport, on a TCP socket with Nagle off.

    A gateway's socket (ProxyCommand, ProxyJump's channel) is not a TCP socket and is left as it is."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return paramiko.Transport(sock, **kwargs)


def _where(conn: Connection) -> str:
    return f"{conn.user}@{conn.host}:{conn.port}"


def _hostkey_name(conn: Connection) -> str:
    return conn.host if conn.port == 22 else f"[{conn.host}]:{conn.port}"


def connect(
    spec: HostSpec,
    *,
    connect_timeout: float,
    accept_new_host_keys: bool = False,
    known_hosts: str | None = None,
) -> Host:
    """Open an SSH connection to ``spec`` and return ``Host.remote(connection, name=spec.name)``.

    ``known_hosts``: the file to verify against and record new keys in (default:
    ~/.ssh/config's UserKnownHostsFile, else ~/.ssh/known_hosts; the system-wide
    file is also read). Raises HostUnreachable (exit 6), or ConfigError (exit 2)
    when the key file named by the spec does not exist.
    """
    kwargs: dict[str, Any] = {}
    if spec.key_file:
        key_file = os.path.expanduser(spec.key_file)
        if not os.path.isfile(key_file):
            raise ConfigError(f"SSH key file {spec.key_file} not found; fix the host's key setting", host=spec.name)
        kwargs["key_filename"] = [key_file]
    conn = Connection(spec.address, user=spec.user, port=spec.port, connect_kwargs=kwargs)
    return open_connection(conn, name=spec.name, connect_timeout=connect_timeout,
                           accept_new_host_keys=accept_new_host_keys, known_hosts=known_hosts)


def open_connection(
    conn: Connection,
    *,
    name: str | None = None,
    connect_timeout: float | None = None,
    accept_new_host_keys: bool = False,
    known_hosts: str | None = None,
) -> Host:
    """Verify host keys and open a Connection made elsewhere; return it as a ``Host``.

    For the Connection ``fab -H host task`` hands a task: Fabric's own client
    accepts any host key (AutoAddPolicy, no known_hosts), so it is replaced by a
    client with the policy described in the module docstring before connecting.
    ``connect_timeout`` None keeps Fabric's (``fab -t``/ssh_config) setting.
    """
    if conn.is_connected:
        conn.close()
    label = name or f"{conn.user}@{conn.host}:{conn.port}"
    if connect_timeout is not None:
        timeout: float | None = float(connect_timeout)
        # Fabric int()s its own connect_timeout (0.5 -> no timeout at all): pass ours to paramiko.
        conn.connect_timeout = None
        conn.connect_kwargs = dict(conn.connect_kwargs, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout)
    else:
        timeout = conn.connect_timeout
    given = conn.connect_kwargs.get("key_filename") or []
    key_files = [given] if isinstance(given, str) else list(given)
    conn.connect_kwargs = {"transport_factory": _nodelay_transport, **conn.connect_kwargs}
    conn.client = paramiko.SSHClient()
    files = _known_hosts_files(conn, known_hosts)
    _load_known_hosts(conn.client, files)
    conn.client.set_missing_host_key_policy(_AcceptNewKeys(files[0]) if accept_new_host_keys else _RefuseNewKeys())
    _open(conn, label, files[0], key_files, timeout)
    return Host.remote(conn, name=label)


def _open(conn: Connection, name: str, known_hosts: str, key_files: list[str], timeout: float | None) -> None:
    """``conn.open()`` with every failure translated into a HostUnreachable that says what to do."""
    where = _where(conn)
    limit = f"{timeout:g}s" if timeout else "the connect timeout"
    try:
        conn.open()
    except _UnknownHostKey as exc:
        conn.close()
        raise HostUnreachable(
            f"host key of {exc.hostname} ({exc.key.get_name()} {exc.key.fingerprint}) is not in {known_hosts}; "
            "check the fingerprint with the host's owner, then rerun with --accept-new-host-keys to record it "
            f"(or add it yourself: ssh-keyscan -p {conn.port} {conn.host} >> {known_hosts})",
            host=name,
        ) from exc
    except paramiko.BadHostKeyException as exc:
        conn.close()
        raise HostUnreachable(
            f"HOST KEY CHANGED for {_hostkey_name(conn)}: known_hosts has {exc.expected_key.get_name()} "
            f"{exc.expected_key.fingerprint}, the server offered {exc.key.get_name()} {exc.key.fingerprint}. "
            "Someone may be intercepting the connection (man-in-the-middle), so it was refused. If the host was "
            f"really re-keyed, remove the old entry with `ssh-keygen -f {known_hosts} -R '{_hostkey_name(conn)}'` "
            "and connect again with --accept-new-host-keys",
            host=name,
        ) from exc
    except paramiko.AuthenticationException as exc:
        conn.close()
        raise _auth_failed(where, key_files, name) from exc
    except socket.gaierror as exc:
        conn.close()
        raise HostUnreachable(f"cannot resolve {conn.host}: {exc.strerror or exc}", host=name) from exc
    except (socket.timeout, TimeoutError) as exc:
        conn.close()
        raise HostUnreachable(f"no answer from {where} within {limit} (connect timeout)", host=name) from exc
    except paramiko.ssh_exception.NoValidConnectionsError as exc:
        conn.close()
        raise HostUnreachable(f"connection refused by {where}: is sshd running on that port?", host=name) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        conn.close()
        if "No authentication methods available" in str(exc):  # no key given, found or in an agent
            raise _auth_failed(where, key_files, name) from exc
        # paramiko reports a silent peer as a banner error, or (racing its own thread) as
        # "No existing session" from the auth step that follows the failed handshake.
        if "banner" in str(exc) or "No existing session" in str(exc):
            raise HostUnreachable(f"no SSH greeting from {where} within {limit}: is that port an SSH server?",
                                  host=name) from exc
        raise HostUnreachable(f"cannot open SSH to {where}: {exc}", host=name) from exc


def _auth_failed(where: str, key_files: list[str], name: str) -> HostUnreachable:
    tried = f"key {', '.join(key_files)}, " if key_files else ""
    return HostUnreachable(
        f"authentication failed for {where} (tried {tried}the SSH agent and ~/.ssh keys): check the user "
        "and key (`--hosts user@host`, inventory ansible_user / ansible_ssh_private_key_file)",
        host=name,
    )
