"""docs/deploy.md, run: its environment file, its commands, its units and its nginx site.

The deployment is played on this machine: `deploy/console.env.example` with its placeholders
filled and its paths and ports moved to a temporary directory (the database and Redis are the
test run's: a scratch PostgreSQL database and a Redis prefix of its own when DATABASE_URL and
REDIS_URL are set, else SQLite and no Redis), every `deploy/manage` command of the page run
through `deploy/manage` itself, two workers started with the unit's own `ExecStart`, the
checker likewise, `systemd-analyze verify` on the units and nginx with the site file in front
of the workers. Each command a test runs is first looked up in docs/deploy.md, so the page and
the test cannot drift apart.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.site_process import BASE_DIR, postgres_scratch_database

DEPLOY = BASE_DIR / "deploy"
DEPLOY_MD = (BASE_DIR / "docs" / "deploy.md").read_text()
CONFIGURATION_MD = (BASE_DIR / "docs" / "configuration.md").read_text()
PASSWORD = "deploy-" + secrets.token_urlsafe(12)
NO_NGINX = "Debian's nginx is not installed: `make test` installs it (make nginx: apt-get install nginx-light)"


def documented(command: str) -> str:
    """`command` as docs/deploy.md prints it; the test fails if the page does not."""
    assert command in DEPLOY_MD, f"docs/deploy.md does not say: {command}"
    return command


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments on lines of their own)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unit_exec_start(unit: str) -> list[str]:
    (line,) = [line for line in (DEPLOY / "systemd" / unit).read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def local_command(argv: list[str]) -> list[str]:
    """A unit's command with the checkout's interpreter in place of /srv/provider-console/.venv."""
    program, *args = argv
    if program == "/srv/provider-console/.venv/bin/daphne":
        return [sys.executable, "-m", "daphne", *args]
    assert program == "/srv/provider-console/.venv/bin/python", program
    return [sys.executable, *args]


def json_lines(text: str, where: str) -> list[dict]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{where}, line {number} is not JSON: {line[:300]}")
    return entries


@dataclass
class Deployment:
    root: Path
    env_file: Path
    values: dict[str, str]
    workers: dict[int, subprocess.Popen] = field(default_factory=dict)

    def process_env(self) -> dict[str, str]:
        """What a unit's process gets: the environment file and nothing of the test run's."""
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LANG": "C.UTF-8", **self.values}

    def manage(self, documented_command: str, *, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run `sudo -u console deploy/manage ARGS` as the page prints it, through deploy/manage."""
        command = documented(documented_command)
        args = shlex.split(command.removeprefix("sudo -u console "))
        assert args[0] == "deploy/manage"
        result = subprocess.run(
            [str(DEPLOY / "manage"), *args[1:]],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root), "LANG": "C.UTF-8",
                 "CONSOLE_ENV": str(self.env_file), "CONSOLE_PYTHON": sys.executable},
            input=stdin, capture_output=True, text=True, timeout=300,
        )
        if check:
            assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        return result

    def set_value(self, name: str, value: str) -> None:
        self.values[name] = value
        self.write_env_file()

    def write_env_file(self) -> None:
        self.env_file.write_text("".join(f"{key}={value}\n" for key, value in self.values.items()))

    def log(self, port: int) -> Path:
        return self.root / f"worker-{port}.log"

    def start_worker(self, port: int) -> None:
        argv = [arg.replace("%i", str(port)) for arg in unit_exec_start("console@.service")]
        with open(self.log(port), "ab") as log:
            self.workers[port] = subprocess.Popen(
                local_command(argv), cwd=BASE_DIR, env=self.process_env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.workers[port].poll() is not None:
                pytest.fail(f"worker {port} exited {self.workers[port].returncode}:\n{self.log(port).read_text()[-3000:]}")
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        pytest.fail(f"worker {port} did not answer:\n{self.log(port).read_text()[-3000:]}")

    def stop_workers(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
        for process in self.workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.workers.clear()


@contextmanager
def database_for_the_run():
    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith(("postgres://", "postgresql://")):
        with postgres_scratch_database(base_url) as url:
            yield url
    else:
        yield None


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The example's environment with its placeholders filled and its paths and services moved
    here; then the first-time setup of docs/deploy.md, and two workers as the unit starts them."""
    root = tmp_path_factory.mktemp("deploy")
    with ExitStack() as stack:
        values = read_environment_file(DEPLOY / "console.env.example")
        first_key = subprocess.run(
            ["sh", "-c", documented("""python3 -c "import base64,os; print('k2026a:' + base64.b64encode(os.urandom(32)).decode())\"""")],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        secret_key = subprocess.run(
            ["sh", "-c", documented('''python3 -c "import secrets; print(secrets.token_urlsafe(50))"''')],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        database_url = stack.enter_context(database_for_the_run())
        redis_url = os.environ.get("REDIS_URL", "")
        prefix = f"deploy-{secrets.token_hex(4)}"
        values.update(
            SECRET_KEY=secret_key,
            VAULT_KEYS=first_key,
            METRICS_TOKEN=secrets.token_urlsafe(32),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CSRF_TRUSTED_ORIGINS="https://localhost",
            DATABASE_URL=database_url or f"sqlite:///{root / 'db.sqlite3'}",
            REDIS_URL=redis_url,
            CHANNEL_PREFIX=prefix,
            CACHE_PREFIX=prefix,
            VAR_DIR=str(root / "var"),
        )
        assert [name for name, value in values.items() if "<" in value] == [], "a placeholder is left unfilled"
        (root / "var").mkdir()
        deployment = Deployment(root, root / "console.env", values)
        deployment.write_env_file()
        stack.callback(deployment.stop_workers)

        deployment.manage("sudo -u console deploy/manage check --deploy --fail-level WARNING")
        deployment.manage("sudo -u console deploy/manage migrate --noinput")
        deployment.manage("sudo -u console deploy/manage collectstatic --noinput")
        deployment.manage("sudo -u console deploy/manage create_operator alice --role admin --password-stdin", stdin=PASSWORD + "\n")
        deployment.manage("sudo -u console deploy/manage vault_status")
        for _ in range(2):
            deployment.start_worker(free_port())
        yield deployment


def test_the_environment_file_names_every_documented_variable():
    example = read_environment_file(DEPLOY / "console.env.example")
    text = (DEPLOY / "console.env.example").read_text()
    documented_variables = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", CONFIGURATION_MD, re.MULTILINE))
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "LOG_FORMAT"} <= documented_variables
    # Set, or named in a comment (a default that production keeps).
    missing = sorted(name for name in documented_variables if name not in example and not re.search(rf"\b{name}\b", text))
    assert missing == [], f"console.env.example does not mention {missing}"
    unknown = sorted(name for name in example if name not in documented_variables)
    assert unknown == [], f"console.env.example sets variables docs/configuration.md does not explain: {unknown}"
    assert example["DEBUG"] == "false" and example["LOG_FORMAT"] == "json"


