"""`manage.py import_providers FILE [--dry-run] [--prune]`: apply a file of providers (as
`export_providers` writes it) in one transaction, and print each provider's change and the
routing chain before and after. Exit 1 on an invalid file, with nothing applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from operations.configfile import ChangeNotAllowed, ConfigError, Result, apply, check_document, error_lines, parse
from providers.routing import Chain

# The actor the audit log names for changes made by this command.
ACTOR = "import_providers"


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value is not None else "—"


def chain_line(chain: Chain) -> str:
    """The chain's ids in order, the serving one marked with `*`."""
    ids = [f"{n.provider_id}*" if n.provider_id == chain.active_provider_id else n.provider_id for n in chain.nodes]
    return " → ".join(ids) if ids else "(empty)"


def report_lines(result: Result) -> list[str]:
    lines = []
    for change in result.changes:
        lines.append(f"{change.action} {change.provider_id}")
        for name, (before, after) in change.fields.items():
            lines.append(f"    {name}: {_value(before)} → {_value(after)}")
    lines.append(f"chain before: {chain_line(result.chain_before)}")
    lines.append(f"chain after:  {chain_line(result.chain_after)}")
    lines.append("(* serves)")
    return lines


class Command(BaseCommand):
    help = "Apply a YAML or JSON file of providers: create, update and (with --prune) archive, in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="A file written by export_providers (YAML or JSON).")
        parser.add_argument("--dry-run", action="store_true", help="Print the changes and the chain after; change nothing.")
        parser.add_argument("--prune", action="store_true", help="Archive live providers the file does not list.")

    def handle(self, *args, file: str, dry_run: bool, prune: bool, **options):
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read it: {exc}") from None
        try:
            # Only --prune archives: a file's own "prune" key is the API body's, not a command's.
            entries, _, _ = check_document(parse(text, path.name))
            result = apply(entries, prune=prune, actor=ACTOR, dry_run=dry_run)
        except ConfigError as exc:
            lines = error_lines(exc.errors)
            raise CommandError(f"{file}: invalid, nothing was applied:\n  " + "\n  ".join(lines)) from None
        except ChangeNotAllowed as exc:
            raise CommandError(f"{file}: {exc}; nothing was applied.") from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write("\n".join(report_lines(result)))
        changed = sum(change.action != "unchanged" for change in result.changes)
        if dry_run:
            self.stdout.write(f"Dry run: {changed} change(s) found, nothing was applied.")
        else:
            self.stdout.write(f"Applied {changed} change(s).")
