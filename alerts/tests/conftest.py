"""Fixtures of the alerts' tests: a webhook channel with its secret, on a receiver of its own."""

from __future__ import annotations

import pytest

from alerts import services
from alerts.tests.receiver import Receiver

WEBHOOK_SECRET_CANARY = "whsec-CANARY-7f3a9e21-never-shown"


@pytest.fixture
def receiver():
    with Receiver(secret=WEBHOOK_SECRET_CANARY) as rx:
        yield rx


@pytest.fixture
def webhook_channel(db, admin_user, receiver):
    def make(**fields):
        data = {"id": "ops-hook", "name": "Ops hook", "kind": "webhook", "url": receiver.url,
                "events": ["provider.unreachable", "provider.degraded", "provider.recovered", "secret.cleared",
                           "checks.failed", "chain.serving_changed"]}
        data.update(fields)
        channel = services.create_channel(data, actor=admin_user)
        if channel.kind == "webhook":
            services.change_secret(channel, "set", WEBHOOK_SECRET_CANARY, actor=admin_user)
        return channel

    return make