def test_workers_started_as_the_unit_starts_them_serve_and_log_json(deployment):
    token = deployment.manage("sudo -u console deploy/manage issue_token alice").stdout.strip()
    https = {"X-Forwarded-Proto": "https"}  # what nginx sets; the site trusts it (BEHIND_TLS_PROXY)
    for port in deployment.workers:
        base = f"http://127.0.0.1:{port}"
        health = requests.get(base + "/healthz", timeout=10)
        assert (health.status_code, health.text.strip()) == (200, "ok")
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["database"] == "ok" and ready.json()["vault"] == "ok"
        # Plain http is redirected to https, as SECURE_SSL_REDIRECT asks; behind nginx it is not.
        assert requests.get(base + "/login/", allow_redirects=False, timeout=10).status_code == 301
        assert requests.get(base + "/login/", headers=https, timeout=10).status_code == 200
        metrics = requests.get(base + "/metrics", headers={**https, "Authorization": f"Bearer {deployment.values['METRICS_TOKEN']}"}, timeout=30)
        assert metrics.status_code == 200 and "text/plain" in metrics.headers["Content-Type"]
        answer = requests.get(
            base + f"/api/providers?api_key={token}", headers={**https, "Authorization": f"Bearer {token}"}, timeout=30
        )
        assert answer.status_code == 200

        entries = json_lines(deployment.log(port).read_text(), f"worker {port}'s log")
        access = [entry for entry in entries if entry["logger"] == "access" and entry.get("request_id") == answer.headers["X-Request-ID"]]
        assert len(access) == 1, "no access line with the response's X-Request-ID"
        assert access[0]["path"] == "/api/providers" and access[0]["status"] == 200 and access[0]["user"] == "alice"
        assert token not in deployment.log(port).read_text()
        assert deployment.values["METRICS_TOKEN"] not in deployment.log(port).read_text()


def test_the_checker_started_as_its_unit_starts_it_stops_on_sigterm_with_0(deployment):
    argv = unit_exec_start("console-checker.service")
    assert argv[1:] == ["manage.py", "run_checks", "--watch", "60"]
    # Its log on stderr (JSON lines); the command's own report of each round on stdout.
    log, report = deployment.root / "checker.log", deployment.root / "checker.out"
    with open(log, "wb") as errors, open(report, "wb") as output:
        checker = subprocess.Popen(local_command(argv), cwd=BASE_DIR, env=deployment.process_env(), stdout=output, stderr=errors)
    try:
        deadline = time.monotonic() + 60
        while not log.read_text().strip() and checker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert checker.poll() is None, f"the checker exited {checker.returncode}:\n{log.read_text()[-3000:]}"
        checker.send_signal(signal.SIGTERM)
        assert checker.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if checker.poll() is None:
            checker.kill()
            checker.wait()
    assert json_lines(log.read_text(), "the checker's log")


