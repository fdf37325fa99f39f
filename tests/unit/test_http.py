"""The HTTP seam against a real server on loopback: answers, errors named, no proxy from the environment."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from swiftlib import http


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/latin1":
            self._answer(200, b"caf\xe9", "text/plain; charset=latin-1")
        elif self.path == "/broken":
            self._answer(200, b"caf\xe9", "text/plain")
        else:
            self._answer(503 if self.path == "/down" else 200, f"GET {self.path}".encode(), "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        echo = {"type": self.headers["Content-Type"], "got": json.loads(body)}
        self._answer(200, json.dumps(echo).encode(), "application/json")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_get_answers_status_body_and_headers(server: str) -> None:
    answer = http.get(f"{server}/healthz?x=1", timeout=2)
    assert (answer.status, answer.body) == (200, "GET /healthz?x=1")
    assert answer.headers["Content-Type"] == "text/plain"
    assert http.get(f"{server}/down", timeout=2).status == 503  # an answer, not an error


def test_post_json_sends_json(server: str) -> None:
    answer = http.post_json(f"{server}/tracks/canary/chaos", {"mode": "error", "rate": 0.5}, timeout=2)
    assert answer.json() == {"type": "application/json", "got": {"mode": "error", "rate": 0.5}}


def test_a_body_is_read_in_its_charset_and_bad_bytes_are_replaced(server: str) -> None:
    assert http.get(f"{server}/latin1", timeout=2).body == "caf\u00e9"
    assert http.get(f"{server}/broken", timeout=2).body == "caf\ufffd"  # not UTF-8, as no charset says


def test_a_proxy_in_the_environment_is_not_used(server: str, monkeypatch) -> None:
    """The stack's URLs are loopback or SSH tunnels: a proxy (here one that refuses) must not be asked."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert http.get(f"{server}/healthz", timeout=2).status == 200


def test_a_closed_port_is_connection_refused() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/healthz"
    with pytest.raises(http.HttpUnavailable, match=r"cannot connect to .*/healthz: connection refused"):
        http.get(url, timeout=2)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    """A socket that accepts connections (the kernel does) and a URL on it; what it answers is the test's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}/healthz"


def test_a_server_that_never_answers_times_out(listener) -> None:
    _, url = listener
    with pytest.raises(http.HttpUnavailable, match=r"no answer from .* within 0.3s"):
        http.get(url, timeout=0.3)


def test_a_connection_closed_without_an_answer_is_named(listener) -> None:
    sock, url = listener

    def hang_up() -> None:
        conn, _ = sock.accept()
        conn.recv(1024)
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    with pytest.raises(http.HttpUnavailable, match=r"/healthz"):
        http.get(url, timeout=2)


def test_an_unverifiable_https_server_is_refused(tmp_path) -> None:
    """https:// without a TlsCheck is verified against the system's store: a self-signed server is refused."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(http.HttpUnavailable, match="certificate does not verify"):
            http.get(f"https://127.0.0.1:{httpd.server_address[1]}/healthz", timeout=2)
    finally:
        httpd.shutdown()
        httpd.server_close()
