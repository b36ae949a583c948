"""Re-wrap every data key with the key ring's active key.

Procedure (docs/vault.md): put the new key first in VAULT_KEYS and keep the old one after it,
restart, run this command, check `vault_status`, then remove the old key.

Provider secrets (`SecretVersion`) and the secrets of other owners (`OwnedSecretVersion`) are
both re-wrapped. Only the wrapped data keys change; ciphertexts and values do not. Each batch is committed on
its own, so an interrupted run keeps its progress and the next run carries on; rows already on
the active key are skipped, so running it twice changes nothing the second time.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from secrets_vault import crypto
from secrets_vault.models import OwnedSecretVersion, SecretVersion


def _rewrap_provider_secret(row: SecretVersion, ring: crypto.KeyRing) -> crypto.Envelope:
    return crypto.rewrap(row.envelope(), provider_id=row.provider_id, field=row.field, version=row.version, ring=ring)


def _rewrap_owned_secret(row: OwnedSecretVersion, ring: crypto.KeyRing) -> crypto.Envelope:
    return crypto.rewrap_owned(row.envelope(), owner=row.owner, field=row.field, version=row.version, ring=ring)


# Each table of versions: the model, how one of its rows is re-wrapped, how it is named in an error,
# and the columns that takes.
TABLES = (
    (SecretVersion, _rewrap_provider_secret, lambda row: f"{row.provider_id}/{row.field} v{row.version}",
     ("pk", "provider_id", "field", "version", "kid", "wrapped_key", "key_nonce", "nonce", "ciphertext", "origin",
      "origin_in_aad")),
    (OwnedSecretVersion, _rewrap_owned_secret, lambda row: f"{row.owner}/{row.field} v{row.version}",
     ("pk", "owner", "field", "version", "kid", "wrapped_key", "key_nonce", "nonce", "ciphertext")),
)


class Command(BaseCommand):
    help = "Re-wrap every secret version's data key with the active key of VAULT_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows re-wrapped per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be re-wrapped; change nothing.")

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        ring = crypto.get_key_ring()
        active = ring.active_kid
        pendings = [model.objects.exclude(kid=active).exclude(kid="").filter(wrapped_key__isnull=False)
                    for model, *_ in TABLES]
        total = sum(pending.count() for pending in pendings)
        already = sum(model.objects.filter(kid=active, wrapped_key__isnull=False).count() for model, *_ in TABLES)
        self.stdout.write(f"Active key {active!r}: {total} version(s) to re-wrap, {already} already on it.")
        if dry_run or total == 0:
            self._report(rewrapped=0, already=already, failed={}, dry_run=dry_run, pending=total)
            return

        rewrapped = 0
        failed: dict[str, int] = {}
        for table, pending in zip(TABLES, pendings, strict=True):
            last_pk = 0
            while True:
                batch_ids = list(pending.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
                if not batch_ids:
                    break
                last_pk = batch_ids[-1]
                done, errors = self._rewrap_batch(table, batch_ids, ring)
                rewrapped += done
                for reason, count in errors.items():
                    failed[reason] = failed.get(reason, 0) + count
                self.stdout.write(f"  {rewrapped + sum(failed.values())}/{total} processed ({rewrapped} re-wrapped)")

        self._report(rewrapped=rewrapped, already=already, failed=failed, dry_run=False, pending=total)
        if failed:
            raise CommandError(
                f"{sum(failed.values())} version(s) could not be re-wrapped; they still need their old key. "
                "Fix the cause and run the command again."
            )

    def _rewrap_batch(self, table, ids: list[int], ring: crypto.KeyRing) -> tuple[int, dict[str, int]]:
        model, rewrap_row, name_of, columns = table
        errors: dict[str, int] = {}
        now = timezone.now()
        with transaction.atomic():
            # Lock the rows (PostgreSQL) and skip any that a concurrent run or purge handled.
            rows = list(
                model.objects.select_for_update()
                .filter(pk__in=ids, wrapped_key__isnull=False)
                .exclude(kid=ring.active_kid)
                .only(*columns)
            )
            changed = 0
            for row in rows:
                try:
                    envelope = rewrap_row(row, ring)
                except crypto.UnknownKeyError:
                    errors[f"unknown kid {row.kid!r}"] = errors.get(f"unknown kid {row.kid!r}", 0) + 1
                    continue
                except crypto.VaultError as exc:
                    name = type(exc).__name__
                    errors[name] = errors.get(name, 0) + 1
                    self.stderr.write(f"  {name_of(row)}: {exc}")
                    continue
                # Compare-and-set: a row purged or re-wrapped meanwhile is left as it is.
                changed += model.objects.filter(pk=row.pk, kid=row.kid, wrapped_key__isnull=False).update(
                    kid=envelope.kid, wrapped_key=envelope.wrapped_key, key_nonce=envelope.key_nonce, rewrapped_at=now
                )
        return changed, errors

    def _report(self, *, rewrapped: int, already: int, failed: dict[str, int], dry_run: bool, pending: int) -> None:
        if dry_run:
            self.stdout.write(f"Dry run: {pending} would be re-wrapped.")
            return
        self.stdout.write(
            f"Done: {rewrapped} re-wrapped, {already} already on the active key, {sum(failed.values())} failed."
        )
        for reason, count in sorted(failed.items()):
            self.stdout.write(f"  failed: {count} × {reason}")