def test_the_alert_deliverer_started_as_its_unit_starts_it_stops_on_sigterm_with_0(deployment):
    argv = unit_exec_start("console-alerts.service")
    assert argv[1:] == ["manage.py", "deliver_alerts"]
    assert "console-alerts.service" in DEPLOY_MD
    log, report = deployment.root / "deliverer.log", deployment.root / "deliverer.out"
    with open(log, "wb") as errors, open(report, "wb") as output:
        deliverer = subprocess.Popen(local_command(argv), cwd=BASE_DIR, env=deployment.process_env(), stdout=output, stderr=errors)
    try:
        deadline = time.monotonic() + 60
        while "delivering every" not in report.read_text() and deliverer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert deliverer.poll() is None, f"the deliverer exited {deliverer.returncode}:\n{log.read_text()[-3000:]}"
        deliverer.send_signal(signal.SIGTERM)
        assert deliverer.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if deliverer.poll() is None:
            deliverer.kill()
            deliverer.wait()
    assert report.read_text().splitlines()[-1].endswith("stopped on SIGTERM")


def test_vault_key_rotation_as_documented(deployment):
    # A secret under the first key, so the rotation has something to re-wrap.
    token = deployment.manage("sudo -u console deploy/manage issue_token alice").stdout.strip()
    port = next(iter(deployment.workers))
    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"})
    created = api.post(f"http://127.0.0.1:{port}/api/providers", json={
        "id": "rotated", "name": "Rotated", "kind": "openai_compatible", "endpoint": "https://rotated.example.test/v1",
        "default_model": "gpt-test",
    }, timeout=30)
    assert created.status_code == 201, created.text
    stored = api.post(f"http://127.0.0.1:{port}/api/providers/rotated/secret", json={"action": "set", "value": "sk-" + "r" * 40}, timeout=30)
    assert stored.status_code == 200, stored.text

    old_key = deployment.values["VAULT_KEYS"]
    new_key = deployment.manage("sudo -u console deploy/manage vault_status --new-key k2026b").stdout.strip()
    assert new_key.startswith("k2026b:") and len(base64.b64decode(new_key.split(":", 1)[1])) == 32
    deployment.set_value("VAULT_KEYS", f"{new_key},{old_key}")  # the new key first, the old one kept
    rotated = deployment.manage("sudo -u console deploy/manage rotate_vault_key")
    assert "1 re-wrapped" in rotated.stdout and "0 failed" in rotated.stdout
    status = deployment.manage("sudo -u console deploy/manage vault_status")
    assert "k2026a" in status.stdout and "removed safely" in status.stdout
    # The old key removed: the secret still decrypts (status exits 0, no kid missing).
    deployment.set_value("VAULT_KEYS", new_key)
    deployment.manage("sudo -u console deploy/manage vault_status")


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
                    reason="the backup is PostgreSQL's pg_dump: runs in the PostgreSQL pass (DATABASE_URL=postgres://…)")
def test_backup_and_restore_as_documented(deployment, tmp_path):
    documented("sudo -u postgres pg_dump --format=custom --file=/var/backups/console-$(date +%F).dump console")
    documented("sudo -u postgres pg_restore --clean --if-exists --dbname=console /var/backups/console-2026-11-29.dump")
    dump = tmp_path / "console.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", deployment.values["DATABASE_URL"]], check=True, timeout=300)
    original_url = deployment.values["DATABASE_URL"]
    with postgres_scratch_database(os.environ["DATABASE_URL"]) as restored_url:
        subprocess.run(["pg_restore", "--clean", "--if-exists", f"--dbname={restored_url}", str(dump)], check=True, timeout=300)
        deployment.set_value("DATABASE_URL", restored_url)
        try:
            deployment.manage("sudo -u console deploy/manage migrate --noinput")
            status = deployment.manage("sudo -u console deploy/manage vault_status")
            assert "alice" not in status.stdout  # no user data, only kids and counts
            users = subprocess.run(["psql", restored_url, "-Atc", "select username from auth_user"], capture_output=True, text=True, check=True)
            assert users.stdout.split() == ["alice"]
        finally:
            deployment.set_value("DATABASE_URL", original_url)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed on this machine")
