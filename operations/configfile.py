"""Configuration as code: the providers as a file (export), and a file applied back (import).

One module for the commands (`export_providers`, `import_providers`) and the API
(`GET`/`POST /api/config`), so a file means the same thing whichever way it comes in:

- **Export**: every live provider's public fields (what the API accepts on create, in the
  order of `providers.serializers.WRITABLE_FIELDS`) and `secret_present`, ordered by id.
  `status` is the operator's (active, standby, disabled): health's degraded and unreachable
  come and go and could not be applied back. Nested objects have their keys sorted, so the file
  reads the same on SQLite and on PostgreSQL (jsonb reorders keys).
- **Version**: the sha256 of the export's canonical JSON; it changes whenever an exported field
  does, and `If-Match` compares it.
- **Apply**: each provider validated by the API's own serializer (`ProviderFieldsSerializer`),
  then, in one transaction with every provider row locked, created, updated (only the fields
  that differ, at the version read under the lock) and, with `prune`, archived, through
  `providers.services`, so each change has the API's audit event (an entry exactly as exported
  is `unchanged` and skips all of that). A dry run does all of it and
  rolls it back: what it reports (field diffs, the chain after, refusals) is what applying
  would do, and nothing of it stays, no audit row and no broadcast.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from console.readmodel import routing_inputs
from providers import services
from providers.models import Provider
from providers.routing import Chain, compute_chain
from providers.serializers import WRITABLE_FIELDS, ProviderFieldsSerializer
from providers.signals import ChangeConflict, ChangeRefused
from secrets_vault import api as vault

# The keys of one provider in a file, in this order.
EXPORTED_FIELDS = (*WRITABLE_FIELDS, "secret_present")
# Read from a file but never applied: a secret is never imported (set it with the secret API).
IGNORED_ON_IMPORT = ("secret_present",)
# The top-level keys a file may have: it is the body of POST /api/config, or GET's answer
# saved (its `version` is read and ignored: the precondition is the request's If-Match).
DOCUMENT_KEYS = ("version", "providers", "prune")

ACTIONS = ("create", "update", "archive", "unchanged")


class ConfigError(Exception):
    """The file or body is invalid; nothing was applied.

    `errors` has the API's error shape: `{"providers": {"<provider id>": {"<field>": [texts]}}}`
    (a provider without a usable id is named by its place, `#2`), or `{"<key>": [texts]}` for
    the document itself.
    """

    def __init__(self, errors: dict[str, Any]):
        self.errors = errors
        super().__init__("; ".join(error_lines(errors)))


class StaleConfiguration(Exception):
    """The configuration is no longer at the version the caller read; nothing was applied."""

    def __init__(self, current: str):
        self.current = current
        super().__init__(
            f"The configuration changed since you read it (it is now at version {current}); "
            "export it again and re-apply your change."
        )


class ChangeNotAllowed(Exception):
    """A provider's change was refused by another app's rule (the vault's, for an endpoint that
    moves a secret to another origin); `conflict` tells a 409 from a 403."""

    def __init__(self, provider_id: str, message: str, *, conflict: bool):
        self.provider_id, self.conflict = provider_id, conflict
        super().__init__(f"provider {provider_id}: {message}")


def error_lines(errors: dict[str, Any]) -> list[str]:
    """`errors` (ConfigError's shape) as one line per field: `provider b: priority: …`."""
    lines = []
    for key, value in errors.items():
        if key == "providers" and isinstance(value, dict):
            for provider, fields in value.items():
                for name, messages in fields.items():
                    lines.append(f"provider {provider}: {name}: {' '.join(map(str, messages))}")
        else:
            lines.append(f"{key}: {' '.join(map(str, value)) if isinstance(value, list) else value}")
    return lines


# --- export ------------------------------------------------------------------------------


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


# The columns a row is made of: the exported fields, with `tier` for the operator's status.
_COLUMNS = (*(name for name in WRITABLE_FIELDS if name != "status"), "tier")


def export_row(values: dict[str, Any] | Provider, secret_present: bool) -> dict[str, Any]:
    """A provider's row of the file, from its `_COLUMNS` (a `.values()` row, or a Provider).

    The values as stored are what `ProviderFieldsSerializer` writes for these fields (text,
    numbers, booleans, JSON as is; `test_config_commands.py` holds them equal), read without
    building a serializer per row: at 1,000 providers that was most of the export's time.
    """
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
    row = {name: _sorted_keys(get(name)) for name in WRITABLE_FIELDS if name != "status"}
    row["status"] = "disabled" if not get("enabled") else str(get("tier"))
    row["secret_present"] = bool(secret_present)
    return {name: row[name] for name in EXPORTED_FIELDS}


def version_of(rows: list[dict[str, Any]]) -> str:
    canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Export:
    version: str
    providers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "providers": self.providers}


