"""`export_providers` and `import_providers` through call_command, and once end to end in
subprocesses on a file database (docs/configuration-as-code.md)."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from providers.models import Provider
from providers.serializers import WRITABLE_FIELDS, ProviderFieldsSerializer
from providers.tests.factories import ProviderFactory
from secrets_vault.services import set_secret
from tests.site_process import migrated_sqlite_database

pytestmark = pytest.mark.django_db

CANARY = "sk-config-canary-7c31e9"
ROOT = Path(settings.BASE_DIR)


def export(fmt: str = "yaml") -> str:
    out = io.StringIO()
    call_command("export_providers", "--format", fmt, stdout=out)
    return out.getvalue()


def run_import(path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_providers", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, document, name: str = "providers.yaml") -> Path:
    path = tmp_path / name
    text = json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document, sort_keys=False)
    path.write_text(text)
    return path


def snapshot() -> list[tuple]:
    """Every provider row as stored, and the audit log's size: what a refused import must leave."""
    rows = list(Provider.objects.order_by("id").values_list())
    return [rows, AuditEvent.objects.count()]


@pytest.fixture
def fleet(db):
    """Three providers: a (OpenAI-compatible) with a secret (the canary), b and c (Ollama, no
    secret needed); a serves (lowest priority), then b, then c."""
    a = ProviderFactory(id="a", priority=10, metadata={"team": "ml", "env": "prod"})
    b = ProviderFactory(id="b", priority=20, kind="ollama", endpoint="http://127.0.0.1:11435", default_model="llama3",
                        fallback_models=[])
    c = ProviderFactory(id="c", priority=30, kind="ollama", endpoint="http://127.0.0.1:11434", default_model="llama3",
                        fallback_models=[])
    set_secret(a, CANARY)
    return a, b, c


def test_export_lists_live_providers_by_id_with_public_fields_in_a_fixed_order(fleet):
    ProviderFactory(id="zz-archived", archived_at="2026-01-01T00:00:00Z")
    document = yaml.safe_load(export())
    assert list(document) == ["providers"]
    rows = document["providers"]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert list(rows[0]) == [
        "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models", "status", "enabled",
        "priority", "capabilities", "secret_policy", "retries", "timeout_ms", "tool_timeout_ms", "metadata",
        "secret_present",
    ]
    assert [r["secret_present"] for r in rows] == [True, False, False]
    # Nested keys sorted, so SQLite and PostgreSQL (jsonb) write the same file.
    assert list(rows[0]["metadata"]) == ["env", "team"]


def test_export_rows_are_what_the_api_serializer_writes(fleet):
    """The export reads the stored values without a serializer per row; they must stay what
    ProviderFieldsSerializer (the API's reading of a provider) writes, status aside."""
    ProviderFactory(id="d", capabilities={"tools": True, "vision": False}, metadata={"n": 1, "flag": True, "list": ["x"]},
                    retries=0, display_name="")
    rows = {r["id"]: r for r in yaml.safe_load(export())["providers"]}
    for provider in Provider.objects.all():
        api = ProviderFieldsSerializer(provider, context={"mask_metadata": lambda obj: False}).data
        assert {k: v for k, v in rows[provider.id].items() if k not in ("status", "secret_present")} == {
            k: api[k] for k in WRITABLE_FIELDS if k != "status"
        }


def test_export_yaml_is_block_style_and_json_is_the_same_content(fleet):
    text = export("yaml")
    # Empty collections are written `{}` and `[]`; anything with content in block style.
    flowless = text.replace("{}", "").replace("[]", "")
    assert "{" not in flowless and "[" not in flowless and "&id" not in text and "*id" not in text
    assert "- id: a\n" in text
    assert json.loads(export("json")) == yaml.safe_load(text)


def test_export_never_holds_the_secret_or_its_metadata(fleet):
    for fmt in ("yaml", "json"):
        text = export(fmt)
        assert CANARY not in text and CANARY[-6:] not in text
        assert "secret_version" not in text and "secret_id_hint" not in text and "secret_origin" not in text


def test_export_writes_the_status_the_operator_set_not_healths_overlay(fleet):
    Provider.objects.filter(id="b").update(status="degraded")  # a health check's move; tier stays active
    Provider.objects.filter(id="c").update(status="disabled", enabled=False)
    rows = {r["id"]: r for r in yaml.safe_load(export())["providers"]}
    assert (rows["b"]["status"], rows["b"]["enabled"]) == ("active", True)
    assert (rows["c"]["status"], rows["c"]["enabled"]) == ("disabled", False)


def test_export_to_a_file(fleet, tmp_path):
    call_command("export_providers", "--format", "json", "--output", str(tmp_path / "out.json"), stdout=io.StringIO())
    assert [r["id"] for r in json.loads((tmp_path / "out.json").read_text())["providers"]] == ["a", "b", "c"]