def test_the_units_pass_systemd_analyze_verify(tmp_path):
    env_file = tmp_path / "console.env"
    env_file.write_text("DEBUG=false\n")
    for unit in ("console@.service", "console-checker.service", "console-alerts.service", "console.target"):
        text = (DEPLOY / "systemd" / unit).read_text()
        text = text.replace("/srv/provider-console", str(BASE_DIR)).replace("/etc/provider-console/console.env", str(env_file))
        (tmp_path / unit).write_text(text)
    (tmp_path / "console@8001.service").symlink_to(tmp_path / "console@.service")
    (tmp_path / "console@8002.service").symlink_to(tmp_path / "console@.service")
    for unit in ("console@8001.service", "console-checker.service", "console-alerts.service", "console.target"):
        result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stderr.strip() == "", f"{unit}: {result.stderr}"
    # The check can fail: a unit whose program is missing does not verify.
    broken = (tmp_path / "console@.service").read_text().replace("bin/daphne", "bin/no-such-daphne")
    (tmp_path / "broken@.service").write_text(broken)
    (tmp_path / "broken@8001.service").symlink_to(tmp_path / "broken@.service")
    assert subprocess.run(["systemd-analyze", "verify", str(tmp_path / "broken@8001.service")], capture_output=True).returncode != 0


# --- nginx ---------------------------------------------------------------------------------

def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def nginx_site(directory: Path, worker_ports: list[int]) -> tuple[Path, int, int]:
    """deploy/nginx/console.conf with its ports, certificate and upstream moved here, inside a
    minimal nginx.conf of its own (the site file is what goes in sites-available)."""
    site = (DEPLOY / "nginx" / "console.conf").read_text()
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed_certificate(directory)
    upstream = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in worker_ports)
    site, count = re.subn(r"(    server 127\.0\.0\.1:\d+ [^\n]*\n)+", upstream, site)
    assert count == 1
    replacements = {
        "    listen [::]:80;\n": "",
        "    listen [::]:443 ssl http2;\n": "",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/console.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/console.example.com/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (directory / "console.conf").write_text(site)
    temp = directory / "temp"
    temp.mkdir()
    (directory / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/console.conf;
}}
""")
    return directory / "nginx.conf", http_port, https_port


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.skip(NO_NGINX)
    return found


def test_nginx_accepts_the_site(tmp_path):
    nginx = nginx_binary()
    documented("nginx -t")
    config, _, _ = nginx_site(tmp_path, [8001, 8002])
    result = subprocess.run([nginx, "-t", "-c", str(config), "-p", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def websocket_handshake(port: int, path: str, headers: dict[str, str], ca: Path) -> str:
    """The status line nginx answers a websocket upgrade with, over TLS."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        )
        tls.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = tls.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n", 1)[0].decode()


def test_nginx_in_front_of_two_workers_serves_pages_and_websockets(deployment, tmp_path):
    nginx = nginx_binary()
    ports = list(deployment.workers)
    config, http_port, https_port = nginx_site(tmp_path, ports)
    process = subprocess.Popen([nginx, "-c", str(config), "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"https://localhost:{https_port}"
        browser = requests.Session()
        browser.trust_env = False
        browser.verify = str(tmp_path / "cert.pem")
        deadline = time.monotonic() + 30
        while True:
            try:
                login = browser.get(base + "/login/", timeout=10)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        assert login.status_code == 200
        # Plain http: redirected to https, but the probes answer.
        plain = requests.get(f"http://127.0.0.1:{http_port}/login/", allow_redirects=False, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
        assert requests.get(f"http://127.0.0.1:{http_port}/readyz", timeout=10).status_code == 200

        # Sign in through the form (CSRF over https checks the Referer against the Host nginx passes on).
        signed_in = browser.post(
            base + "/login/",
            data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": base + "/login/"}, timeout=30,
        )
        assert signed_in.status_code == 200 and signed_in.url == base + "/", signed_in.url
        page = browser.get(base + "/", timeout=30)
        assert page.status_code == 200 and page.headers["Strict-Transport-Security"].startswith("max-age=31536000")

        # Requests reach both workers.
        before = {port: deployment.log(port).read_text().count('"logger": "access"') for port in ports}
        for _ in range(6):
            assert browser.get(base + "/healthz", timeout=10).status_code == 200
        after = {port: deployment.log(port).read_text().count('"logger": "access"') for port in ports}
        assert all(after[port] > before[port] for port in ports), (before, after)

        # The websocket handshake goes through, with the session and the site's own origin;
        # another origin is refused by the site, not by nginx.
        cookie = f"sessionid={browser.cookies['sessionid']}"
        assert websocket_handshake(https_port, "/ws/events/", {"Origin": base, "Cookie": cookie}, tmp_path / "cert.pem").split()[1] == "101"
        refused = websocket_handshake(https_port, "/ws/events/", {"Origin": "https://evil.example", "Cookie": cookie}, tmp_path / "cert.pem")
        assert refused.split()[1] == "403"
    finally:
        process.terminate()
        process.wait(timeout=30)
