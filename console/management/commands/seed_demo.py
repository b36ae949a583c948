"""`manage.py seed_demo`: demo users and providers for a fresh install (`make run`).

Users are created only when the database has none, providers only when there are none, so
running it again never touches real data. Demo providers point at the local simulator
(`manage.py simulate_providers`), so Test works with no internet.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import ADMIN, VIEWER
from providers import services
from providers.models import Provider
from secrets_vault.services import set_secret

DEMO_OPENAI_KEY = "sk-demo-openai"  # the simulator's demo key, not a real credential


def demo_providers(simulator: str) -> list[dict]:
    return [
        dict(id="openai-demo", name="openai-demo", display_name="OpenAI-compatible (demo)",
             kind="openai_compatible", endpoint=f"{simulator}/openai/v1", default_model="gpt-4o-mini",
             fallback_models=["gpt-4o"], priority=10, metadata={"region": "local", "team": "platform"},
             capabilities={"tools": True, "max_context": 128000}),
        dict(id="ollama-local", name="ollama-local", display_name="Ollama (local)", kind="ollama",
             endpoint=f"{simulator}/ollama", default_model="llama3.2:3b", fallback_models=["qwen2.5:7b"],
             priority=20),
        dict(id="llamacpp-box", name="llamacpp-box", display_name="llama.cpp server", kind="llama_cpp",
             endpoint=f"{simulator}/llamacpp", default_model="local-model", priority=30, status="standby"),
        dict(id="flaky-cloud", name="flaky-cloud", display_name="Flaky cloud (demo)", kind="openai_compatible",
             endpoint=f"{simulator}/flaky/v1", default_model="gpt-4o-mini", secret_policy="optional",
             priority=40, status="standby"),
        dict(id="slow-cloud", name="slow-cloud", display_name="Slow cloud (demo)", kind="openai_compatible",
             endpoint=f"{simulator}/slow/v1", default_model="gpt-4o-mini", secret_policy="optional",
             priority=50, status="standby", timeout_ms=5000),
    ]


class Command(BaseCommand):
    help = "Create demo users (only if there are no users) and demo providers (only if there are none)."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-url", default="http://127.0.0.1:8900")

    def handle(self, *args, simulator_url: str, **options):
        self._seed_users()
        self._seed_providers(simulator_url.rstrip("/"))

    def _seed_users(self) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        lines = []
        with transaction.atomic():
            for username, role in (("admin", ADMIN), ("viewer", VIEWER)):
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(username=username, password=password, is_staff=(role == ADMIN))
                user.groups.add(Group.objects.get(name=role))
                lines.append(f"  {username:<7} {password}")
        self.stdout.write("Demo users (passwords are shown this once):\n" + "\n".join(lines))

    def _seed_providers(self, simulator: str) -> None:
        if Provider.objects.exists():
            return
        with transaction.atomic():
            for data in demo_providers(simulator):
                services.create_provider(data)
            set_secret(Provider.objects.get(pk="openai-demo"), DEMO_OPENAI_KEY, hint="simulator demo key")
        self.stdout.write(f"Demo providers created, pointing at the simulator on {simulator}")
