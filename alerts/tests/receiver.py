"""A webhook receiver for the tests, on 127.0.0.1: it verifies what docs/alerts.md says a
receiver verifies (the signature over "<t>.<raw body>", a `t` at most 5 minutes old, no repeat
of a signature it has seen) and records every request it gets.

`Receiver(secret=..., answers=[500, 500, 200])` answers the given statuses in turn (then 200);
`hold=threading.Event()` makes it wait for the event before answering (a send in flight), and
`arrived` is set once a request's body is in; `delay` slows every answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300


def verify(secret: str, header: str, body: bytes, now: float, seen: set[str]) -> str | None:
    """None when the request is genuine and new; otherwise why it is refused. This is the
    ten-line receiver of docs/alerts.md."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t, v1 = int(fields["t"]), fields["v1"]
    except (KeyError, ValueError):
        return "malformed signature"
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, v1):
        return "bad signature"
    if abs(now - t) > TOLERANCE_S:
        return "too old"
    if v1 in seen:
        return "replay"
    seen.add(v1)
    return None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: str | None  # None: accepted
    status: int

    @property
    def json(self):
        return json.loads(self.body)


class Receiver:
    def __init__(self, secret: str | None = None, answers: list[int] | None = None,
                 hold: threading.Event | None = None, clock=time.time) -> None:
        self.secret = secret
        self.answers = list(answers or [])
        self.hold = hold
        self.arrived = threading.Event()  # set when a request's body has been read
        self.delay = 0.0  # seconds to wait before answering
        self.clock = clock
        self.seen: set[str] = set()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.verdict is None and r.status < 300]

    def check(self, header: str, body: bytes) -> str | None:
        with self.lock:
            return verify(self.secret, header, body, self.clock(), self.seen)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                if receiver.delay:
                    time.sleep(receiver.delay)
                verdict = None
                if receiver.secret is not None:
                    verdict = receiver.check(self.headers.get("X-Signature", ""), body)
                with receiver.lock:
                    status = 401 if verdict else (receiver.answers.pop(0) if receiver.answers else 200)
                    receiver.received.append(Received(self.path, dict(self.headers), body, verdict, status))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (a deliverer killed mid-send)
                    pass

        return Handler
