"""Fake OpenAI-compatible endpoints for the benches: one asyncio process answering every
`GET .../models` after a fixed latency, however many requests are open at once.

    .venv/bin/python bench/fake_endpoints.py LATENCY_MS [MODEL] [PORTS]

Listens on PORTS ports (default 1) and prints their base URLs, space-separated, on the first
line, then serves until stdin closes (its parent exits or closes the pipe); on the way out it
prints `rss_kib=N` (its own peak resident set). A port per provider gives each provider an
origin of its own, as in a real fleet: on one shared origin a run would reuse the connections
of the probes that finished first, which real providers, each on its own host, never allow.

Why not health/simulator.py: that one is a thread per connection, which is right for the tests
(failure modes, recorded requests) but at 1,000 concurrent requests its own thread start-ups
and interpreter lock delay the answers, and the bench would time the fake instead of the
runner. An event loop holds 1,000 sleeping requests for the cost of 1,000 timers.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import sys


def models_body(model: str) -> bytes:
    body = json.dumps({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "bench"}]}).encode()
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nServer: bench-fake/1.0\r\n\r\n"
    ).encode()
    return head + body


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class FakeEndpoint(asyncio.Protocol):
    """One connection: each request is answered `delay` seconds after its head arrived.

    A protocol, not a stream reader and a task per connection: the fake shares this machine's
    two cores with the runner, and the streams cost it a quarter more CPU (a run of 1,000:
    about 110 against 90 ms, most of the rest the kernel's accepts; bench/bench_test_all.py
    prints the fake's CPU per round)."""

    def __init__(self, answer: bytes, delay: float) -> None:
        self.answer = answer
        self.delay = delay
        self.buffer = b""
        self.body_left = 0  # bytes of a request body still to skip
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:  # keep-alive: one connection may carry several requests
            if self.body_left:
                skipped = min(self.body_left, len(self.buffer))
                self.buffer = self.buffer[skipped:]
                self.body_left -= skipped
                if self.body_left:
                    return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:  # no request head is this long
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            request_line, _, headers = head.partition(b"\r\n")
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    self.body_left = int(value.strip() or 0)
            path = request_line.split(b" ")[1] if request_line.count(b" ") >= 2 else b""
            answer = self.answer if path.split(b"?")[0].endswith(b"/models") else NOT_FOUND
            # Answers keep the requests' order: same delay, timers fire in the order set.
            asyncio.get_running_loop().call_later(self.delay, self.reply, answer)

    def reply(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer)


async def serve(latency_ms: int, model: str, ports: int) -> None:
    answer = models_body(model)
    delay = latency_ms / 1000
    loop = asyncio.get_running_loop()

    servers, urls = [], []
    for _ in range(ports):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        servers.append(await loop.create_server(lambda: FakeEndpoint(answer, delay), sock=sock, backlog=4096))
        host, port = sock.getsockname()[:2]
        urls.append(f"http://{host}:{port}")
    print(" ".join(urls), flush=True)
    closed = loop.create_future()
    # The parent holds our stdin: when it closes it (or dies), we stop.
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(65536) or (closed.done() or closed.set_result(None)))
    await closed
    for server in servers:
        server.close()
    print(f"rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)
    os._exit(0)  # the open keep-alive connections need no goodbye


def main() -> None:
    latency_ms = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    model = sys.argv[2] if len(sys.argv) > 2 else "bench-model"
    ports = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    asyncio.run(serve(latency_ms, model, ports))


if __name__ == "__main__":
    main()
