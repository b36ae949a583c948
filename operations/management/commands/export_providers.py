"""`manage.py export_providers [--format yaml|json] [--output FILE]`: every live provider's public
fields as a file to keep in git (docs/configuration-as-code.md); never a secret, only whether
one is present."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from operations.configfile import current_export, dump


class Command(BaseCommand):
    help = "Write every live provider's public fields (ordered by id) as YAML or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="Default: yaml.")
        parser.add_argument("--output", metavar="FILE", help="Write to FILE instead of standard output.")

    def handle(self, *args, format: str, output: str | None, **options):
        # The file holds the providers alone: its version would make every export differ
        # from the last in git as soon as anything changed, on a line nobody edits.
        text = dump({"providers": current_export().providers}, format)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