def current_export() -> Export:
    """Every live provider, ordered by id: two queries whatever the fleet's size."""
    with_secret = set(vault.provider_ids_with_secret().filter(provider__archived_at__isnull=True))
    rows = [export_row(values, values["id"] in with_secret)
            for values in Provider.objects.live().order_by("id").values(*_COLUMNS)]
    return Export(version=version_of(rows), providers=rows)


# --- files -------------------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Block style, no `&id001` aliases (a shared list would otherwise be written once)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(document: dict[str, Any], fmt: str) -> str:
    """`document` as a YAML (block style, our key order) or JSON (indented) text."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (PyYAML keeps the last), and
    aliases (`*name`): an export has none, and nested ones expand a small text into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted: write each value out (export_providers "
                "does; PyYAML writes an alias for an object used twice)", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"the key {twice[0]!r} is given twice")
    return dict(pairs)


def detect_format(text: str, filename: str | None = None) -> str:
    """`json` or `yaml`: by the file's extension, else by its first character."""
    suffix = Path(filename).suffix.lower() if filename else ""
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


def parse(text: str, filename: str | None = None) -> dict[str, Any]:
    """A file's text as a document `{"providers": [...], "prune"?, "version"?}`; a bare list
    of providers is read as `{"providers": that list}`. Raises ConfigError on a syntax error."""
    fmt = detect_format(text, filename)
    try:
        if fmt == "json":
            data = json.loads(text, object_pairs_hook=_unique_pairs)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError({"file": [f"Not valid {fmt.upper()}: {exc}"]}) from None
    if isinstance(data, list):
        data = {"providers": data}
    return data


def check_document(data: Any) -> tuple[list[dict[str, Any]], bool, str | None]:
    """(providers, prune, version) of a parsed file or request body; raises ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError({"providers": ["Expected an object with a list of providers under \"providers\"."]})
    unknown = sorted(str(key) for key in data if key not in DOCUMENT_KEYS)
    if unknown:
        raise ConfigError({key: ["Unknown field."] for key in unknown})
    if "providers" not in data:
        raise ConfigError({"providers": ["This field is required."]})
    providers, prune, version = data["providers"], data.get("prune", False), data.get("version")
    if not isinstance(providers, list):
        raise ConfigError({"providers": ["Expected a list of providers."]})
    if not isinstance(prune, bool):
        raise ConfigError({"prune": ["Must be true or false."]})
    if version is not None and not isinstance(version, str):
        raise ConfigError({"version": ["Must be the version text of an export."]})
    return providers, prune, version


# --- apply -------------------------------------------------------------------------------


@dataclass
class Change:
    provider_id: str
    action: str
    fields: dict[str, list[Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"provider_id": self.provider_id, "action": self.action, "fields": self.fields}


@dataclass
class Result:
    applied: bool
    changes: list[Change]
    chain_before: Chain
    chain_after: Chain
    version_before: str
    version_after: str
    warnings: list[str]

    @staticmethod
    def chain_ids(chain: Chain) -> list[str]:
        return [node.provider_id for node in chain.nodes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "version": self.version_after if self.applied else self.version_before,
            "changes": [change.to_dict() for change in self.changes],
            "chain_before": self.chain_ids(self.chain_before),
            "chain_after": self.chain_ids(self.chain_after),
            "serving_before": self.chain_before.active_provider_id,
            "serving_after": self.chain_after.active_provider_id,
            "warnings": self.warnings,
        }


@dataclass
class _Planned:
    change: Change
    provider: Provider | None = None
    data: dict[str, Any] = field(default_factory=dict)


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its transaction back, carrying what it found."""

    def __init__(self, result: Result):
        self.result = result


