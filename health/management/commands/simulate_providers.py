"""`manage.py simulate_providers`: local OpenAI-compatible, Ollama and llama.cpp servers.

Serves every route of `health.simulator.default_routes()` on one port (127.0.0.1:8900 by
default), or the routes of a JSON file given with --config. Runs until interrupted.

It receives alert webhooks too (`POST /alerts/inbox`, listed by `GET /alerts/inbox`;
health/webhook_inbox.py): given the demo's webhook secret (--webhook-secret or the environment's
SIMULATOR_WEBHOOK_SECRET) it checks each alert's signature, and prints one line per alert.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from health.simulator import FAILURE_MODES, Route, SimulatorServer, default_routes
from health.webhook_inbox import INBOX_PATH, WebhookInbox


class Command(BaseCommand):
    help = "Serve simulated LLM providers on 127.0.0.1 for local testing and the demo."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument("--latency-ms", type=int, default=0, help="added to every route's latency")
        parser.add_argument(
            "--openai-key", default="sk-demo-openai",
            help="key /openai/v1 requires as 'Authorization: Bearer KEY'; empty for none",
        )
        parser.add_argument("--flaky-rate", type=float, default=0.3, help="share of /flaky/v1 requests that fail")
        parser.add_argument(
            "--config", type=Path,
            help='JSON list of routes replacing the defaults: [{"prefix", "kind", "models", "latency_ms", '
            f'"api_key", "failures" (of {", ".join(FAILURE_MODES)}), "failure_rate"}}]',
        )
        parser.add_argument("--seed", type=int, help="seed for the random failures, for repeatable runs")
        parser.add_argument("--verbose-requests", action="store_true", help="log every request")
        parser.add_argument(
            "--webhook-secret", default=os.environ.get("SIMULATOR_WEBHOOK_SECRET", ""),
            help=f"check the signature of alerts posted to {INBOX_PATH} with this secret "
            "(default: the environment's SIMULATOR_WEBHOOK_SECRET; empty: not checked)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["config"]:
            try:
                routes = [Route.from_dict(item) for item in json.loads(options["config"].read_text())]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"Cannot use {options['config']}: {exc}") from exc
            for route in routes:
                route.latency_ms += options["latency_ms"]
        else:
            routes = default_routes(
                openai_key=options["openai_key"] or None,
                flaky_rate=options["flaky_rate"],
                extra_latency_ms=options["latency_ms"],
            )
        try:
            inbox = WebhookInbox(options["webhook_secret"] or None, log=self._print_now)
            server = SimulatorServer(routes, options["host"], options["port"], seed=options["seed"], inbox=inbox)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        server.verbose = options["verbose_requests"]
        self.stdout.write(f"Provider simulator on {server.base_url}")
        for route in sorted(routes, key=lambda r: r.prefix):
            extras = []
            if route.models:
                extras.append("models " + ", ".join(route.models))
            if route.api_key:
                extras.append("Bearer key required")
            if route.latency_ms:
                extras.append(f"{route.latency_ms} ms")
            if route.failures:
                extras.append(f"fails {route.failure_rate:.0%}: {'/'.join(route.failures)}")
            self.stdout.write(f"  {server.url(route.prefix):45} {route.kind:18} {'; '.join(extras)}")
        checked = "signatures checked" if inbox.secret else "signatures not checked (no --webhook-secret)"
        self.stdout.write(f"  {server.url(INBOX_PATH):45} {'alert inbox':18} {checked}")
        self.stdout.write("Ctrl-C to stop.")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.stopping.set()
            server.server_close()

    def _print_now(self, line: str) -> None:
        # Printed from the request's thread as it arrives, beside the site's own output.
        self.stdout.write(line)
        self.stdout.flush()
