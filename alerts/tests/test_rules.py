"""Which changes become alerts, on which channels, and the cooldown (alerts/rules.py).

Through the services the product uses: status moves by health (`move_status`), an operator's
edit, the vault's clear, a Run all through the API, the serving provider noticed by a deliver
round. The outbox rows are read back as the deliverer reads them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.delivery import deliver_round
from alerts.models import AlertCooldown, AlertDelivery
from alerts.rules import summarize_flapping
from audit.models import AuditEvent
from providers.services import move_status, update_provider
from secrets_vault.services import clear_secret, set_secret

pytestmark = pytest.mark.django_db


def alerts_queued():
    return list(AlertDelivery.objects.order_by("id").values_list("alert", "provider_id", "changes"))


def test_each_status_move_is_its_alert(provider_factory, webhook_channel):
    provider_factory(id="p1", status="active")
    webhook_channel()
    move_status("p1", expected="active", new="unreachable", reason="health check failed: timeout")
    AlertCooldown.objects.update(window_started_at=timezone.now() - timedelta(hours=1))
    move_status("p1", expected="unreachable", new="degraded", reason="health check failed: http_5xx")
    AlertCooldown.objects.update(window_started_at=timezone.now() - timedelta(hours=1))
    move_status("p1", expected="degraded", new="active", reason="health check passed")
    assert alerts_queued() == [
        ("provider.unreachable", "p1", 0), ("provider.degraded", "p1", 0), ("provider.recovered", "p1", 0),
    ]
    delivery = AlertDelivery.objects.order_by("id").first()
    assert delivery.event["event"] == "provider.state_changed"
    assert delivery.event["masked"] is True and set(delivery.event["payload"].values()) == {"***"}
    assert delivery.text.startswith("[Unreachable] ")


def test_an_operator_enabling_a_provider_is_not_a_recovery(provider_factory, webhook_channel, admin_user):
    provider = provider_factory(id="p1", status="active")
    webhook_channel()
    provider = update_provider(provider, {"enabled": False}, actor=admin_user)
    update_provider(provider, {"enabled": True}, actor=admin_user)
    assert alerts_queued() == []


def test_a_change_that_rolls_back_queues_nothing(provider_factory, webhook_channel):
    provider_factory(id="p1", status="active")
    webhook_channel()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert move_status("p1", expected="active", new="unreachable", reason="timeout")
        assert AlertDelivery.objects.count() == 1  # written with the event, in its transaction
        raise RuntimeError("the change fails after its event was written")
    assert AlertDelivery.objects.count() == 0
    assert not AuditEvent.objects.filter(event="provider.state_changed").exists()


def test_channel_filters_events_providers_and_kinds(provider_factory, webhook_channel, receiver):
    provider_factory(id="openai-1", kind="openai_compatible", status="active")
    provider_factory(id="ollama-1", kind="ollama", status="active")
    webhook_channel(id="only-down", events=["provider.unreachable"])
    webhook_channel(id="only-ollama", kinds=["ollama"])
    webhook_channel(id="only-openai-1", providers=["openai-1"])
    webhook_channel(id="switched-off", enabled=False)
    move_status("openai-1", expected="active", new="degraded", reason="http_5xx")
    move_status("ollama-1", expected="active", new="unreachable", reason="timeout")
    got = sorted(AlertDelivery.objects.values_list("channel_id", "provider_id", "alert"))
    assert got == [
        ("only-down", "ollama-1", "provider.unreachable"),
        ("only-ollama", "ollama-1", "provider.unreachable"),
        ("only-openai-1", "openai-1", "provider.degraded"),
    ]


def test_a_cleared_secret_is_an_alert(provider_factory, webhook_channel, admin_user):
    provider = provider_factory(id="p1", status="active")
    set_secret(provider, "sk-provider-CANARY-123456", actor=admin_user)
    webhook_channel()
    clear_secret(provider, actor=admin_user)
    assert alerts_queued() == [("secret.cleared", "p1", 0)]
    assert "sk-provider-CANARY" not in str(AlertDelivery.objects.get().event)


def test_a_flapping_provider_gets_one_alert_then_one_summary(provider_factory, webhook_channel):
    provider_factory(id="p1", status="active")
    webhook_channel(cooldown_s=300)
    states = ["unreachable", "active", "unreachable", "active", "degraded", "active"]
    before = "active"
    for after in states:
        assert move_status("p1", expected=before, new=after, reason="flap")
        before = after
    assert alerts_queued() == [("provider.unreachable", "p1", 0)]  # the other five are held back
    assert summarize_flapping() == 0  # the window is still open
    AlertCooldown.objects.update(window_started_at=timezone.now() - timedelta(seconds=301))
    assert summarize_flapping() == 1
    assert summarize_flapping() == 0  # once
    summary = AlertDelivery.objects.order_by("id").last()
    assert (summary.alert, summary.changes) == ("provider.recovered", 5)
    assert summary.text.startswith("[Still flapping] p1: 5 changes in the last 5 min; latest: ")
    assert len(alerts_queued()) == 2


def test_one_change_held_back_is_said_late_not_as_flapping(provider_factory, webhook_channel):
    provider_factory(id="p1", status="active")
    webhook_channel(cooldown_s=60)
    move_status("p1", expected="active", new="unreachable", reason="timeout")
    move_status("p1", expected="unreachable", new="active", reason="passed")
    AlertCooldown.objects.update(window_started_at=timezone.now() - timedelta(seconds=61))
    summarize_flapping()
    recovered = AlertDelivery.objects.order_by("id").last()
    assert recovered.alert == "provider.recovered" and recovered.changes == 1
    assert recovered.text.startswith("[Recovered] ") and recovered.text.endswith("(held back by the 1 min cooldown)")


def test_no_cooldown_sends_every_change(provider_factory, webhook_channel):
    provider_factory(id="p1", status="active")
    webhook_channel(cooldown_s=0)
    move_status("p1", expected="active", new="unreachable", reason="timeout")
    move_status("p1", expected="unreachable", new="active", reason="passed")
    assert [a for a, _, _ in alerts_queued()] == ["provider.unreachable", "provider.recovered"]


def test_the_serving_provider_changing_is_noticed_once(provider_factory, webhook_channel):
    provider_factory(id="first", status="active", priority=1, kind="ollama")
    provider_factory(id="second", status="active", priority=2, kind="ollama")
    webhook_channel(events=["chain.serving_changed"])
    deliver_round()  # the first look records who serves
    assert not AuditEvent.objects.filter(event="chain.serving_changed").exists()
    move_status("first", expected="active", new="unreachable", reason="timeout")
    deliver_round()
    deliver_round()
    changed = AuditEvent.objects.get(event="chain.serving_changed")
    assert changed.payload["before"] == "first" and changed.payload["after"] == "second"
    assert changed.summary.startswith("second now serves (was first)")
    assert alerts_queued() == [("chain.serving_changed", "second", 0)]


def test_a_run_all_with_failures_is_one_checks_failed_alert(provider_factory, webhook_channel, admin_client):
    # A port nothing listens on: the probe is refused at once.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    provider_factory(id="down", kind="ollama", status="active", endpoint=f"http://127.0.0.1:{closed}")
    webhook_channel(events=["checks.failed"])
    response = admin_client.post("/api/providers/test-all", {}, format="json")
    assert response.status_code == 200 and response.json()["failed"] == 1
    event = AuditEvent.objects.get(event="checks.failed")
    assert event.payload["failed_providers"] == ["down"] and event.payload["checked"] == 1
    assert alerts_queued() == [("checks.failed", "", 0)]
