"""`manage.py create_operator USERNAME [--role admin|viewer] [--password-stdin]`.

Without `--role` the user has no role: they see only the providers delegated to them
(`manage.py delegate`, or the provider's object permissions in the Django admin).
"""

from __future__ import annotations

import sys

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import ADMIN, ROLES


class Command(BaseCommand):
    help = (
        "Create an operator, with a role or (without --role) with none, seeing only what is delegated to them. "
        "Without --password-stdin the user can only use API tokens."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=ROLES, default=None, help="admin or viewer; omit for no role")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, role: str | None, password_stdin: bool, email: str, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"User {username!r} already exists.")
        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("No password on standard input.")
        with transaction.atomic():
            user = User(username=username, email=email, is_staff=(role == ADMIN))
            if password is None:
                user.set_unusable_password()
            else:
                try:
                    password_validation.validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError("Password rejected: " + " ".join(exc.messages)) from None
                user.set_password(password)
            try:
                user.full_clean(exclude=["password"])
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
            user.save()
            if role:
                user.groups.add(Group.objects.get(name=role))
        what = role or "user without a role (sees only what is delegated to them)"
        self.stdout.write(f"Created {what} {username}" + ("" if password else " (token-only: no password)"))
