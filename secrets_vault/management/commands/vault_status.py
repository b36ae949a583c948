"""How many secret versions each kid protects, and whether a kid can be removed safely.

Exits with an error when some version is protected by a kid that is missing from VAULT_KEYS
(those values cannot be decrypted until the key is put back). `--new-key` prints a fresh
`kid:base64key` entry for VAULT_KEYS and touches nothing. The counts take in provider secrets and
the secrets of other owners (`OwnedSecretVersion`) alike.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q
from django.utils import timezone

from secrets_vault import crypto
from secrets_vault.models import OwnedSecretVersion, SecretVersion
from secrets_vault.services import retention


class Command(BaseCommand):
    help = "Show the key ring and how many secret versions each key protects."

    def add_arguments(self, parser):
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the status as JSON.")
        parser.add_argument("--new-key", metavar="KID", nargs="?", const="",
                            help="Print a new 'kid:base64key' entry for VAULT_KEYS and exit.")

    def handle(self, *args, as_json: bool = False, new_key: str | None = None, **options):
        if new_key is not None:
            try:
                self.stdout.write(crypto.generate_key_entry(new_key or None))
            except crypto.KeyRingError as exc:
                raise CommandError(str(exc)) from None
            return
        status = self.collect()
        if as_json:
            self.stdout.write(json.dumps(status, indent=2))
        else:
            self.print_text(status)
        if status["missing_kids"]:
            raise CommandError(
                "Some versions are protected by keys missing from VAULT_KEYS: "
                + ", ".join(f"{k} ({status['by_kid'][k]})" for k in status["missing_kids"])
                + ". Put those keys back to read them."
            )

    def collect(self) -> dict:
        ring = crypto.get_key_ring()
        now = timezone.now()
        counts: dict[str, int] = {}
        totals: dict[str, int] = {}
        for model in (SecretVersion, OwnedSecretVersion):
            for kid, n in (
                model.objects.filter(wrapped_key__isnull=False).values_list("kid").annotate(n=Count("pk"))
                .values_list("kid", "n")
            ):
                counts[kid] = counts.get(kid, 0) + n
            for name, n in model.objects.aggregate(
                versions=Count("pk"),
                current_with_value=Count("pk", filter=Q(is_current=True, ciphertext__isnull=False)),
                restorable=Count("pk", filter=Q(is_current=False, ciphertext__isnull=False,
                                                 superseded_at__gte=now - retention())),
                due_for_purge=Count("pk", filter=Q(is_current=False, ciphertext__isnull=False,
                                                    superseded_at__lt=now - retention())),
                purged=Count("pk", filter=Q(purged_at__isnull=False)),
            ).items():
                totals[name] = totals.get(name, 0) + n
        keys = []
        for kid in ring.kids:
            protected = counts.get(kid, 0)
            keys.append({
                "kid": kid,
                "active": kid == ring.active_kid,
                "versions": protected,
                "removable": kid != ring.active_kid and protected == 0,
            })
        missing = sorted(k for k in counts if k not in ring.keys)
        return {
            "active_kid": ring.active_kid,
            "keys": keys,
            "by_kid": counts,
            "missing_kids": missing,
            "totals": totals,
        }

    def print_text(self, status: dict) -> None:
        self.stdout.write(f"Active key: {status['active_kid']}")
        self.stdout.write("Keys in VAULT_KEYS:")
        for key in status["keys"]:
            if key["active"]:
                note = "active (encrypts new versions)"
            elif key["removable"]:
                note = "can be removed safely"
            else:
                note = "still needed: run rotate_vault_key, then remove"
            self.stdout.write(f"  {key['kid']:<32} {key['versions']:>8} version(s)  {note}")
        for kid in status["missing_kids"]:
            self.stdout.write(f"  {kid:<32} {status['by_kid'][kid]:>8} version(s)  MISSING from VAULT_KEYS")
        t = status["totals"]
        self.stdout.write(
            f"Versions: {t['versions']} in all, {t['current_with_value']} current with a value, "
            f"{t['restorable']} restorable, {t['due_for_purge']} due for purge, {t['purged']} purged."
        )

