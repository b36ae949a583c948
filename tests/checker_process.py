"""`manage.py run_checks --watch` in child processes, and a provider endpoint that counts overlap.

    with slow_endpoint(latency=0.3) as endpoint, checker_database(endpoint.url, providers=3) as site:
        first = Checker(site, "--watch", "1").start()
        first.wait_for("round 1 done")

`checker_database` is a migrated site database (tests/site_process.py: a SQLite file, or a
scratch PostgreSQL database when DATABASE_URL names one) holding `providers` providers of kind
`other` that point at the endpoint. The endpoint answers every GET after `latency` seconds and
records each request's start and end and the most requests it had in flight at once: two
checkers probing at the same time would show up as more in flight than there are providers.
A `Checker`'s output (the table and the `health.watch` log lines) goes to a file of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.site_process import BASE_DIR, SiteProcess, postgres_scratch_database, site_process

STARTUP_TIMEOUT = 120.0  # a loaded machine takes seconds to import Django and run the system checks


class SlowEndpoint(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests: list[tuple[float, float]] = []  # (start, end), time.monotonic()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SlowHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/health"

    def handle_error(self, request, client_address) -> None:
        return None


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:
        return None

    def do_GET(self) -> None:
        server: SlowEndpoint = self.server  # type: ignore[assignment]
        start = time.monotonic()
        with server.lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        try:
            time.sleep(server.latency)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            with server.lock:
                server.in_flight -= 1
                server.requests.append((start, time.monotonic()))


@contextmanager
def slow_endpoint(latency: float) -> Iterator[SlowEndpoint]:
    server = SlowEndpoint(latency)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


CREATE_PROVIDERS = """
import sys
from providers.services import create_provider
for i in range(int(sys.argv[1])):
    create_provider({"id": f"watched-{i}", "name": f"watched {i}", "kind": "other", "endpoint": sys.argv[2],
                     "timeout_ms": 10000, "retries": 0, "secret_policy": "none", "default_model": "m"})
"""


@contextmanager
def checker_database(endpoint_url: str, providers: int) -> Iterator[SiteProcess]:
    """A migrated database (PostgreSQL when DATABASE_URL names one, else a SQLite file) with
    `providers` providers probing `endpoint_url`; `site.env` is the checkers' environment."""
    base_url = os.environ.get("DATABASE_URL", "")
    with ExitStack() as stack:
        database_url = None
        if base_url.startswith(("postgres://", "postgresql://")):
            database_url = stack.enter_context(postgres_scratch_database(base_url, migrated=True))
        site = stack.enter_context(site_process(database_url=database_url, start=False))
        python(site, CREATE_PROVIDERS, str(providers), endpoint_url)
        yield site


def python(site: SiteProcess, code: str, *args: str) -> str:
    """Run `code` with Django set up on the site's database; its stdout."""
    setup = "import django; django.setup()\n"
    result = subprocess.run(
        [sys.executable, "-c", setup + code, *args], cwd=BASE_DIR, env=site.env,
        capture_output=True, text=True, timeout=STARTUP_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python -c exited with {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


class Checker:
    """One `manage.py run_checks ...` child; its output in `<var_dir>/checker-<n>.log`."""

    count = 0

    def __init__(self, site: SiteProcess, *args: str) -> None:
        Checker.count += 1
        self.site = site
        self.args = args
        self.log_path = Path(site.var_dir) / f"checker-{Checker.count}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Checker:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_checks", *self.args], cwd=BASE_DIR, env=self.site.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def watch_lines(self) -> list[str]:
        """The checker's own log lines (health.watch), without the tables."""
        return [line for line in self.log().splitlines() if " health.watch " in line]

    def wait_for(self, pattern: str, timeout: float = STARTUP_TIMEOUT) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log())
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"the checker exited ({self.process.returncode}) before {pattern!r}:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.log()[-3000:]}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
