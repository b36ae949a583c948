"""A throw-away redis-server on a free 127.0.0.1 port, which a test can stop and start again.

    from tests.redis_process import redis_server

    with redis_server() as redis:
        settings.CACHES = {... "LOCATION": redis.url ...}
        ...
        redis.stop()    # Redis is down: connections are refused
        ...
        redis.start()   # back on the same port, empty
        ...

The server keeps nothing on disk (no RDB, no AOF) and lives in a temporary directory that is
removed on exit. Tests that need it skip when `redis-server` is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager

import pytest

REDIS_SERVER = os.environ.get("REDIS_SERVER_BIN", "redis-server")


def redis_server_available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; `url` stays the same across stop() and start()."""

    def __init__(self, directory: str, port: int | None = None, db: int = 0):
        self.directory = directory
        self.port = port or _free_port()
        self.db = db
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} {'running' if self.running else 'stopped'}>"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.running:
            return self
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", self.directory,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            if _answers_ping(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Kill the server at once, as an outage would: open connections break, new ones are refused."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=timeout)
        self.process = None


@contextmanager
def redis_server(db: int = 0):
    """Start a redis-server on a free port; yield it (a RedisServer); kill it on exit."""
    if not redis_server_available():
        pytest.skip(f"{REDIS_SERVER} is not installed")
    directory = tempfile.mkdtemp(prefix="redis-test-")
    server = None
    try:
        for attempt in range(3):
            server = RedisServer(directory, db=db)
            try:
                server.start()
                break
            except RuntimeError:
                # Another process took the free port between the probe and the bind.
                if attempt == 2:
                    raise
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