def _label(entry: Any, index: int) -> str:
    pid = entry.get("id") if isinstance(entry, dict) else None
    return pid if isinstance(pid, str) and pid else f"#{index + 1}"


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [before[name], after[name]] for name in WRITABLE_FIELDS if before[name] != after[name]}


def _plan(entries: list[Any], prune: bool, existing: dict[str, Provider], exported: dict[str, dict[str, Any]]):
    """What applying `entries` changes, validated in full; raises ConfigError naming every
    invalid provider and field. `exported`: the current export's rows by id. Returns (planned
    changes in file order then archives, warnings)."""
    errors: dict[str, dict[str, list[str]]] = {}
    planned: list[_Planned] = []
    warnings: list[str] = []
    seen_ids: dict[str, int] = {}
    # Providers as they would be, diffed once every entry is valid.
    candidates: list[tuple[_Planned, Provider]] = []

    def fail(label: str, name: str, message: str) -> None:
        errors.setdefault(label, {}).setdefault(name, []).append(message)

    for index, entry in enumerate(entries):
        label = _label(entry, index)
        if not isinstance(entry, dict):
            fail(label, "non_field_errors", "Expected an object with the provider's fields.")
            continue
        pid = entry.get("id")
        if not isinstance(pid, str) or not pid:
            fail(label, "id", "This field is required." if pid is None else "Must be the provider's id (text).")
            continue
        if pid in seen_ids:
            fail(label, "id", f"The id {pid} is given twice (providers #{seen_ids[pid] + 1} and #{index + 1}).")
            continue
        seen_ids[pid] = index
        claims_secret = entry.get("secret_present")
        if claims_secret is not None and not isinstance(claims_secret, bool):
            fail(label, "secret_present", "Must be true or false (it is only compared, never applied).")
            continue
        data = {key: value for key, value in entry.items() if key not in IGNORED_ON_IMPORT}
        current = existing.get(pid)
        if current is not None and current.archived_at is not None:
            fail(label, "id", f"The provider {pid} is archived; restore it first (POST /api/providers/{pid}/restore).")
            continue
        row = exported.get(pid)
        if claims_secret and not (row and row["secret_present"]):
            warnings.append(f"{pid}: the file says a secret is present, but none is stored; set it with the secret API.")
        if row is not None and data == {name: row[name] for name in WRITABLE_FIELDS}:
            # Exactly what the export says (most of a file kept in git): nothing to change, and
            # nothing to validate, as the API would not refuse a PATCH that changes nothing.
            planned.append(_Planned(Change(pid, "unchanged", {}), current, {}))
            continue
        serializer = ProviderFieldsSerializer(current, data=data, partial=current is not None)
        if not serializer.is_valid():
            for name, messages in serializer.errors.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    fail(label, name, str(message))
            continue
        validated = dict(serializer.validated_data)
        if current is None:
            candidate = Provider(**{k: v for k, v in validated.items() if k not in ("status", "enabled")})
            services.apply_operator_status(candidate, status=validated.get("status"), enabled=validated.get("enabled"))
            candidate.fill_defaults()
            item = _Planned(Change(pid, "create"), None, validated)
        else:
            candidate = copy.copy(current)
            changes = {k: v for k, v in validated.items() if k != "id"}
            status_change = {k: changes.pop(k) for k in ("status", "enabled") if k in changes}
            for name, value in changes.items():
                setattr(candidate, name, value)
            services.apply_operator_status(candidate, **status_change)
            item = _Planned(Change(pid, "update"), current, validated)
        planned.append(item)
        candidates.append((item, candidate))

    if errors:
        raise ConfigError({"providers": errors})

    for item, candidate in candidates:
        after = export_row(candidate, False)
        if item.change.action == "create":
            item.change.fields = {name: [None, after[name]] for name in WRITABLE_FIELDS}
            continue
        fields = _diff(exported[item.change.provider_id], after)
        item.change.fields = fields
        item.change.action = "update" if fields else "unchanged"
        # Only the fields that differ go to the service: re-sending `status: active` to a
        # provider health marked degraded would lift the overlay the check set.
        validated = item.data
        item.data = {name: validated[name] for name in fields if name in validated}
        if "status" in fields or "enabled" in fields:
            item.data.update({k: validated[k] for k in ("status", "enabled") if k in validated})

    # Names are unique across every provider, archived ones included: the names as they will be.
    in_file = {p.change.provider_id for p in planned}
    final_names: dict[str, str] = {
        p.id: p.name for p in existing.values() if p.id not in in_file
    }
    for item in planned:
        pid = item.change.provider_id
        final_names[pid] = item.data.get("name", item.provider.name if item.provider else None)
    by_name: dict[str, list[str]] = {}
    for pid, name in final_names.items():
        by_name.setdefault(name, []).append(pid)
    for item in planned:
        pid = item.change.provider_id
        others = [o for o in by_name[final_names[pid]] if o != pid]
        if others and "name" in item.change.fields:
            fail(pid, "name", f"The name {final_names[pid]!r} is also the name of provider {others[0]} "
                 "(archived ones count).")

    if errors:
        raise ConfigError({"providers": errors})

    if prune:
        for pid, provider in sorted(existing.items()):
            if provider.archived_at is None and pid not in in_file:
                planned.append(_Planned(Change(pid, "archive", {}), provider))
    return planned, warnings


