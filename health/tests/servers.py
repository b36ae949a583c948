"""Throw-away HTTP and HTTPS servers on 127.0.0.1 for the outbound-HTTP tests.

Each records what reached it (path, `Host`, `Authorization`, the client's port, the TLS server
name), so a test can assert on what a probe sent and over which connection.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ["gpt-4o-mini", "gpt-4o"]
DRIBBLE_BYTES = 300
DRIBBLE_INTERVAL_SECONDS = 0.1  # 300 bytes, one every 100 ms: 30 s in all


@dataclass(frozen=True)
class Seen:
    path: str
    host: str | None
    authorization: str | None
    client_port: int


class LocalServer(ThreadingHTTPServer):
    """A server on 127.0.0.1 and a free port; HTTPS when given a server-side TLS context."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.seen: list[Seen] = []
        self.cookies_seen: list[str | None] = []
        self.server_names: list[str | None] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)
        if tls is not None:
            tls.sni_callback = self._record_server_name

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def _record_server_name(self, _sock: Any, server_name: str | None, _context: Any) -> None:
        with self._lock:
            self.server_names.append(server_name)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs in the connection's own thread, so a client that rejects the
        # certificate only ends its own connection.
        request.settimeout(5)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client hanging up early is what these tests provoke

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.seen.append(
                Seen(handler.path, handler.headers.get("Host"), handler.headers.get("Authorization"), handler.client_address[1])
            )

    def __enter__(self) -> LocalServer:
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, format: str, *args: Any) -> None:
        return None


class ModelsHandler(_Quiet):
    """An OpenAI-compatible `/models` on any path."""

    def do_GET(self) -> None:
        self.server.record(self)  # type: ignore[attr-defined]
        body = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CookieHandler(ModelsHandler):
    """`/models` that sets a cookie with every answer and records the Cookie header it got."""

    def do_GET(self) -> None:
        self.server.cookies_seen.append(self.headers.get("Cookie"))  # type: ignore[attr-defined]
        self.server.record(self)  # type: ignore[attr-defined]
        body = b'{"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "sid=abc; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Dribble(_Quiet):
    def dribble(self, data: bytes) -> None:
        """Send `data` one byte at a time, each well within any socket timeout."""
        stopping: threading.Event = self.server.stopping  # type: ignore[attr-defined]
        for byte in data:
            if stopping.wait(DRIBBLE_INTERVAL_SECONDS):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return
        self.close_connection = True


class SlowBodyHandler(_Dribble):
    """Headers at once, then a body of 300 bytes at one byte every 100 ms."""

    def do_GET(self) -> None:
        self.server.record(self)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(DRIBBLE_BYTES))
        self.end_headers()
        self.wfile.flush()
        self.dribble(b" " * DRIBBLE_BYTES)


class SlowHeadersHandler(_Dribble):
    """A status line and headers sent one byte every 100 ms."""

    def do_GET(self) -> None:
        self.server.record(self)  # type: ignore[attr-defined]
        self.dribble(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * DRIBBLE_BYTES + b"\r\n\r\n")
