"""The simulator's alert inbox (health/webhook_inbox.py), over HTTP on 127.0.0.1.

Requests are signed here as docs/alerts.md says a webhook is signed (HMAC-SHA256 of
"<t>.<raw body>"); alerts/tests/test_seed_demo_alerts.py proves the deliverer's own signature is
accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
from django.core.management import call_command

from health.simulator import SimulatorServer
from health.webhook_inbox import INBOX_PATH, INBOX_SIZE, WebhookInbox

SECRET = "whsec-inbox-test"


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


def alert_body(text: str = "[Unreachable] openai-demo became unreachable (connection refused)", delivery_id: int = 7) -> bytes:
    return json.dumps({"alert": "provider.unreachable", "event": {"id": 1, "event": "provider.state_changed"},
                       "sent_at": "2026-01-01T00:00:00Z", "delivery_id": delivery_id, "text": text,
                       "changes": 0, "link": "http://127.0.0.1:8000/providers/openai-demo/"},
                      separators=(",", ":")).encode()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def inbox_server(lines):
    with SimulatorServer([], inbox=WebhookInbox(SECRET, log=lines.append)) as server:
        yield server


def test_a_signed_alert_is_accepted_printed_and_listed(inbox_server, lines):
    body = alert_body()
    answer = requests.post(inbox_server.url(INBOX_PATH), data=body, headers=signed(body), timeout=5)
    assert answer.status_code == 200, answer.text
    assert lines == ["alert received: [Unreachable] openai-demo became unreachable (connection refused) (signature ok)"]

    listing = requests.get(inbox_server.url(INBOX_PATH), timeout=5).json()
    assert listing["signature_checked"] is True and listing["count"] == 1
    entry = listing["alerts"][0]
    assert entry["accepted"] is True and entry["signature"] == "ok"
    assert entry["alert"] == "provider.unreachable" and entry["delivery_id"] == 7
    assert entry["body"] == json.loads(body)


@pytest.mark.parametrize(
    ("headers_of", "reason"),
    [
        (lambda body: signed(body, secret="not-the-secret"), "bad signature"),
        (lambda body: signed(body, at=int(time.time()) - 301), "too old"),
        (lambda body: signed(body, at=int(time.time()) + 301), "too old"),
        (lambda body: {"X-Signature": "v1=abc"}, "malformed signature"),
        (lambda body: {}, "malformed signature"),
    ],
    ids=["other-secret", "older-than-5-minutes", "from-the-future", "no-t", "unsigned"],
)
def test_a_bad_or_old_signature_is_refused(inbox_server, lines, headers_of, reason):
    body = alert_body()
    answer = requests.post(inbox_server.url(INBOX_PATH), data=body, headers=headers_of(body), timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {"error": reason}
    assert lines == [f"alert refused: {reason}"]
    entry = requests.get(inbox_server.url(INBOX_PATH), timeout=5).json()["alerts"][0]
    assert entry["accepted"] is False and entry["signature"] == reason
    assert entry["body"] is None  # a refused request is not shown as an alert


def test_a_body_changed_after_signing_is_refused(inbox_server):
    body = alert_body()
    headers = signed(body)
    tampered = body.replace(b"unreachable", b"recovered")
    answer = requests.post(inbox_server.url(INBOX_PATH), data=tampered, headers=headers, timeout=5)
    assert answer.status_code == 401 and answer.json() == {"error": "bad signature"}


def test_a_replayed_request_is_refused(inbox_server):
    body = alert_body()
    headers = signed(body)
    first = requests.post(inbox_server.url(INBOX_PATH), data=body, headers=headers, timeout=5)
    again = requests.post(inbox_server.url(INBOX_PATH), data=body, headers=headers, timeout=5)
    assert (first.status_code, again.status_code) == (200, 401)
    assert again.json() == {"error": "replay"}


def test_the_listing_is_newest_first_and_keeps_the_last_hundred(inbox_server):
    session = requests.Session()
    for number in range(INBOX_SIZE + 5):
        body = alert_body(text=f"alert {number}", delivery_id=number)
        assert session.post(inbox_server.url(INBOX_PATH), data=body, headers=signed(body), timeout=5).status_code == 200
    alerts = session.get(inbox_server.url(INBOX_PATH), timeout=5).json()["alerts"]
    assert len(alerts) == INBOX_SIZE
    assert [a["delivery_id"] for a in alerts[:2]] == [INBOX_SIZE + 4, INBOX_SIZE + 3]
    assert alerts[-1]["delivery_id"] == 5


def test_a_browser_gets_the_listing_as_a_page_with_the_text_escaped(inbox_server):
    body = alert_body(text="[Degraded] <script>x</script>")
    requests.post(inbox_server.url(INBOX_PATH), data=body, headers=signed(body), timeout=5)
    page = requests.get(inbox_server.url(INBOX_PATH), headers={"Accept": "text/html"}, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "[Degraded] &lt;script&gt;x&lt;/script&gt;" in page.text and "<script>" not in page.text


def test_without_a_secret_every_alert_is_taken_and_marked_not_checked():
    lines: list[str] = []
    with SimulatorServer([], inbox=WebhookInbox(None, log=lines.append)) as server:
        body = alert_body()
        assert requests.post(server.url(INBOX_PATH), data=body, timeout=5).status_code == 200
        listing = requests.get(server.url(INBOX_PATH), timeout=5).json()
    assert listing["signature_checked"] is False
    assert listing["alerts"][0]["signature"] == "not checked"
    assert lines[0].endswith("(signature not checked)")


def test_an_oversized_body_is_refused_without_reading_it(inbox_server):
    answer = requests.post(inbox_server.url(INBOX_PATH), data=b"x" * (1024 * 1024 + 1), timeout=5)
    assert answer.status_code == 413


def test_the_command_takes_the_secret_from_the_environment(monkeypatch):
    """`simulate_providers` reads SIMULATOR_WEBHOOK_SECRET when --webhook-secret is not given."""
    from health.management.commands import simulate_providers

    monkeypatch.setenv("SIMULATOR_WEBHOOK_SECRET", SECRET)
    parser = simulate_providers.Command().create_parser("manage.py", "simulate_providers")
    assert parser.parse_args([]).webhook_secret == SECRET
    assert parser.parse_args(["--webhook-secret", "other"]).webhook_secret == "other"


def test_the_command_refuses_a_port_in_use_before_serving(inbox_server):
    from django.core.management.base import CommandError

    port = inbox_server.server_address[1]
    with pytest.raises(CommandError, match="Cannot listen"):
        call_command("simulate_providers", "--port", str(port), "--webhook-secret", SECRET)
