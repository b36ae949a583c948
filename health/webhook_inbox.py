"""The provider simulator's webhook inbox: where the demo's alerts arrive (docs/alerts.md, "The demo").

`POST /alerts/inbox` on the simulator takes an alert webhook; with the demo's webhook secret it
checks the `X-Signature` header as any receiver should (HMAC-SHA256 of "<t>.<raw body>", a `t`
at most 5 minutes away, no signature seen before) and answers 401 when that fails. It prints one
line per request and keeps the last INBOX_SIZE; `GET /alerts/inbox` lists them, newest first.

`health` may not import `alerts`, so the check is written here with `hmac` directly; it is the
same format as `alerts.formats.signature` (the simulator's tests sign with that function).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

INBOX_PATH = "/alerts/inbox"
INBOX_SIZE = 100
TOLERANCE_S = 300
MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADER = "X-Signature"
SEEN_SIZE = 1000  # signatures remembered for refusing a replay (well over 5 minutes of demo alerts)


def check_signature(secret: str, header: str, body: bytes, now: float, seen: OrderedDict[str, None]) -> str | None:
    """None when the request is genuine and new; otherwise why it is refused."""
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
    seen[v1] = None
    while len(seen) > SEEN_SIZE:
        seen.popitem(last=False)
    return None


class WebhookInbox:
    """The last INBOX_SIZE webhook requests, each with what its signature check found.

    `secret` None: nothing is checked (every request is taken, marked "not checked").
    `log`: called with one line per request (the command prints it).
    """

    def __init__(self, secret: str | None = None, log: Callable[[str], None] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.secret = secret or None
        self.log = log
        self.clock = clock or time.time
        self.entries: deque[dict[str, Any]] = deque(maxlen=INBOX_SIZE)
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.received = 0
        self._lock = threading.Lock()

    def receive(self, header: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        """Take one POST; (HTTP status, the JSON answer)."""
        now = self.clock()
        with self._lock:
            if self.secret is None:
                verdict, signature = None, "not checked"
            else:
                verdict = check_signature(self.secret, header or "", body, now, self.seen)
                signature = "ok" if verdict is None else verdict
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                payload = {}
            self.received += 1
            entry = {
                "number": self.received,
                "received_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
                "accepted": verdict is None,
                "signature": signature,
                "alert": payload.get("alert"),
                "text": payload.get("text"),
                "delivery_id": payload.get("delivery_id"),
                "link": payload.get("link"),
                "body": payload if verdict is None else None,  # a refused body is not shown as if it were an alert
            }
            self.entries.append(entry)
        if self.log is not None:
            if verdict is None:
                self.log(f"alert received: {entry['text'] or entry['alert'] or '(no text)'} (signature {signature})")
            else:
                self.log(f"alert refused: {verdict}")
        if verdict is not None:
            return 401, {"error": verdict}
        return 200, {"received": entry["number"]}

    def listing(self) -> dict[str, Any]:
        with self._lock:
            alerts = list(reversed(self.entries))
        return {"signature_checked": self.secret is not None, "count": len(alerts), "alerts": alerts}

    def page(self) -> bytes:
        """The listing as a small HTML page for a browser (refreshes itself every 5 s)."""
        listing = self.listing()
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(str(entry["received_at"])), html.escape(str(entry["alert"] or "")),
                html.escape(str(entry["text"] or "")), html.escape(entry["signature"]),
            )
            for entry in listing["alerts"]
        ) or '<tr><td colspan="4">No alert yet.</td></tr>'
        checked = "checked with the demo secret" if listing["signature_checked"] else "not checked (no secret given)"
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
            "<title>Alert inbox</title><style>body{font:14px system-ui,sans-serif;margin:1.5em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>"
            f"</head><body><h1>Alert inbox</h1><p>The last {INBOX_SIZE} webhook requests, newest first; "
            f"signatures {checked}. JSON: <code>GET {INBOX_PATH}</code> with <code>Accept: application/json</code>.</p>"
            "<table><thead><tr><th>received</th><th>alert</th><th>text</th><th>signature</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></body></html>"
        ).encode()
