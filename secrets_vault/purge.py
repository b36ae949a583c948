"""The retention purge: superseded versions keep their value for VAULT_RETENTION_DAYS, no longer.

It covers provider secrets (`SecretVersion`) and the secrets of other owners (`OwnedSecretVersion`)
alike.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from secrets_vault.models import OwnedSecretVersion, SecretVersion
from secrets_vault.services import retention

logger = logging.getLogger(__name__)


def expired_versions(now: datetime, model=SecretVersion):
    """Superseded versions that still hold key material and left the retention window."""
    return model.objects.filter(
        is_current=False, superseded_at__lt=now - retention(), purged_at__isnull=True
    ).exclude(wrapped_key__isnull=True, ciphertext__isnull=True)


def purge_expired_versions(*, now: datetime, dry_run: bool = False) -> int:
    """Destroy key material and ciphertext of expired versions; keep their metadata."""
    candidates = [expired_versions(now, model) for model in (SecretVersion, OwnedSecretVersion)]
    if dry_run:
        return sum(queryset.count() for queryset in candidates)
    with transaction.atomic():
        count = sum(
            queryset.update(kid="", wrapped_key=None, key_nonce=None, nonce=None, ciphertext=None, purged_at=now)
            for queryset in candidates
        )
    if count:
        logger.info("purged the values of %d secret version(s) past the retention window", count)
    return count