def test_round_trip_is_all_unchanged_and_writes_nothing(fleet, tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(export())
    before = snapshot()
    out, err = run_import(path)
    assert out.splitlines()[:3] == ["unchanged a", "unchanged b", "unchanged c"]
    assert "Applied 0 change(s)." in out and err == ""
    assert snapshot() == before


def test_import_creates_updates_and_prints_the_diff_and_the_chain(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][1]["priority"] = 5  # b now ranks first and serves
    document["providers"][1]["display_name"] = "B prime"
    document["providers"].append({
        "id": "d", "name": "d", "kind": "ollama", "endpoint": "http://127.0.0.1:11500", "default_model": "qwen",
        "priority": 40,
    })
    out, _ = run_import(write(tmp_path, document))
    lines = out.splitlines()
    assert lines[0] == "unchanged a"
    assert lines[1:4] == ["update b", '    display_name: "B" → "B prime"', "    priority: 20 → 5"]
    assert lines[4] == "unchanged c"
    assert lines[5] == "create d"
    assert '    name: — → "d"' in lines and '    secret_policy: — → "none"' in lines
    assert "chain before: a* → b → c" in lines
    assert "chain after:  b* → a → c → d" in lines
    b = Provider.objects.get(id="b")
    assert (b.priority, b.display_name, b.version) == (5, "B prime", 2)
    assert Provider.objects.get(id="d").secret_policy == "none"
    events = list(AuditEvent.objects.filter(event__in=["provider.created", "provider.updated"]).order_by("id"))
    assert [(e.event, e.provider_id, e.actor_name) for e in events] == [
        ("provider.updated", "b", "import_providers"), ("provider.created", "d", "import_providers"),
    ]
    assert events[0].payload["changes"]["priority"] == {"before": 20, "after": 5}


def test_prune_archives_live_providers_the_file_leaves_out(fleet, tmp_path):
    document = yaml.safe_load(export())
    del document["providers"][0]  # a
    path = write(tmp_path, document)
    out, _ = run_import(path)  # without --prune: a stays
    assert "archive" not in out and Provider.objects.get(id="a").archived_at is None
    out, _ = run_import(path, "--prune")
    assert "archive a" in out.splitlines()
    assert "chain after:  b* → c" in out
    assert Provider.objects.get(id="a").archived_at is not None
    assert AuditEvent.objects.filter(event="provider.archived", provider_id="a", actor_name="import_providers").count() == 1


def test_dry_run_prints_the_same_and_changes_nothing(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][1]["priority"] = 5
    document["providers"].append({"id": "d", "name": "d", "kind": "ollama", "endpoint": "http://127.0.0.1:1",
                                  "default_model": "m"})
    del document["providers"][0]
    path = write(tmp_path, document)
    before = snapshot()
    out, _ = run_import(path, "--dry-run", "--prune")
    assert snapshot() == before
    assert "Dry run: 3 change(s) found, nothing was applied." in out
    applied, _ = run_import(path, "--prune")
    # The same report, line for line, but the last.
    assert out.splitlines()[:-1] == applied.splitlines()[:-1]


def test_an_invalid_second_provider_is_named_with_its_field_and_nothing_is_applied(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][0]["priority"] = 1  # valid on its own
    document["providers"][1]["priority"] = "high"
    document["providers"][2]["timeout_ms"] = 1  # c: out of range too
    before = snapshot()
    with pytest.raises(CommandError) as failed:
        run_import(write(tmp_path, document))
    message = str(failed.value)
    assert "nothing was applied" in message
    assert "provider b: priority: A valid integer is required." in message
    assert "provider c: timeout_ms:" in message
    assert "provider a" not in message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda rows: rows[1].update(colour="blue"), "provider b: colour: Unknown field."),
        (lambda rows: rows[1].update(version=3), "provider b: version: This field is read-only."),
        (lambda rows: rows[1].update(status="degraded"), "provider b: status:"),
        (lambda rows: rows[1].update(endpoint="ftp://x"), "provider b: endpoint:"),
        (lambda rows: rows[1].update(enabled="maybe"), "provider b: enabled:"),
        (lambda rows: rows[1].update(name="a"), "provider b: name: The name 'a' is also the name of provider a"),
        (lambda rows: rows.append(copy.deepcopy(rows[1])), "provider b: id: The id b is given twice (providers #2 and #4)."),
        (lambda rows: rows.append({"name": "x"}), "provider #4: id: This field is required."),
        (lambda rows: rows.append(["x"]), "provider #4: non_field_errors:"),
    ],
)
def test_bad_values_are_refused_naming_provider_and_field(fleet, tmp_path, change, named):
    document = yaml.safe_load(export())
    change(document["providers"])
    before = snapshot()
    with pytest.raises(CommandError, match="nothing was applied") as failed:
        run_import(write(tmp_path, document))
    assert named in str(failed.value)
    assert snapshot() == before


