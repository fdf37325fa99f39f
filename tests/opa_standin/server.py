"""A TEST STAND-IN for the OPA server, used only where the real OPA image cannot be pulled.

It is not OPA and must never be presented as OPA: it evaluates the policies with regopy
(Microsoft's rego-cpp) and answers the small part of OPA's REST API SwiftDeploy uses:

    GET  /health                          200 {}
    POST /v1/data/<a>/<b>/<c>  {"input"}  200 {"result": ...}   (data.a.b.c)
                                          200 {}                (undefined document)
                                          400 {"code": "invalid_parameter", "message": ...}
    GET  /v1/data/<a>/<b>/<c>             as POST, without input

It takes OPA's command line (`run --server --addr=0.0.0.0:8181 /policies`) so a compose file
written for the real image runs it unchanged. Standard library plus regopy only: the image
carries nothing else.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from regopy import Input, Interpreter, LogLevel

DEFAULT_ADDR = "localhost:8181"  # OPA 1.x's default
# OPA flags that take a value, so the value is not mistaken for a policy path.
VALUE_FLAGS = {
    "--addr", "-a", "--log-level", "-l", "--log-format", "--set", "--set-file", "--config-file",
    "-c", "--diagnostic-addr", "--authentication", "--authorization", "--ignore", "--format",
    "--shutdown-grace-period", "--shutdown-wait-period", "--v0-compatible", "--tls-cert-file",
    "--tls-private-key-file", "--tls-ca-cert-file", "--history", "--max-errors",
}
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_argv(argv: list[str]) -> tuple[str, list[str]]:
    """Return (addr, policy paths) from an OPA-style command line; unknown flags are ignored."""
    addr, paths = DEFAULT_ADDR, []
    args = list(argv)
    if args and args[0] == "run":
        args = args[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if name in VALUE_FLAGS and not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            if name in ("--addr", "-a") and value:
                addr = value
        else:
            paths.append(arg)
        i += 1
    return addr, paths


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # ":8181" means every interface, as in OPA
    return ("127.0.0.1" if host == "localhost" else host), int(port)


class Policies:
    """The loaded modules, one compiled plan per document path, one evaluation at a time."""

    def __init__(self, paths: list[str]) -> None:
        self._rego = Interpreter()
        self._rego.log_level = LogLevel.NONE
        self._bare = Interpreter()  # never given input: for requests without one
        self._bare.log_level = LogLevel.NONE
        self._plans: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.files: list[Path] = []
        for root in map(Path, paths):
            found = sorted(root.rglob("*.rego")) if root.is_dir() else [root] if root.suffix == ".rego" else []
            for path in found:
                self._rego.add_module(str(path), path.read_text(encoding="utf-8"))
                self.files.append(path)

    def evaluate(self, segments: list[str], document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """OPA's answer for data.<segments> as (status, body)."""
        if not segments or not all(_SEGMENT.match(s) for s in segments):
            return 200, {}  # no rule can live there: undefined
        entrypoint = "/".join(segments)
        with self._lock:
            try:
                plan = self._plans.get(entrypoint)
                if plan is None:
                    plan = self._plans[entrypoint] = self._rego.build(None, [entrypoint])
                rego = self._bare
                if "input" in document:
                    rego = self._rego
                    rego.set_input(Input(document["input"]))
                output = rego.query_bundle_entrypoint(plan, entrypoint)
                if not output.ok():
                    return 500, _error("internal_error", f"evaluation of data.{'.'.join(segments)} failed")
                values = [r.expressions for r in output.results if r.expressions]
            except Exception as exc:  # regopy errors, including its own output it cannot parse
                return 500, _error("internal_error", f"{type(exc).__name__}: {str(exc)[:300]}")
        return (200, {"result": values[0][0]}) if values else (200, {})


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def make_handler(policies: Policies) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "swiftdeploy-opa-standin"
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._send(200, {})
            elif path.startswith("/v1/data"):
                self._send(*policies.evaluate(_segments(path), {}))
            else:
                self._send(404, _error("resource_not_found", f"no such endpoint: {path}"))

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if not path.startswith("/v1/data"):
                self._send(404, _error("resource_not_found", f"no such endpoint: {path}"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                document = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                self._send(400, _error("invalid_parameter", f"body must be JSON: {exc}"))
                return
            if not isinstance(document, dict):
                self._send(400, _error("invalid_parameter", "body must be a JSON object such as {\"input\": ...}"))
                return
            self._send(*policies.evaluate(_segments(path), document))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"opa-standin {self.address_string()} {format % args}\n")

    return Handler


def _segments(path: str) -> list[str]:
    return [s for s in path[len("/v1/data"):].split("/") if s]


def main(argv: list[str]) -> int:
    addr, paths = parse_argv(argv)
    try:
        policies = Policies(paths)
    except Exception as exc:  # a policy that does not compile: refuse to start, as OPA does
        sys.stderr.write(f"opa-standin: cannot load policies from {paths}: {exc}\n")
        return 1
    host, port = split_addr(addr)
    server = ThreadingHTTPServer((host, port), make_handler(policies))
    server.daemon_threads = True
    # As PID 1 in a container SIGTERM is ignored unless handled; stop promptly on `docker stop`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write(
        f"opa-standin (a test stand-in, not OPA) serving {len(policies.files)} policy file(s) "
        f"on {host}:{server.server_address[1]}\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
