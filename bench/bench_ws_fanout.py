"""Websocket fan-out: 200 viewers on `/ws/events/`, 50 provider edits, commit to frame.

    .venv/bin/python bench/bench_ws_fanout.py [--viewers 200] [--mutations 50] [--rounds 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mydb REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/bench_ws_fanout.py

Two setups, each a real site under daphne (tests/site_process.py):
- one process: one daphne worker, the embedded default (SQLite file, in-memory channel layer);
- two workers + Redis: two daphne workers (`second_worker`) sharing one database (a scratch
  PostgreSQL database beside the one DATABASE_URL names, else a SQLite file) and Redis
  (REDIS_URL, default redis://127.0.0.1:6379/0, under prefixes of their own); the viewers are
  split half and half across the workers and the edits alternate between them.

The viewers are real websocket clients (tests/event_sockets.py) signed in as a viewer (their
payloads masked). Each round sends `--mutations` PATCHes of a provider's priority through the
API, one after another, as an admin; every audit event committed meanwhile must reach every
viewer (asserted: the bench fails otherwise). Latency of one frame: its arrival at the viewer
minus the event's `created_at` (stamped by the site just before its transaction commits, on this
machine's clock), over every (viewer, event) pair. Printed per round: p50 / p95 / max; judged on
the best round's p95 (this shared machine's speed swings by itself; its swing is printed).
Target: p95 ≤ 250 ms in both setups (issue 9, §6). This bench is new: no earlier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import machine_noise  # noqa: E402  (bench/machine.py)

TARGET_P95_MS = 250.0
ADMIN = ("bench-admin", "bench-admin-password-1")
VIEWER = ("bench-viewer", "bench-viewer-password-1")
PROVIDERS = 10


def answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def events_since(api, site, after_id: int) -> list[int]:
    """Ids of the events committed after `after_id` (the API lists newest first, paginated)."""
    ids, url = [], site.url + "/api/events"
    while url:
        page = api.get(url, timeout=60).json()
        fresh = [event["id"] for event in page["results"] if event["id"] > after_id]
        ids += fresh
        url = page.get("next") if len(fresh) == len(page["results"]) else None
    return sorted(ids)


def last_event_id(api, site) -> int:
    results = api.get(site.url + "/api/events", timeout=60).json()["results"]
    return results[0]["id"] if results else 0


async def measure(workers: list, viewers: int, mutations: int, rounds: int, pause: float = 0.0) -> list[dict]:
    from tests.event_sockets import EventSockets, created_at, sign_in

    first = workers[0]
    token = first.issue_token(ADMIN[0])
    apis = [worker.api_session(token) for worker in workers]
    api = apis[0]
    results = []
    async with EventSockets() as sockets:
        for index, worker in enumerate(workers):
            session = sign_in(worker, *VIEWER)
            share = viewers // len(workers) + (1 if index < viewers % len(workers) else 0)
            await sockets.open(worker, session, count=share, timeout=120)
        await asyncio.sleep(1.0)  # every socket subscribed
        for number in range(1, rounds + 1):
            before = await asyncio.to_thread(last_event_id, api, first)
            for i in range(mutations):
                worker = workers[i % len(workers)]
                answer = await asyncio.to_thread(
                    apis[i % len(workers)].patch, f"{worker.url}/api/providers/fan-{i % PROVIDERS:02d}",
                    json={"priority": 1000 * number + i + 1}  # always a change, so always an event, timeout=60,
                )
                assert answer.status_code == 200, answer.text[:300]
                if pause:
                    await asyncio.sleep(pause)
            expected = await asyncio.to_thread(events_since, api, first, before)
            assert len(expected) >= mutations, f"{len(expected)} events for {mutations} edits"
            wanted = set(expected)
            everyone = await sockets.wait_for(
                lambda wanted=wanted: all(wanted <= s.arrived.keys() for s in sockets.all), timeout=120
            )
            missing = sum(len(wanted - s.arrived.keys()) for s in sockets.all)
            created = {}
            for s in sockets.all:
                for event in s.events:
                    created.setdefault(event["id"], created_at(event))
            latencies = [(s.arrived[i] - created[i]) * 1000 for s in sockets.all for i in expected if i in s.arrived]
            results.append({
                "round": number, "events": len(expected), "frames": len(latencies), "missing": missing,
                "everyone": everyone, "p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
                "max": max(latencies),
            })
    return results


def prepare(site) -> None:
    site.create_operator(ADMIN[0], role="admin", password=ADMIN[1])
    site.create_operator(VIEWER[0], role="viewer", password=VIEWER[1])
    api = site.api_session(site.issue_token(ADMIN[0]))
    for i in range(PROVIDERS):
        created = api.post(site.url + "/api/providers", json={
            "id": f"fan-{i:02d}", "name": f"fan {i:02d}", "kind": "ollama", "endpoint": f"http://127.0.0.1:9/fan-{i}",
            "default_model": "m", "timeout_ms": 2000, "retries": 0,
        }, timeout=60)
        assert created.status_code == 201, created.text[:300]


def report(label: str, viewers: int, results: list[dict]) -> bool:
    print(f"{label}: {viewers} viewers")
    for r in results:
        print(f"  round {r['round']}: {r['events']} events x {viewers} viewers = {r['frames']} frames, "
              f"p50 {r['p50']:6.1f} ms, p95 {r['p95']:6.1f} ms, max {r['max']:6.1f} ms; "
              f"{'every viewer had every event' if r['everyone'] else str(r['missing']) + ' frames MISSING'}")
    best = min(results, key=lambda r: r["p95"])
    complete = all(r["everyone"] for r in results)
    met = best["p95"] <= TARGET_P95_MS
    print(f"  best round p95 {best['p95']:.1f} ms (p50 {best['p50']:.1f} ms): target p95 ≤ {TARGET_P95_MS:.0f} ms "
          f"{'met' if met else 'NOT met'}; delivery {'complete' if complete else 'INCOMPLETE'}")
    return met and complete




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--mutations", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds between two edits (default: none, each edit follows the previous answer)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--only", choices=["one", "two"], help="run one setup only")
    args = parser.parse_args()

    from tests.site_process import postgres_scratch_database, second_worker, site_process

    ok = True
    if args.only in (None, "one"):
        with site_process() as site:
            prepare(site)
            results = asyncio.run(measure([site], args.viewers, args.mutations, args.rounds, args.pause))
        ok &= report("one daphne process (SQLite, in-memory channel layer)", args.viewers, results)

    if args.only in (None, "two"):
        if not answers(args.redis_url):
            print(f"two workers + Redis: skipped, Redis does not answer at {args.redis_url}")
            ok = False
        else:
            with ExitStack() as stack:
                database_url, database = None, "a shared SQLite file"
                if args.database_url.startswith(("postgres://", "postgresql://")):
                    database_url = stack.enter_context(postgres_scratch_database(args.database_url))
                    database = "PostgreSQL"
                first = stack.enter_context(site_process(database_url=database_url, redis_url=args.redis_url))
                second = stack.enter_context(second_worker(first))
                prepare(first)
                results = asyncio.run(measure([first, second], args.viewers, args.mutations, args.rounds, args.pause))
            ok &= report(f"two daphne workers + Redis ({database})", args.viewers, results)

    best, median = machine_noise()
    print(f"this machine: a fixed CPU loop's median is {median / best:.2f}x its best ({best:.0f} / {median:.0f} ms); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