def test_syntax_errors_and_duplicate_keys_are_refused(fleet, tmp_path):
    bad = {
        "broken.yaml": "providers:\n  - id: a\n   name: [",
        "broken.json": '{"providers": [',
        "twice.yaml": "providers:\n  - id: a\n    priority: 1\n    priority: 2\n",
        "twice.json": '{"providers": [{"id": "a", "priority": 1, "priority": 2}]}',
        "scalar.yaml": "just text\n",
        "alias.yaml": "providers:\n  - &p {id: a, priority: 1}\n  - *p\n",
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(CommandError, match="nothing was applied"):
            run_import(tmp_path / name)
    with pytest.raises(CommandError, match="cannot read it"):
        run_import(tmp_path / "missing.yaml")


def test_format_is_detected_by_extension_or_content(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][1]["priority"] = 7
    (tmp_path / "no-extension").write_text(json.dumps(document))
    out, _ = run_import(tmp_path / "no-extension")
    assert "    priority: 20 → 7" in out
    document["providers"][1]["priority"] = 8
    (tmp_path / "other.txt").write_text(yaml.safe_dump(document))
    out, _ = run_import(tmp_path / "other.txt")
    assert "    priority: 7 → 8" in out


def test_a_secret_is_never_imported_and_a_claimed_one_is_warned_about(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][0]["secret_present"] = False  # a has one: nothing happens to it
    document["providers"][1]["secret_present"] = True  # b has none
    out, err = run_import(write(tmp_path, document))
    assert out.splitlines()[:2] == ["unchanged a", "unchanged b"]
    assert "warning: b: the file says a secret is present, but none is stored" in err
    assert yaml.safe_load(export())["providers"][0]["secret_present"] is True


def test_an_unchanged_status_leaves_healths_overlay_alone(fleet, tmp_path):
    Provider.objects.filter(id="b").update(status="degraded")
    document = yaml.safe_load(export())
    document["providers"][1]["priority"] = 25
    run_import(write(tmp_path, document))
    b = Provider.objects.get(id="b")
    assert (b.priority, b.status) == (25, "degraded")


def test_an_endpoint_moving_a_secret_to_another_origin_rebinds_it(fleet, tmp_path):
    document = yaml.safe_load(export())
    document["providers"][0]["endpoint"] = "https://elsewhere.example.test/v1"
    out, _ = run_import(write(tmp_path, document))
    assert '    endpoint: "https://a.example.test/v1" → "https://elsewhere.example.test/v1"' in out
    assert AuditEvent.objects.filter(event="secret.updated", provider_id="a", actor_name="import_providers").exists()


def test_round_trip_in_subprocesses_on_a_file_database(tmp_path):
    """export → edit → import as an operator runs them, each command its own process."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DJANGO_SETTINGS_MODULE": "config.settings",
           "DEBUG": "1", "VAULT_KEYS": settings.VAULT_KEYS, "REDIS_URL": "", "CHANNEL_PREFIX": "h5-sub"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)

    migrated_sqlite_database(tmp_path / "db.sqlite3")  # what `manage.py migrate` makes, migrated once per session
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"providers": [
        {"id": "p1", "name": "p1", "kind": "ollama", "endpoint": "http://127.0.0.1:1", "default_model": "m", "priority": 1},
        {"id": "p2", "name": "p2", "kind": "ollama", "endpoint": "http://127.0.0.1:2", "default_model": "m", "priority": 2},
    ]}))
    created = manage("import_providers", str(seed))
    assert created.returncode == 0, created.stderr
    assert "create p1" in created.stdout and "chain after:  p1* → p2" in created.stdout

    exported = manage("export_providers", "--output", str(tmp_path / "providers.yaml"))
    assert exported.returncode == 0, exported.stderr
    text = (tmp_path / "providers.yaml").read_text()
    edited = text.replace("priority: 2\n", "priority: 0\n")
    assert edited != text
    (tmp_path / "providers.yaml").write_text(edited)

    dry = manage("import_providers", str(tmp_path / "providers.yaml"), "--dry-run")
    assert dry.returncode == 0 and "    priority: 2 → 0" in dry.stdout and "nothing was applied" in dry.stdout
    applied = manage("import_providers", str(tmp_path / "providers.yaml"))
    assert applied.returncode == 0 and "chain after:  p2* → p1" in applied.stdout
    assert manage("export_providers").stdout == edited

    (tmp_path / "bad.yaml").write_text(edited.replace("priority: 0\n", "priority: lots\n"))
    refused = manage("import_providers", str(tmp_path / "bad.yaml"))
    assert refused.returncode == 1
    assert "provider p2: priority: A valid integer is required." in refused.stderr
    assert manage("export_providers").stdout == edited
