"""A local provider simulator: OpenAI-compatible, Ollama and llama.cpp servers on one port.

Used by `manage.py simulate_providers` (so Test works with no internet), by the health tests
as the real local HTTP server they probe, and by `bench/bench_test_all.py`.

Each route is a URL prefix speaking one protocol, with its own models, latency, required key
and failure mode. A server records every request it receives (method, path, Authorization
header) so tests can assert on what a probe sent.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from health.webhook_inbox import INBOX_PATH, MAX_BODY_BYTES, SIGNATURE_HEADER, WebhookInbox

# 401/404/429/500/503: that HTTP status. hang: never answers. drop: closes the connection
# without an answer. non_json: 200 with an HTML page. redirect: 302 elsewhere. oversized:
# a 200 JSON body of 8 MiB. wrong_shape: 200 JSON that is not what the protocol returns.
FAILURE_MODES = ("401", "404", "429", "500", "503", "hang", "drop", "non_json", "redirect", "oversized", "wrong_shape")
KINDS = ("openai_compatible", "ollama", "llama_cpp", "other")
OVERSIZED_BYTES = 8 * 1024 * 1024
HANG_SECONDS = 600


@dataclass
class Route:
    prefix: str
    kind: str
    models: list[str] = field(default_factory=list)
    latency_ms: int = 0
    api_key: str | None = None
    failures: tuple[str, ...] = ()
    failure_rate: float = 1.0

    def __post_init__(self) -> None:
        self.prefix = "/" + self.prefix.strip("/") if self.prefix.strip("/") else ""
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {', '.join(KINDS)}")
        for mode in self.failures:
            if mode not in FAILURE_MODES:
                raise ValueError(f"unknown failure mode {mode!r}; one of {', '.join(FAILURE_MODES)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Route:
        return cls(
            prefix=data["prefix"],
            kind=data["kind"],
            models=list(data.get("models", [])),
            latency_ms=int(data.get("latency_ms", 0)),
            api_key=data.get("api_key") or None,
            failures=tuple(data.get("failures", ())),
            failure_rate=float(data.get("failure_rate", 1.0)),
        )


def default_routes(*, openai_key: str | None = "sk-demo-openai", flaky_rate: float = 0.3, extra_latency_ms: int = 0) -> list[Route]:
    """The routes the demo providers point at, plus one broken route per failure mode."""
    routes = [
        Route("/openai/v1", "openai_compatible", ["gpt-4o-mini", "gpt-4o"], api_key=openai_key),
        Route("/ollama", "ollama", ["llama3.2:3b", "qwen2.5:7b"]),
        Route("/llamacpp", "llama_cpp", ["local-model"]),
        Route("/flaky/v1", "openai_compatible", ["gpt-4o-mini", "gpt-4o"], failures=("500", "429", "drop"), failure_rate=flaky_rate),
        Route("/slow/v1", "openai_compatible", ["gpt-4o-mini", "gpt-4o"], latency_ms=1500),
        Route("/other", "other"),
    ]
    routes += [Route(f"/fail/{mode}/v1", "openai_compatible", ["gpt-4o-mini"], failures=(mode,)) for mode in FAILURE_MODES]
    for route in routes:
        route.latency_ms += extra_latency_ms
    return routes


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    authorization: str | None


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # a whole "Run all checks" may connect at once
    verbose = False

    def __init__(self, routes: list[Route], host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None,
                 inbox: WebhookInbox | None = None) -> None:
        self.inbox = inbox or WebhookInbox()
        # Longest prefix first, so /fail/500/v1 wins over a route at "".
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        self.recorded: list[RecordedRequest] = []
        self.connections = 0
        self.stopping = threading.Event()
        self.random = random.Random(seed)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), SimulatorHandler)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, prefix: str) -> str:
        return self.base_url + prefix

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- bookkeeping -----------------------------------------------------------------------
    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self._lock:
            self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A probe that hangs up early (size cap, timeout) is expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self.recorded.append(entry)

    def route_for(self, path: str) -> tuple[Route, str] | None:
        for route in self.routes:
            if path == route.prefix or path.startswith(route.prefix + "/") or route.prefix == "":
                return route, path[len(route.prefix) :] or "/"
        return None

    def pick_failure(self, route: Route) -> str | None:
        if not route.failures:
            return None
        with self._lock:
            if self.random.random() >= route.failure_rate:
                return None
            return self.random.choice(route.failures)


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # Buffer the answer so headers and body leave in one segment (flushed after each request);
    # two small writes would wait on the client's delayed ACK.
    wbufsize = 64 * 1024
    server_version = "ProviderSimulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # -- plumbing --------------------------------------------------------------------------
    def _read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "code": status}})

    def _handle(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.record(RecordedRequest(self.command, path, self.headers.get("Authorization")))
        if path == INBOX_PATH:
            self._inbox()
            return
        body = self._read_body() if self.command == "POST" else None
        found = self.server.route_for(path)
        if found is None:
            self._error(404, "no such route")
            return
        route, subpath = found
        if route.latency_ms and self.server.stopping.wait(route.latency_ms / 1000):
            return
        failure = self.server.pick_failure(route)
        if failure is not None:
            self._fail(failure)
            return
        if route.api_key and self.headers.get("Authorization") != f"Bearer {route.api_key}":
            self._error(401, "invalid api key")
            return
        handler = getattr(self, f"_{route.kind}")
        handler(route, subpath, body)

    def _inbox(self) -> None:
        inbox = self.server.inbox
        if self.command == "GET":
            if "text/html" in (self.headers.get("Accept") or ""):
                self._send(200, inbox.page(), "text/html; charset=utf-8")
            else:
                self._json(200, inbox.listing())
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            self._json(413 if length > 0 else 400, {"error": "a body of at most 1 MiB with its Content-Length"})
            return
        status, answer = inbox.receive(self.headers.get(SIGNATURE_HEADER), self.rfile.read(length))
        self._json(status, answer)

    def _fail(self, mode: str) -> None:
        if mode.isdigit():
            status = int(mode)
            if status == 503:
                self._json(503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})
            else:
                self._error(status, f"simulated {status}")
        elif mode == "hang":
            self.server.stopping.wait(HANG_SECONDS)
            self.close_connection = True
        elif mode == "drop":
            self.close_connection = True  # closed without a single byte of answer
        elif mode == "non_json":
            self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif mode == "redirect":
            self._send(302, b"", headers={"Location": "http://127.0.0.1:9/elsewhere"})
        elif mode == "oversized":
            self._send_oversized()
        elif mode == "wrong_shape":
            self._json(200, {"hello": "world"})

    def _send_oversized(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(OVERSIZED_BYTES))
        self.end_headers()
        chunk = b" " * 65536
        try:
            for _ in range(OVERSIZED_BYTES // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    # -- protocols -------------------------------------------------------------------------
    def _completion(self, route: Route, body: dict[str, Any] | None, *, any_model: bool = False) -> None:
        model = (body or {}).get("model")
        if not any_model and model not in route.models:
            self._error(404, "model not found")
            return
        self._json(200, {
            "id": "chatcmpl-sim",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def _models_list(self, route: Route) -> None:
        self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "simulator"} for m in route.models]})

    def _openai_compatible(self, route: Route, subpath: str, body: dict[str, Any] | None) -> None:
        if self.command == "GET" and subpath == "/models":
            self._models_list(route)
        elif self.command == "POST" and subpath == "/chat/completions":
            self._completion(route, body)
        else:
            self._error(404, "not found")

    def _ollama(self, route: Route, subpath: str, body: dict[str, Any] | None) -> None:
        if self.command == "GET" and subpath == "/":
            self._send(200, b"Ollama is running", "text/plain")
        elif self.command == "GET" and subpath == "/api/tags":
            self._json(200, {"models": [{"name": m, "model": m, "size": 1, "details": {}} for m in route.models]})
        elif self.command == "GET" and subpath == "/v1/models":
            self._models_list(route)
        elif self.command == "POST" and subpath == "/v1/chat/completions":
            self._completion(route, body)
        elif self.command == "POST" and subpath == "/api/chat":
            model = (body or {}).get("model")
            if model not in route.models:
                self._error(404, f"model '{model}' not found")
            else:
                self._json(200, {"model": model, "message": {"role": "assistant", "content": "ok"}, "done": True})
        else:
            self._error(404, "not found")

    def _llama_cpp(self, route: Route, subpath: str, body: dict[str, Any] | None) -> None:
        if self.command == "GET" and subpath == "/health":
            self._json(200, {"status": "ok"})
        elif self.command == "GET" and subpath in ("/v1/models", "/models"):
            self._models_list(route)
        elif self.command == "POST" and subpath in ("/v1/chat/completions", "/chat/completions"):
            self._completion(route, body, any_model=True)  # llama.cpp serves the model it loaded
        else:
            self._error(404, "File Not Found")

    def _other(self, route: Route, subpath: str, body: dict[str, Any] | None) -> None:
        self._send(200, b"ok", "text/plain")
