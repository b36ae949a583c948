"""Sending alerts: signature and replay, retries with backoff, the seam's guards, the formats,
and no secret in any body (alerts/delivery.py, alerts/formats.py).

Every webhook goes to a real receiver on 127.0.0.1 (alerts/tests/receiver.py) that verifies
what docs/alerts.md tells receivers to verify.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import timedelta

import pytest
import requests
from django.core import mail

from alerts import services
from alerts.delivery import backoff, deliver_round
from alerts.models import AlertDelivery, DeliveryAttempt
from alerts.tests.conftest import WEBHOOK_SECRET_CANARY
from alerts.tests.receiver import Receiver
from providers.services import move_status
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

PROVIDER_SECRET_CANARY = "sk-provider-CANARY-51c0ffee-never-shown"


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.ALERT_RETRY_BASE_SECONDS = 0.05
    settings.ALERT_RETRY_MAX_SECONDS = 0.4
    settings.ALERT_MAX_ATTEMPTS = 3


def go_down(provider_id="p1"):
    assert move_status(provider_id, expected="active", new="unreachable", reason="health check failed: timeout")


def deliver_until_settled(limit=20):
    for _ in range(limit):
        deliver_round()
        if not AlertDelivery.objects.filter(status="pending").exists():
            return
        time.sleep(0.06)
    raise AssertionError("deliveries still pending")


def test_the_receiver_verifies_the_signature_and_rejects_a_replay(provider_factory, webhook_channel, receiver):
    provider_factory(id="p1", status="active")
    webhook_channel()
    go_down()
    report = deliver_round()
    assert report.sent == 1
    [got] = receiver.received
    assert got.verdict is None and got.status == 200
    body = got.json
    assert body["alert"] == "provider.unreachable"
    assert body["event"]["event"] == "provider.state_changed" and body["event"]["provider_id"] == "p1"
    assert body["event"]["masked"] is True
    assert set(body) >= {"alert", "event", "sent_at"}
    assert body["delivery_id"] == AlertDelivery.objects.get().pk
    header = got.headers["X-Signature"]
    assert header.startswith("t=") and ",v1=" in header

    # The same request again, byte for byte: a replay.
    again = requests.post(receiver.url, data=got.body, headers={"X-Signature": header, "Content-Type": "application/json"})
    assert again.status_code == 401 and receiver.received[-1].verdict == "replay"
    # The body changed under the same signature.
    forged = got.body.replace(b"provider.unreachable", b"provider.recovered")
    assert requests.post(receiver.url, data=forged, headers={"X-Signature": header}).status_code == 401
    assert receiver.received[-1].verdict == "bad signature"
    # Signed with another key.
    from alerts.formats import signature

    other = signature("not-the-secret", int(time.time()), got.body)
    assert requests.post(receiver.url, data=got.body, headers={"X-Signature": other}).status_code == 401
    # A genuine signature older than five minutes.
    old = signature(WEBHOOK_SECRET_CANARY, int(time.time()) - 301, got.body)
    assert requests.post(receiver.url, data=got.body, headers={"X-Signature": old}).status_code == 401
    assert receiver.received[-1].verdict == "too old"


def test_a_failing_receiver_gets_retries_with_backoff_then_the_alert_is_failed(provider_factory, webhook_channel, receiver, settings):
    receiver.answers = [500, 502, 503, 200]  # the fourth would succeed: there is no fourth try
    provider_factory(id="p1", status="active")
    webhook_channel()
    go_down()
    deliver_until_settled()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("failed", 3, 503)
    assert delivery.last_error.startswith("http_status: ")
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.ok, a.http_status, a.error_code) for a in attempts] == [
        (1, False, 500, "http_status"), (2, False, 502, "http_status"), (3, False, 503, "http_status"),
    ]
    assert all(a.latency_ms is not None for a in attempts)
    # Each retry waited at least its backoff: 0.05 s, then 0.1 s.
    gaps = [later.attempted_at - earlier.attempted_at for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= backoff(1) == timedelta(seconds=0.05)
    assert gaps[1] >= backoff(2) == timedelta(seconds=0.1)
    assert len(receiver.received) == 3
    deliver_round()
    assert len(receiver.received) == 3  # a failed alert is not tried again


def test_backoff_doubles_up_to_its_cap(settings):
    settings.ALERT_RETRY_BASE_SECONDS = 30
    settings.ALERT_RETRY_MAX_SECONDS = 3600
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


def test_a_receiver_that_recovers_gets_the_alert(provider_factory, webhook_channel, receiver):
    receiver.answers = [503]
    provider_factory(id="p1", status="active")
    webhook_channel()
    go_down()
    deliver_until_settled()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_http_status, delivery.last_error) == ("sent", 2, 200, "")
    assert delivery.sent_at is not None
    assert [r.status for r in receiver.received] == [503, 200]


def test_without_a_webhook_secret_nothing_is_sent_unsigned(provider_factory, admin_user, receiver, settings):
    settings.ALERT_MAX_ATTEMPTS = 5
    provider_factory(id="p1", status="active")
    channel = services.create_channel({"id": "unsigned", "name": "Unsigned", "kind": "webhook", "url": receiver.url,
                                       "events": ["provider.unreachable"]}, actor=admin_user)
    go_down()
    deliver_round()
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("missing_secret: ")
    assert receiver.received == []
    services.change_secret(channel, "set", WEBHOOK_SECRET_CANARY, actor=admin_user)
    deliver_until_settled()
    assert AlertDelivery.objects.get().status == "sent" and len(receiver.accepted()) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_network_failures_are_classified_like_probes(provider_factory, webhook_channel, settings):
    provider_factory(id="p1", status="active")
    webhook_channel(url=f"http://127.0.0.1:{closed_port()}/hook")
    go_down()
    deliver_round()
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.ok, attempt.http_status, attempt.error_code) == (False, None, "unreachable")


def test_a_denied_network_is_never_connected_to(provider_factory, webhook_channel, receiver, settings):
    settings.PROBE_DENIED_NETWORKS = ["127.0.0.0/8"]
    provider_factory(id="p1", status="active")
    webhook_channel()
    go_down()
    deliver_round()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.error_code == "blocked_endpoint"
    assert receiver.received == []


def test_redirects_are_not_followed(provider_factory, webhook_channel, receiver):
    receiver.answers = [302, 302, 302]
    provider_factory(id="p1", status="active")
    webhook_channel()
    go_down()
    deliver_round()
    assert DeliveryAttempt.objects.get().http_status == 302
    assert len(receiver.received) == 1


def test_slack_gets_one_readable_line_with_a_link(provider_factory, admin_user, settings):
    settings.SITE_URL = "https://console.example.test"
    provider_factory(id="p1", name="openai-prod", status="active")
    with Receiver() as slack:
        services.create_channel({"id": "slack", "name": "Slack", "kind": "slack", "url": slack.url,
                                 "events": ["provider.unreachable"]}, actor=admin_user)
        go_down()
        assert deliver_round().sent == 1
        body = slack.received[0].json
    assert list(body) == ["text"]
    assert "\n" not in body["text"]
    assert body["text"].startswith("[Unreachable] openai-prod is now unreachable (was active)")
    assert body["text"].endswith("<https://console.example.test/providers/p1/|p1>")


def test_email_goes_through_djangos_backend(provider_factory, admin_user, settings):
    settings.SITE_URL = "https://console.example.test"
    provider_factory(id="p1", name="openai-prod", status="active")
    services.create_channel({"id": "mail", "name": "On call", "kind": "email", "email_to": ["oncall@example.test"],
                             "events": ["provider.unreachable"]}, actor=admin_user)
    go_down()
    assert deliver_round().sent == 1
    [message] = mail.outbox
    assert message.to == ["oncall@example.test"]
    assert message.subject.startswith("[Unreachable] openai-prod is now unreachable")
    assert "https://console.example.test/providers/p1/" in message.body


def test_a_test_alert_reaches_a_channel(webhook_channel, receiver, admin_user):
    channel = webhook_channel()
    services.send_test(channel, actor=admin_user)
    assert deliver_round().sent == 1
    body = receiver.accepted()[0].json
    assert body["alert"] == "alert.test" and body["event"]["event"] == "alert.test"


def test_no_secret_is_in_any_alert_body_or_log(provider_factory, webhook_channel, receiver, admin_user, caplog):
    caplog.set_level(logging.DEBUG)
    provider = provider_factory(id="p1", status="active", kind="openai_compatible")
    set_secret(provider, PROVIDER_SECRET_CANARY, actor=admin_user)
    channel = webhook_channel(events=["provider.unreachable", "secret.cleared"])
    with Receiver() as slack:
        services.create_channel({"id": "slack", "name": "Slack", "kind": "slack", "url": slack.url,
                                 "events": ["provider.unreachable", "secret.cleared"]}, actor=admin_user)
        services.create_channel({"id": "mail", "name": "Mail", "kind": "email", "email_to": ["a@example.test"],
                                 "events": ["provider.unreachable", "secret.cleared"]}, actor=admin_user)
        go_down()
        from secrets_vault.services import clear_secret

        clear_secret(provider, actor=admin_user)
        services.send_test(channel, actor=admin_user)
        deliver_until_settled()
        bodies = [r.body for r in receiver.received] + [r.body for r in slack.received]
        headers = [json.dumps(r.headers) for r in receiver.received + slack.received]
    bodies += [f"{m.subject}\n{m.body}".encode() for m in mail.outbox]
    assert len(bodies) == 7
    stored = [json.dumps([d.event, d.text, d.last_error]) for d in AlertDelivery.objects.all()]
    for canary in (PROVIDER_SECRET_CANARY, WEBHOOK_SECRET_CANARY):
        assert not any(canary.encode() in body for body in bodies)
        assert not any(canary in text for text in headers + stored)
        assert canary not in caplog.text
