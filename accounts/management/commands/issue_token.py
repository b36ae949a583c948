"""`manage.py issue_token USERNAME`: prints a new API token once, on its own line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API token for a user. The token is printed once and stored only as a digest."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label to tell tokens apart")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        _, raw = ApiToken.issue(user, name=name)
        self.stderr.write(f"Token for {username} (shown once; send it as 'Authorization: Bearer <token>'):")
        self.stdout.write(raw)
