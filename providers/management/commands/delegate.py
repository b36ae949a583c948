"""`manage.py delegate USERNAME PROVIDER_ID --perm view|change|test [--perm …] [--revoke]`.

Gives one user rights on one provider with django-guardian object permissions, as the Django
admin's object-permission screen does. `change` and `test` grant `view` too (a provider the user
cannot see answers 404 whatever else they hold); revoking `view` revokes all three.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from guardian.shortcuts import assign_perm, get_user_perms, remove_perm

from providers.models import Provider

PERMISSIONS = {"view": "view_provider", "change": "change_provider", "test": "test_provider"}


class Command(BaseCommand):
    help = "Delegate one provider to a user (object permissions); --revoke takes them back."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("provider_id")
        parser.add_argument(
            "--perm", action="append", choices=sorted(PERMISSIONS), required=True, dest="perms",
            help="view, change or test; repeat for several. change and test include view.",
        )
        parser.add_argument("--revoke", action="store_true", help="take the permissions back instead")

    def handle(self, *args, username: str, provider_id: str, perms: list[str], revoke: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create it with `manage.py create_operator {username}`.")
        provider = Provider.objects.filter(pk=provider_id).first()
        if provider is None:
            raise CommandError(f"No provider {provider_id!r}.")
        wanted = set(perms)
        if revoke and "view" in wanted:
            wanted = set(PERMISSIONS)
        elif not revoke:
            wanted.add("view")
        with transaction.atomic():
            for name in sorted(wanted):
                codename = f"providers.{PERMISSIONS[name]}"
                (remove_perm if revoke else assign_perm)(codename, user, provider)
        held = sorted(name for name, code in PERMISSIONS.items() if code in set(get_user_perms(user, provider)))
        verb = "Revoked" if revoke else "Granted"
        self.stdout.write(
            f"{verb} {', '.join(sorted(wanted))} on {provider.pk} for {user.get_username()}; "
            f"now holds: {', '.join(held) or 'nothing'}."
        )
