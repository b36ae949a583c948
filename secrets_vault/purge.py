"""The retention purge: superseded versions keep their value for VAULT_RETENTION_DAYS, no longer."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from secrets_vault.models import SecretVersion
from secrets_vault.services import retention

logger = logging.getLogger(__name__)


def expired_versions(now: datetime):
    """Superseded versions that still hold key material and left the retention window."""
    return SecretVersion.objects.filter(
        is_current=False, superseded_at__lt=now - retention(), purged_at__isnull=True
    ).exclude(wrapped_key__isnull=True, ciphertext__isnull=True)


def purge_expired_versions(*, now: datetime, dry_run: bool = False) -> int:
    """Destroy key material and ciphertext of expired versions; keep their metadata."""
    candidates = expired_versions(now)
    if dry_run:
        return candidates.count()
    with transaction.atomic():
        count = candidates.update(
            kid="", wrapped_key=None, key_nonce=None, nonce=None, ciphertext=None, purged_at=now
        )
    if count:
        logger.info("purged the values of %d secret version(s) past the retention window", count)
    return count
