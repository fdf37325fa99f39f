"""A TEST STAND-IN for the OPA server, used only where the real OPA image cannot be pulled.

It is not the OPA server and must never be presented as OPA: it evaluates the policies with
OPA's own Go evaluator (OPA's v1/rego package as a c-shared library, through the
opa-golib-python-bindings wheel, module opa_bindings) and answers the small part of OPA's REST
API SwiftDeploy uses:

    GET  /health                          200 {}
    POST /v1/data/<a>/<b>/<c>  {"input"}  200 {"result": ...}   (data.a.b.c)
                                          200 {}                (undefined document)
                                          400 {"code": "invalid_parameter", "message": ...}
    GET  /v1/data/<a>/<b>/<c>             as POST, without input

It takes OPA's command line (`run --server --addr=0.0.0.0:8181 /policies`) so a compose file
written for the real image runs it unchanged. As OPA's server does, it refuses to start when a
policy does not parse or compile, and evaluates `{"input": null}` (or no body) without an input.
Standard library plus opa_bindings only: the image carries nothing else.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


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
    """The loaded modules in one OPA evaluator (it serialises evaluations itself)."""

    def __init__(self, paths: list[str]) -> None:
        from opa_bindings import OpaEngine

        self._opa = OpaEngine()
        self.files: list[Path] = []
        for root in map(Path, paths):
            found = sorted(root.rglob("*.rego")) if root.is_dir() else [root] if root.suffix == ".rego" else []
            for path in found:
                self._opa.add_policy(str(path), path.read_text(encoding="utf-8"))
                self.files.append(path)
        # OPA compiles every module together on the first evaluation: do it now, so a policy that
        # parses but does not compile stops the start-up, as `opa run --server` does.
        self._opa.eval_query("true")

    def evaluate(self, segments: list[str], document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """OPA's answer for data.<segments> as (status, body)."""
        if not segments or not all(_SEGMENT.match(s) for s in segments):
            return 200, {}  # no rule can live there: undefined
        from opa_bindings import OpaError, OpaUndefinedError

        try:
            # OPA's server: a missing or null "input" evaluates with input undefined, as here.
            value = self._opa.eval_document(".".join(segments), document.get("input"))
        except OpaUndefinedError:
            return 200, {}
        except OpaError as exc:  # eval_conflict_error, a built-in error in strict mode, ...
            return 500, _error("internal_error", f"{exc.code}: {exc.message[:300]}")
        return 200, {"result": value}


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
    except ImportError as exc:
        sys.stderr.write(
            f"opa-standin: OPA's Go evaluator (module opa_bindings, from the opa-golib-python-bindings wheel) "
            f"does not import: {exc}; on a host, install it with scripts/install-opa-golib.sh\n"
        )
        return 1
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
