"""Run all over 1,000 providers with 200 consoles on the event websocket, against daphne.

    .venv/bin/python bench/bench_event_fanout.py [--providers 1000] [--consoles 200]

The site runs under daphne in a child process (tests/site_process.py, SQLite under a temporary
directory, in-memory channel layer; `--redis-url` for Redis); the providers point at the provider
simulator in another child. The consoles are real websocket clients (autobahn, half admins,
half viewers) in this process. Prints the Run all time alone (best of two) and with the consoles
open, their ratio (target ≤ 1.5), when every console had every event, and whether any missed
one. Baseline (the issue's report before the fix): 54–62 s with 200 viewers instead of 2–3 s,
13–15 % of the events never received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 1.5

SIMULATOR = """
import sys
from health.simulator import Route, SimulatorServer
server = SimulatorServer([Route("/v1", "openai_compatible", ["bench-model"], latency_ms=int(sys.argv[1]))])
print(server.base_url, flush=True)
server.serve_forever()
"""


def sign_in(site, username: str, password: str):
    import requests

    session = requests.Session()
    session.trust_env = False
    page = session.get(site.url + "/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        site.url + "/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": site.url + "/login/"}, allow_redirects=False,
    )
    assert answer.status_code == 302, f"sign-in of {username} answered {answer.status_code}"
    return session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=1000)
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()

    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    from tests.site_process import site_process

    class Console(WebSocketClientProtocol):
        def onOpen(self):
            if not self.factory.opened.done():
                self.factory.opened.set_result(True)

        def onMessage(self, payload, is_binary):
            frame = json.loads(payload)
            if frame["type"] == "event":
                self.factory.ids.append(frame["event"]["id"])
            elif frame["type"] == "events":
                self.factory.ids.extend(event["id"] for event in frame["events"])
            self.factory.last = time.monotonic()

    simulator = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, str(args.latency_ms)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert simulator.stdout is not None
    simulator_url = simulator.stdout.readline().strip()
    try:
        with site_process(redis_url=args.redis_url) as site:
            site.create_operator("bench-admin", role="admin", password="bench-admin-password-1")
            site.create_operator("bench-viewer", role="viewer", password="bench-viewer-password-1")
            site.manage("shell", "-c", (
                "from providers.models import Provider, Kind\n"
                f"Provider.objects.bulk_create(Provider(id=f'bench-{{i:04d}}', name=f'bench-{{i:04d}}', "
                f"kind=Kind.OPENAI_COMPATIBLE, endpoint='{simulator_url}/v1', default_model='bench-model', "
                f"secret_policy='none', priority=i, timeout_ms=10000, retries=0) for i in range({args.providers}))\n"
            ))
            sessions = [sign_in(site, "bench-admin", "bench-admin-password-1"), sign_in(site, "bench-viewer", "bench-viewer-password-1")]
            api = site.api_session(site.issue_token("bench-admin"))

            def run_all() -> float:
                started = time.monotonic()
                answer = api.post(site.url + "/api/providers/test-all", json={}, timeout=300)
                assert answer.status_code == 200, answer.text[:300]
                return time.monotonic() - started

            run_all()  # warm-up
            alone = min(run_all(), run_all())

            async def with_consoles() -> tuple[float, float, list[int]]:
                loop = asyncio.get_running_loop()
                factories = []
                for i in range(args.consoles):
                    cookies = "; ".join(f"{k}={v}" for k, v in sessions[i % 2].cookies.items())
                    factory = WebSocketClientFactory(f"ws://127.0.0.1:{site.port}/ws/events/", origin=site.url,
                                                     headers={"Cookie": cookies})
                    factory.protocol = Console
                    factory.ids, factory.last, factory.opened = [], 0.0, loop.create_future()
                    await loop.create_connection(factory, "127.0.0.1", site.port)
                    factories.append(factory)
                await asyncio.wait_for(asyncio.gather(*(f.opened for f in factories)), 60)
                await asyncio.sleep(0.5)  # every hello read
                started = time.monotonic()
                elapsed = await loop.run_in_executor(None, run_all)
                while any(len(f.ids) < args.providers for f in factories) and time.monotonic() - started < 120:
                    await asyncio.sleep(0.05)
                return elapsed, max(f.last for f in factories) - started - elapsed, [len(f.ids) for f in factories]

            elapsed, fan_out, counts = asyncio.run(with_consoles())
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)

    ratio = elapsed / alone
    missing = sum(args.providers - min(count, args.providers) for count in counts)
    print(f"{args.providers} providers, {args.consoles} consoles ({'Redis' if args.redis_url else 'in-memory'} layer)")
    print(f"Run all alone {alone:.2f} s, with the consoles open {elapsed:.2f} s: ratio {ratio:.2f}x (target ≤ {TARGET_RATIO}x)")
    print(f"the last console had every event {fan_out:.2f} s after the answer; events per console "
          f"{min(counts)}..{max(counts)} of {args.providers}; missed {missing} (baseline: 13-15 % missed)")
    return 0 if ratio <= TARGET_RATIO and missing == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
