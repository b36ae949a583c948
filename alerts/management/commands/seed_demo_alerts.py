"""`manage.py seed_demo_alerts`: the demo's alert channel (`make seed`, `make run`; docs/alerts.md).

Creates the "Demo inbox" webhook channel, posting every alert to the provider simulator's inbox
(`<simulator>/alerts/inbox`, health/webhook_inbox.py) with a 60 s cooldown, and keeps its
webhook secret in the vault equal to the one the simulator checks signatures with
(--webhook-secret, or the environment's SIMULATOR_WEBHOOK_SECRET). Running it again changes
nothing, except the secret when it was given another one: a channel an admin edited keeps its
fields. The secret is never printed.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from alerts import services
from alerts.models import SUBSCRIBABLE, AlertChannel
from secrets_vault import api as vault

CHANNEL_ID = "demo-inbox"
INBOX_PATH = "/alerts/inbox"
COOLDOWN_S = 60
ACTOR = "seed_demo_alerts"


class Command(BaseCommand):
    help = "Create the demo's webhook alert channel to the provider simulator's inbox (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8900")
        parser.add_argument(
            "--webhook-secret", default=os.environ.get("SIMULATOR_WEBHOOK_SECRET", ""),
            help="the secret the simulator checks signatures with (default: SIMULATOR_WEBHOOK_SECRET)",
        )

    def handle(self, *args: Any, simulator_url: str, webhook_secret: str, **options: Any) -> None:
        if not webhook_secret:
            raise CommandError("Give --webhook-secret or set SIMULATOR_WEBHOOK_SECRET: the simulator's inbox "
                               "checks each alert's signature with it.")
        url = simulator_url.rstrip("/") + INBOX_PATH
        with transaction.atomic():
            channel = AlertChannel.objects.select_for_update().filter(pk=CHANNEL_ID).first()
            created = channel is None
            if created:
                channel = services.create_channel(
                    {"id": CHANNEL_ID, "name": "Demo inbox", "kind": "webhook", "url": url,
                     "events": list(SUBSCRIBABLE), "providers": [], "kinds": [], "enabled": True,
                     "cooldown_s": COOLDOWN_S},
                    actor=ACTOR,
                )
            elif channel.kind != "webhook":
                raise CommandError(f"A {channel.kind} channel {CHANNEL_ID!r} exists; the demo's inbox needs a webhook "
                                   "channel of that id. Delete or rename it first.")
            secret_action = self._secret_action(channel, webhook_secret)
            if secret_action:
                services.change_secret(channel, secret_action, webhook_secret, actor=ACTOR)
        if created:
            self.stdout.write(f"Demo alert channel {channel.name!r} created: every alert to {channel.url}, "
                              f"cooldown {COOLDOWN_S} s, webhook secret set")
        elif secret_action:
            self.stdout.write(f"Demo alert channel {channel.name!r}: webhook secret {secret_action}")

    def _secret_action(self, channel: AlertChannel, secret: str) -> str | None:
        """What to do with the stored secret: "set" when there is none, "rotate" when it is another
        one, None when it is this one."""
        stored = vault.reveal_owned_secret(channel.vault_owner, services.WEBHOOK_SECRET)
        if stored is None:
            return "set"
        return None if stored == secret else "rotate"
