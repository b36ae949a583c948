"""`manage.py seed_demo_alerts`: the demo's "Demo inbox" channel, idempotent, its secret in the
vault and never printed; and what it seeds works: an alert delivered to the provider
simulator's inbox passes the inbox's signature check (health/webhook_inbox.py).
"""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts import services
from alerts.delivery import deliver_round
from alerts.management.commands.seed_demo_alerts import CHANNEL_ID
from alerts.models import SUBSCRIBABLE, AlertChannel, AlertDelivery
from audit.models import AuditEvent
from health.simulator import SimulatorServer
from health.webhook_inbox import INBOX_PATH, WebhookInbox
from secrets_vault import api as vault

pytestmark = pytest.mark.django_db

DEMO_SECRET_CANARY = "whsec-demo-CANARY-3b8e0c55-never-shown"


def seed(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo_alerts", *args, stdout=out, stderr=err)
    assert DEMO_SECRET_CANARY not in out.getvalue() + err.getvalue()
    return out.getvalue()


def secret_events() -> list[str]:
    return list(AuditEvent.objects.filter(event__startswith="alert_channel.").order_by("id").values_list("event", flat=True))


def test_twice_gives_one_channel_with_its_secret_set_once():
    first = seed("--simulator-url", "http://127.0.0.1:8900/", "--webhook-secret", DEMO_SECRET_CANARY)
    second = seed("--simulator-url", "http://127.0.0.1:8900", "--webhook-secret", DEMO_SECRET_CANARY)

    [channel] = AlertChannel.objects.all()
    assert channel.pk == CHANNEL_ID and channel.name == "Demo inbox" and channel.kind == "webhook"
    assert channel.url == "http://127.0.0.1:8900" + INBOX_PATH
    assert channel.events == SUBSCRIBABLE and channel.providers == [] and channel.kinds == []
    assert channel.enabled is True and channel.cooldown_s == 60
    assert services.secret_state(channel)["present"] is True
    assert vault.reveal_owned_secret(channel.vault_owner, services.WEBHOOK_SECRET) == DEMO_SECRET_CANARY
    assert "created" in first and second == ""
    assert secret_events() == ["alert_channel.created", "alert_channel.secret_updated"]
    assert not AuditEvent.objects.filter(payload__icontains=DEMO_SECRET_CANARY).exists()


def test_the_environment_gives_the_secret_and_another_one_rotates_it(monkeypatch):
    monkeypatch.setenv("SIMULATOR_WEBHOOK_SECRET", DEMO_SECRET_CANARY)
    seed()
    channel = AlertChannel.objects.get()
    seed("--webhook-secret", DEMO_SECRET_CANARY + "-2")
    assert vault.reveal_owned_secret(channel.vault_owner, services.WEBHOOK_SECRET) == DEMO_SECRET_CANARY + "-2"
    assert services.secret_state(channel)["version"] == 2
    assert AlertChannel.objects.count() == 1


def test_an_edited_channel_keeps_its_edits():
    seed("--webhook-secret", DEMO_SECRET_CANARY)
    channel = AlertChannel.objects.get()
    services.update_channel(channel, {"cooldown_s": 300, "events": ["provider.unreachable"]}, actor="test")
    seed("--webhook-secret", DEMO_SECRET_CANARY)
    channel.refresh_from_db()
    assert channel.cooldown_s == 300 and channel.events == ["provider.unreachable"]


def test_no_secret_is_an_error_and_creates_nothing(monkeypatch):
    monkeypatch.delenv("SIMULATOR_WEBHOOK_SECRET", raising=False)
    with pytest.raises(CommandError, match="SIMULATOR_WEBHOOK_SECRET"):
        call_command("seed_demo_alerts", stdout=io.StringIO())
    assert not AlertChannel.objects.exists()


def test_a_test_alert_arrives_in_the_simulator_s_inbox_signed(settings):
    """The seeded channel, the deliverer's signature and the simulator's check agree."""
    lines: list[str] = []
    with SimulatorServer([], inbox=WebhookInbox(DEMO_SECRET_CANARY, log=lines.append)) as simulator:
        seed("--simulator-url", simulator.base_url, "--webhook-secret", DEMO_SECRET_CANARY)
        services.send_test(AlertChannel.objects.get(), actor="test")
        assert deliver_round().sent == 1
        listing = requests.get(simulator.url(INBOX_PATH), timeout=5).json()
    assert AlertDelivery.objects.get().status == "sent"
    [entry] = listing["alerts"]
    assert entry["accepted"] is True and entry["signature"] == "ok" and entry["alert"] == "alert.test"
    assert lines == ["alert received: [Test alert] test sent a test alert to Demo inbox (signature ok)"]
    assert DEMO_SECRET_CANARY not in str(listing)
