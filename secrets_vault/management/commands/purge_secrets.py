"""Destroy the ciphertext of secret versions superseded longer than VAULT_RETENTION_DAYS ago.

The metadata (version, action, who, when, hint) stays; the key material and ciphertext are
set to NULL and `purged_at` is stamped, so the version can no longer be restored. The current
version is never purged. Run it daily from cron or a systemd timer (docs/vault.md); it is
idempotent.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from secrets_vault.purge import purge_expired_versions


class Command(BaseCommand):
    help = "Destroy the values of secret versions older than the retention window (metadata is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be purged; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        count = purge_expired_versions(now=timezone.now(), dry_run=dry_run)
        verb = "would be purged" if dry_run else "purged"
        self.stdout.write(f"{count} version(s) superseded more than {settings.VAULT_RETENTION_DAYS} day(s) ago {verb}.")
