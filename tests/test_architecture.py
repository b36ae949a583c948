"""The apps' one-way dependencies of docs/architecture.md, read from the source with `ast`.

Every import statement counts, at the top of a module or inside a function (a lazy import is
still a dependency). An app's own tests (`<app>/tests/`) may set up a scenario with any app
below the console; the cross-app tests in `tests/` may use everything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "config", "accounts", "audit", "providers", "secrets_vault", "health", "console", "operations")

# What each app may import besides itself (docs/architecture.md, "Dependencies").
ALLOWED = {
    "core": set(),
    "audit": {"core"},
    "accounts": {"core"},
    "providers": {"audit", "accounts", "core"},
    "secrets_vault": {"providers", "audit", "accounts", "core"},
    "health": {"providers", "secrets_vault", "audit", "accounts", "core"},
    "console": {"providers", "secrets_vault", "health", "audit", "accounts", "core"},
    # What a platform team's tooling calls (health endpoints, metrics, configuration as code)
    # reads the console's read model, so it sits above it.
    "operations": {"console", "providers", "secrets_vault", "health", "audit", "accounts", "core"},
    # Alerts watch the chain the console keeps (alerts/serving.py), so they sit above it too.
    "alerts": {"console", "providers", "secrets_vault", "health", "audit", "accounts", "core"},
}
# `health` asks the vault only through its small public functions.
HEALTH_VAULT_ENTRY = "secrets_vault.api"
# `config` is wiring: the URL conf and the ASGI router import views and routers; settings name
# classes by dotted strings and import no app.
CONFIG_MODULES = {"__init__.py", "settings.py", "test_settings.py", "urls.py", "asgi.py"}
CONFIG_WIRING = {"urls.py", "asgi.py"}


def imported_names(source: str) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything a module imports; `from a.b import c` gives `a.b.c`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def app_modules(app: str, *, with_tests: bool = False) -> Iterator[Path]:
    for path in sorted((ROOT / app).rglob("*.py")):
        if not with_tests and "tests" in path.relative_to(ROOT / app).parts:
            continue
        yield path


def project_imports(path: Path) -> Iterator[tuple[str, str]]:
    """("file:line", dotted name) of the imports of another of the project's apps."""
    own = path.relative_to(ROOT).parts[0]
    for line, name in imported_names(path.read_text()):
        target = name.split(".")[0]
        if target in APPS and target != own:
            yield f"{path.relative_to(ROOT)}:{line}", name


def violations(app: str) -> list[str]:
    found = []
    for path in app_modules(app):
        for where, name in project_imports(path):
            target = name.split(".")[0]
            if target not in ALLOWED[app]:
                found.append(f"{where} imports {name}")
            elif app == "health" and target == "secrets_vault" and not name.startswith(HEALTH_VAULT_ENTRY):
                found.append(f"{where} imports {name}; health asks the vault through {HEALTH_VAULT_ENTRY} only")
    return found


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_each_app_imports_only_what_it_may(app):
    assert violations(app) == []


def test_nothing_imports_the_console():
    found = [
        f"{where} imports {name}"
        for app in APPS
        if app not in ("console", "operations")
        for path in app_modules(app, with_tests=True)
        if not (app == "config" and path.name in CONFIG_WIRING)
        for where, name in project_imports(path)
        if name.split(".")[0] == "console"
    ]
    assert found == []


def test_nothing_imports_operations():
    found = [
        f"{where} imports {name}"
        for app in APPS
        if app != "operations"
        for path in app_modules(app, with_tests=True)
        if not (app == "config" and path.name in CONFIG_WIRING)
        for where, name in project_imports(path)
        if name.split(".")[0] == "operations"
    ]
    assert found == []


def test_config_is_wiring_only():
    assert {path.name for path in (ROOT / "config").glob("*.py")} == CONFIG_MODULES
    packages = [p.name for p in (ROOT / "config").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert packages == []
    found = [
        f"{where} imports {name}"
        for path in app_modules("config")
        if path.name not in CONFIG_WIRING
        for where, name in project_imports(path)
    ]
    assert found == []


def test_the_console_s_pages_and_read_model_are_its_own():
    """What combines providers, health and the vault lives in the console, not in providers."""
    gone = ["providers/chain.py", "providers/filters.py", "providers/views.py", "providers/api.py",
            "health/pages.py", "secrets_vault/pages.py"]
    assert [path for path in gone if (ROOT / path).exists()] == []


def test_the_checker_sees_lazy_and_from_imports():
    source = (
        "import health.metrics\n"
        "from secrets_vault import api as vault\n"
        "def f():\n"
        "    from secrets_vault.models import SecretVersion\n"
        "from . import sibling\n"
    )
    assert list(imported_names(source)) == [
        (1, "health.metrics"),
        (2, "secrets_vault.api"),
        (4, "secrets_vault.models.SecretVersion"),
    ]