def _chain() -> Chain:
    # The routing engine's inputs alone (two queries), as the chain preview reads them.
    return compute_chain(routing_inputs().values())


def apply(
    entries: list[Any],
    *,
    prune: bool = False,
    actor=None,
    dry_run: bool = False,
    expected_versions: Collection[str] | None = None,
) -> Result:
    """Apply a file's providers in one transaction (see the module's docstring).

    Raises ConfigError (invalid file; nothing applied), StaleConfiguration (the current version
    is none of `expected_versions`, the versions an `If-Match` names; None: any) or
    ChangeNotAllowed (a rule of another app refused a change).
    """
    try:
        with transaction.atomic():
            result = _apply_locked(
                entries, prune=prune, actor=actor, expected_versions=expected_versions, dry_run=dry_run
            )
            if dry_run:
                raise _DryRun(result)
    except _DryRun as rolled_back:
        result = rolled_back.result
    return result


def _apply_locked(
    entries: list[Any], *, prune: bool, actor, expected_versions: Collection[str] | None, dry_run: bool
) -> Result:
    # Every provider row locked until the end: nobody changes the configuration between the
    # version compared here and the changes made below.
    existing = {p.id: p for p in Provider.objects.select_for_update().order_by("id")}
    before = current_export()
    # An invalid file is reported as such whatever its version: it needs fixing either way.
    planned, warnings = _plan(entries, prune, existing, {row["id"]: row for row in before.providers})
    if expected_versions is not None and before.version not in expected_versions:
        raise StaleConfiguration(before.version)
    chain_before = _chain()

    for item in planned:
        pid, action = item.change.provider_id, item.change.action
        if action == "unchanged":
            continue
        try:
            if action == "create":
                services.create_provider(item.data, actor=actor)
            elif action == "update":
                services.update_provider(item.provider, item.data, actor=actor, expected_version=item.provider.version)
            elif action == "archive":
                services.archive_provider(item.provider, actor=actor, expected_version=item.provider.version)
        except services.VersionMismatch:
            # Not with the rows locked above; kept so a change of that rule is a 412, not a 500.
            raise StaleConfiguration("(changed while applying)") from None
        except IntegrityError:
            # Two providers exchanging names in one file meet the unique name half-way.
            raise ConfigError({"providers": {pid: {"name": [
                "This name is still another provider's at this point of the file; rename in two steps."
            ]}}}) from None
        except DjangoValidationError as exc:
            # The model's own rules, which the serializer already applied; kept as a 400 should
            # one of them ever see more than the serializer does.
            fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise ConfigError({"providers": {pid: fields}}) from None
        except ChangeRefused as exc:
            raise ChangeNotAllowed(pid, str(exc), conflict=False) from None
        except ChangeConflict as exc:
            raise ChangeNotAllowed(pid, str(exc), conflict=True) from None

    changed = any(item.change.action != "unchanged" for item in planned)
    return Result(
        applied=not dry_run,
        changes=[item.change for item in planned],
        chain_before=chain_before,
        chain_after=_chain() if changed else chain_before,
        version_before=before.version,
        # A dry run is rolled back: the version stays what it was.
        version_after=current_export().version if changed and not dry_run else before.version,
        warnings=warnings,
    )
