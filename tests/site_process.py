"""The real site, served by daphne in a child process, on a database of its own.

    from tests.site_process import site_process

    with site_process() as site:                       # SQLite file under a temporary VAR_DIR
        site.create_operator("alice", role="admin")
        api = site.api_session(site.issue_token("alice"))
        api.post(site.url + "/api/providers", json={...})

The child gets a temporary `VAR_DIR` (its SQLite file and logs), `DEBUG=false` with a random
`SECRET_KEY` and vault key ring, and none of the parent's `DATABASE_URL` / `REDIS_URL` unless
passed: `site_process(database_url=..., redis_url=...)`. The database is migrated with
`manage.py migrate` before daphne starts, once per test session: each site's SQLite file is a
copy of the session's migrated one, and `postgres_scratch_database(..., migrated=True)` copies a
migrated template; users and tokens are made with the project's own commands. daphne serves on
a listening socket this process opened on a free 127.0.0.1 port and hands over (`daphne --fd`),
so no other process can take the port in between. Static files are served by the site itself (WhiteNoise), from the apps' static directories as they are
(`STATIC_MANIFEST=false`: nothing to collect); a test of the production storage passes
`env={"STATIC_MANIFEST": "true"}` and runs `collectstatic` first. The child's output is kept in
`<var_dir>/site.log`; `site.log_text()` reads it (it never holds a secret value: the log
filter masks them, and tests assert it). `second_worker(site)` serves the same site from a
second daphne process (same database, keys and Redis), as a deployment with two workers does.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
# What the parent's environment may carry that would point the child at a shared service.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "CHANNEL_PREFIX", "CACHE_PREFIX", "VAR_DIR", "VAULT_KEYS", "VAULT_KEY_FILE")


# Management commands in one process, each with its own standard input (a password), as
# `manage.py <command>` would run them; what they print goes to stdout.
_RUN_COMMANDS = """
import io, json, sys
import django
django.setup()
from django.core.management import call_command
for args, stdin in json.loads(sys.argv[1]):
    sys.stdin = io.StringIO("" if stdin is None else stdin + "\\n")
    call_command(*args)
"""


class SiteProcess:
    def __init__(self, var_dir: Path, env: dict[str, str]):
        self.var_dir = var_dir
        self.env = env
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.application = "config.asgi:application"
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the project's own commands ----------------------------------------------------------
    def manage(self, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} exited with {result.returncode}: {result.stderr[-2000:]}")
        return result

    def migrate(self) -> None:
        self.manage("migrate", "--noinput")

    def create_operator(self, username: str, role: str | None = "admin", password: str | None = None) -> None:
        args = ["create_operator", username]
        if role:
            args += ["--role", role]
        if password is not None:
            args.append("--password-stdin")
        self.manage(*args, stdin=None if password is None else password + "\n")

    def issue_token(self, username: str) -> str:
        return self.manage("issue_token", username).stdout.strip()

    def operators_with_token(self, operators: dict[str, tuple[str | None, str | None]], token_for: str) -> str:
        """`create_operator` for each `username: (role, password)`, then `issue_token` for
        `token_for`: the same commands as `create_operator()` and `issue_token()`, run in one
        Django process instead of one process each (a Django start is seconds on a loaded
        machine). Returns the token."""
        commands = []
        for username, (role, password) in operators.items():
            args = ["create_operator", username, *(["--role", role] if role else [])]
            commands.append((args + (["--password-stdin"] if password is not None else []), password))
        result = subprocess.run(
            [sys.executable, "-c", _RUN_COMMANDS, json.dumps([*commands, (["issue_token", token_for], None)])],
            cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"create_operator/issue_token exited with {result.returncode}: {result.stderr[-2000:]}")
        return result.stdout.strip().splitlines()[-1]

    def api_session(self, token: str) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # never a proxy from the environment for 127.0.0.1
        session.headers["Authorization"] = f"Bearer {token}"
        return session

    # -- the server --------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> SiteProcess:
        if self.process is not None and self.process.poll() is None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(1024)
        self.port = listener.getsockname()[1]
        self._log = open(self.var_dir / "site.log", "ab")  # noqa: SIM115 (kept open while the child runs)
        try:
            self.process = subprocess.Popen(
                # -v 0 as docs/deploy.md runs it: no daphne access log (the site writes its own,
                # masked; daphne's would print query strings as they came).
                [sys.executable, "-m", "daphne", "-v", "0", "--fd", str(listener.fileno()), self.application],
                cwd=BASE_DIR,
                env=self.env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=[listener.fileno()],
            )
        finally:
            listener.close()  # the child holds its own copy
        self._wait_until_serving(timeout)
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                requests.get(self.url + "/login/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the site did not answer within {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        path = self.var_dir / "site.log"
        return path.read_text(errors="replace") if path.exists() else ""


def site_environment(var_dir: Path, database_url: str | None, redis_url: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        VAR_DIR=str(var_dir),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        VAULT_KEYS="site1:" + base64.b64encode(os.urandom(32)).decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain http on 127.0.0.1: cookies marked Secure would never come back.
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        # The static files as the apps hold them, served by WhiteNoise; no collectstatic per site.
        STATIC_MANIFEST="false",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["CHANNEL_PREFIX"] = env["CACHE_PREFIX"] = f"site-{var_dir.name}"
    env.update(extra or {})
    return env


@contextmanager
def site_process(
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    start: bool = True,
) -> Iterator[SiteProcess]:
    """A migrated site on its own database, served by daphne until the block ends.

    `database_url=None` is a SQLite file under the temporary VAR_DIR, a copy of the session's
    migrated one; a PostgreSQL database is migrated unless it is a copy of the session's migrated
    template (`postgres_scratch_database(..., migrated=True)`). With `start=False` the site is
    migrated but not served (call `site.start()`).
    """
    var_dir = Path(tempfile.mkdtemp(prefix="site-"))
    site = SiteProcess(var_dir, site_environment(var_dir, database_url, redis_url, env))
    try:
        if database_url is None and "DATABASE_URL" not in site.env:
            _copy_sqlite(_migrated_sqlite_template(), var_dir / "db.sqlite3")
        elif database_url not in _MIGRATED_DATABASES:
            site.migrate()
        if start:
            site.start()
        yield site
    finally:
        site.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def second_worker(first: SiteProcess, env: dict[str, str] | None = None) -> Iterator[SiteProcess]:
    """Another daphne worker of `first`'s site, as a deployment runs several: the same database,
    SECRET_KEY, vault keys, Redis and prefixes, not migrated again; its own port, VAR_DIR and log."""
    var_dir = Path(tempfile.mkdtemp(prefix="site-worker-"))
    worker_env = dict(first.env, VAR_DIR=str(var_dir))
    # The first one's SQLite file lives under its VAR_DIR: point at it explicitly.
    worker_env.setdefault("DATABASE_URL", f"sqlite:///{first.var_dir / 'db.sqlite3'}")
    worker_env.update(env or {})
    worker = SiteProcess(var_dir, worker_env)
    worker.application = first.application
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def postgres_scratch_database(base_url: str, *, migrated: bool = False) -> Iterator[str]:
    """A new PostgreSQL database beside the one `base_url` names; dropped on exit. Empty, or with
    `migrated=True` a copy of the session's migrated template (`CREATE DATABASE ... TEMPLATE`,
    a file copy on the server instead of running every migration again), which `site_process`
    then does not migrate.

    Its name is the base database's name plus a random suffix, so parallel runs that use
    different base names never meet.
    """
    from psycopg import sql

    url = _sibling_url(base_url, "site")
    template = _migrated_postgres_template(base_url) if migrated else None
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database_name(url)))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(_database_name(template)))
    _postgres_admin(base_url, create)
    if migrated:
        _MIGRATED_DATABASES.add(url)
    try:
        yield url
    finally:
        _MIGRATED_DATABASES.discard(url)
        _drop_postgres_database(url)


# -- migrated once per test session --------------------------------------------------------------
# Every site used to run `manage.py migrate` on its empty database: a Django start and every
# migration, seconds per site on this machine. The suite migrates one SQLite file and one
# PostgreSQL template per session instead, and each site starts from a copy: the same schema and
# the same rows the migrations make (role groups, permissions, content types).
_MIGRATED_DATABASES: set[str] = set()  # scratch PostgreSQL databases copied from the template
_templates: dict[str, Path | str] = {}


def _migrated_sqlite_template() -> Path:
    if "sqlite" not in _templates:
        var_dir = Path(tempfile.mkdtemp(prefix="site-template-"))
        SiteProcess(var_dir, site_environment(var_dir, None, None, None)).migrate()
        atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
        _templates["sqlite"] = var_dir / "db.sqlite3"
    return _templates["sqlite"]  # type: ignore[return-value]


def migrated_sqlite_database(target: Path) -> None:
    """Write a migrated SQLite database at `target` (a copy of the session's migrated file), for
    a test whose own processes use a database file of their own."""
    _copy_sqlite(_migrated_sqlite_template(), target)


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (the file is in WAL mode)."""
    import sqlite3

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _migrated_postgres_template(base_url: str) -> str:
    from psycopg import sql

    if base_url not in _templates:
        url = _sibling_url(base_url, "template")
        _postgres_admin(base_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database_name(url))))
        atexit.register(_drop_postgres_database, url)
        var_dir = Path(tempfile.mkdtemp(prefix="site-template-"))
        try:
            SiteProcess(var_dir, site_environment(var_dir, url, None, None)).migrate()
        finally:
            shutil.rmtree(var_dir, ignore_errors=True)
        _templates[base_url] = url
    return _templates[base_url]  # type: ignore[return-value]


def _sibling_url(base_url: str, kind: str) -> str:
    """A new database's URL beside `base_url`'s: its name plus `kind` and a random suffix."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/') or 'postgres'}_{kind}_{secrets.token_hex(4)}"))


def _database_name(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")


def _postgres_admin(url: str, statement) -> None:
    """Run `statement` on the server of `url`, connected to its `postgres` database."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(statement)


def _drop_postgres_database(url: str) -> None:
    from psycopg import sql

    _postgres_admin(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_database_name(url))))


def database_params() -> list:
    """pytest params for a test that must hold on either database: SQLite always, and PostgreSQL
    as well when DATABASE_URL names it (the PostgreSQL pass runs both). Use with `site_on`."""
    params = [pytest.param(None, id="sqlite")]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        params.append(pytest.param(url, id="postgresql"))
    return params


@contextmanager
def site_on(base_url: str | None, **kwargs) -> Iterator[SiteProcess]:
    """A served site on SQLite (`None`) or on a scratch database next to the PostgreSQL one
    `base_url` names (a `database_params` value). Keyword arguments go to `site_process`."""
    if base_url is None:
        with site_process(**kwargs) as site:
            yield site
    else:
        with postgres_scratch_database(base_url, migrated=True) as url, site_process(database_url=url, **kwargs) as site:
            yield site


@contextmanager
def configured_site(**kwargs) -> Iterator[SiteProcess]:
    """A served site on the test run's configuration: a scratch PostgreSQL database and the
    Redis channel layer when DATABASE_URL and REDIS_URL are set, else SQLite and the in-memory
    layer. Keyword arguments go to `site_process`."""
    base_url = os.environ.get("DATABASE_URL", "")
    with ExitStack() as stack:
        database_url = None
        if base_url.startswith(("postgres://", "postgresql://")):
            database_url = stack.enter_context(postgres_scratch_database(base_url, migrated=True))
        yield stack.enter_context(
            site_process(database_url=database_url, redis_url=os.environ.get("REDIS_URL") or None, **kwargs)
        )
