"""The health runner: probe providers concurrently, then record what happened.

`probe_one()` talks to the network only. `run_checks()` resolves credentials, probes every
provider at once (up to PROBE_MAX_CONCURRENCY; the probes are greenlets on one event loop,
health/probe_loop.py), and only then writes — from the calling thread, in one transaction: the
status moves, one append-only `HealthCheck` row per probe, and one `provider.tested` event per
provider. Probes never touch the database (SQLite allows one writer at a time, and a test's
transaction is invisible to other threads).

With `record_as_they_finish=True` (the console's background Run all, health/background.py) it
writes as probes finish instead: every outcome that has arrived is recorded at once, together
with any others finished meanwhile, each batch in its own transaction, so a provider's card
and its `provider.tested` event do not wait for the slowest probe of the run. A `run_id` goes
into the payload of every `provider.tested` event of the run.

The API, the page button and `manage.py run_checks` all go through `run_checks()`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.events import record_events
from core.actors import actor_name
from health import collector, counters, errors, metrics, probe_loop, status
from health.check_rows import insert_checks
from health.http import ProbeClient, ProbeSession, new_session, origin_of
from health.models import HealthCheck
from health.probes import probe_for
from providers.models import Provider, SecretPolicy
from providers.origins import endpoint_origin
from providers.services import move_status

logger = logging.getLogger(__name__)

_RESOLVE = object()

# Recording as probes finish, a batch waits this long after its first outcome for others: each
# batch is a transaction with fixed costs (the window query, the counts, the commit), and a run
# of 1,000 recorded 15-38 batches of whatever had arrived; gathering makes it 5-14 and saves
# about 80 ms of CPU. A card still updates within this long of its probe's end.
GATHER_SECONDS = 0.03


@dataclass(frozen=True)
class ProbeOutcome:
    """What one probe found, before anything is written."""

    provider_id: str
    ok: bool
    error_code: str | None
    error_message: str
    latency_ms: int | None
    http_status: int | None
    model: str
    deep: bool
    checked_at: datetime


@dataclass
class RunResult:
    checks: list[HealthCheck]
    duration_ms: int

    @property
    def checked(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.ok)

    @property
    def failed(self) -> int:
        return self.checked - self.passed


class UnknownProviders(ValueError):
    def __init__(self, ids: list[str]):
        super().__init__(", ".join(ids))
        self.ids = ids


def providers_to_check(*, include_disabled: bool = False, provider_ids: Iterable[str] | None = None) -> list[Provider]:
    """What Run all checks probes: live providers (enabled ones unless `include_disabled`),
    or only `provider_ids`; raises UnknownProviders naming ids that are unknown or archived."""
    providers = Provider.objects.live().order_by("priority", "name")
    if provider_ids is not None:
        wanted = list(dict.fromkeys(provider_ids))
        found = set(providers.filter(pk__in=wanted).values_list("pk", flat=True))
        unknown = [pid for pid in wanted if pid not in found]
        if unknown:
            raise UnknownProviders(unknown)
        providers = providers.filter(pk__in=wanted)
    if not include_disabled:
        providers = providers.filter(enabled=True)
    return list(providers)


def resolve_credential(provider: Provider) -> Any:
    """The credential a probe sends (a `BoundCredential`: value and origin), or None.

    Raises `missing_secret` when one is required and none is stored (or it cannot be read), and
    `secret_origin_mismatch` when the stored one is bound to another origin than the endpoint's:
    in both cases no request is made. `secret_policy=none` never asks the vault, so such a
    provider never sends a credential.
    """
    if provider.secret_policy == SecretPolicy.NONE:
        return None
    from secrets_vault import api as vault

    try:
        credential = vault.get_bound_credential(provider)
    except vault.VaultError as exc:  # names the key id and what to do; never key material
        logger.error("could not read the secret of provider %s: %s", provider.pk, exc)
        raise errors.unreadable_secret(str(exc)) from None
    except Exception as exc:  # a vault failure must fail this check, not the whole run
        logger.error("could not read the secret of provider %s (%s)", provider.pk, type(exc).__name__)
        raise errors.unreadable_secret() from None
    if credential is None or not credential.value:
        if provider.secret_policy == SecretPolicy.REQUIRED:
            raise errors.missing_secret()
        return None
    current = endpoint_origin(provider.endpoint)
    if credential.origin != current:
        raise errors.secret_origin_mismatch(credential.origin, current)
    return credential


def _credential_parts(credential: Any) -> tuple[str | None, Any]:
    """(value, origin the value may go to) of a resolved credential, or of a plain string (tests)."""
    if credential is None or isinstance(credential, str):
        return credential, None
    return credential.value, origin_of(credential.origin)


def _failed(provider: Provider, failure: errors.ProbeFailure, *, deep: bool, checked_at: datetime, latency_ms: int | None) -> ProbeOutcome:
    return ProbeOutcome(
        provider_id=provider.pk,
        ok=False,
        error_code=failure.code,
        error_message=failure.message,
        latency_ms=latency_ms,
        http_status=failure.http_status,
        model=provider.default_model,
        deep=deep,
        checked_at=checked_at,
    )


def probe_one(
    provider: Provider,
    *,
    deep: bool = False,
    credential: Any = _RESOLVE,
    session: ProbeSession | None = None,
) -> ProbeOutcome:
    """Probe one provider and classify the answer; writes nothing.

    Without `credential`, it is resolved from the vault here (a database read); `run_checks`
    resolves credentials first and passes them, so its threads stay off the database.
    """
    checked_at = timezone.now()
    started = time.monotonic()
    client: ProbeClient | None = None
    own_session = session is None  # a single probe: its requests share connections, closed after
    if own_session:
        session = new_session()
    try:
        if credential is _RESOLVE:
            credential = resolve_credential(provider)
        value, credential_origin = _credential_parts(credential)
        client = ProbeClient(
            endpoint=provider.endpoint,
            timeout_ms=provider.timeout_ms,
            retries=provider.retries,
            credential=value,
            credential_origin=credential_origin,
            session=session,
        )
        probe = probe_for(provider, client)
        probe.check()
        if deep:
            probe.deep_check()
        latency_ms = round((time.monotonic() - started) * 1000)
    except errors.ProbeFailure as failure:
        made_request = failure.code not in (
            errors.ErrorCode.MISSING_SECRET, errors.ErrorCode.BLOCKED_ENDPOINT, errors.ErrorCode.SECRET_ORIGIN_MISMATCH
        )
        latency = round((time.monotonic() - started) * 1000) if made_request else None
        if failure.http_status is None and client is not None and failure.code != errors.ErrorCode.TIMEOUT:
            failure.http_status = client.last_status
        return _failed(provider, failure, deep=deep, checked_at=checked_at, latency_ms=latency)
    except Exception:
        logger.exception("health probe of provider %s failed unexpectedly", provider.pk)
        failure = errors.ProbeFailure(
            errors.ErrorCode.BAD_ENDPOINT,
            "The check could not interpret the endpoint's answer. Check the endpoint URL and the "
            "provider kind; the server log has details.",
        )
        return _failed(provider, failure, deep=deep, checked_at=checked_at, latency_ms=None)
    finally:
        if own_session:
            session.close()
    return ProbeOutcome(
        provider_id=provider.pk,
        ok=True,
        error_code=None,
        error_message="",
        latency_ms=latency_ms,
        http_status=client.last_status,
        model=provider.default_model,
        deep=deep,
        checked_at=checked_at,
    )


def _probe_concurrently(
    jobs: list[tuple[Provider, Any]], workers: int, deep: bool, session: ProbeSession
) -> Iterator[ProbeOutcome]:
    """Yield outcomes as probes finish, `workers` at once (see `_probe_in_batches`)."""
    for batch in _probe_in_batches(jobs, workers, deep, session):
        yield from batch


def _probe_in_batches(
    jobs: list[tuple[Provider, Any]], workers: int, deep: bool, session: ProbeSession, gather: float = 0.0
) -> Iterator[list[ProbeOutcome]]:
    """Yield outcomes as probes finish, at most `workers` probing at once: each time, the one
    just finished and every other that has finished meanwhile, plus, with `gather` seconds,
    those that finish within that long after the first (never waiting once all are in).

    The probes run as greenlets on the probe loop's thread (health/probe_loop.py), all their
    HTTP on its event loop; this thread only collects the outcomes (and records them, in
    run_checks), so the database is never touched from the loop.
    """
    done: queue.SimpleQueue[list[ProbeOutcome]] = queue.SimpleQueue()
    finished: list[ProbeOutcome] = []  # touched on the loop's thread only

    def hand_over() -> None:
        done.put(finished[:])
        finished.clear()

    def on_done(outcome: ProbeOutcome) -> None:
        # One hand-over per turn of the loop, not one per probe: every put wakes this thread,
        # and a run of 1,000 passed the interpreter lock back and forth for each outcome.
        if not finished:
            asyncio.get_running_loop().call_soon(hand_over)
        finished.append(outcome)

    def probe(provider: Provider, credential: Any) -> ProbeOutcome:
        try:
            return probe_one(provider, deep=deep, credential=credential, session=session)
        except BaseException:  # never leave the caller waiting for an outcome
            logger.exception("health probe of provider %s crashed", provider.pk)
            crashed = errors.ProbeFailure(errors.ErrorCode.UNREACHABLE, "The check crashed; see the server log.")
            return _failed(provider, crashed, deep=deep, checked_at=timezone.now(), latency_ms=None)

    running = probe_loop.run_all([functools.partial(probe, p, c) for p, c in jobs], workers, on_done)
    remaining = len(jobs)
    while remaining:
        try:
            batch = done.get(timeout=1.0)
        except queue.Empty:
            if running.done():
                running.result()  # raises what broke the run
                raise RuntimeError(f"the probe loop finished with {remaining} outcomes missing") from None
            continue
        until = time.monotonic() + gather
        while len(batch) < remaining:
            try:
                wait = until - time.monotonic()
                batch.extend(done.get(timeout=wait) if wait > 0 else done.get_nowait())
            except queue.Empty:
                break
        remaining -= len(batch)
        yield batch
    running.result()


def run_checks(
    providers: Iterable[Provider],
    *,
    deep: bool = False,
    actor: Any = None,
    on_result: Callable[[ProbeOutcome], None] | None = None,
    record_as_they_finish: bool = False,
    run_id: str | None = None,
    on_recorded: Callable[[list[HealthCheck]], None] | None = None,
) -> RunResult:
    """Probe `providers` concurrently and record the results; returns the saved rows in input order.

    `on_result` is called in the calling thread as each probe finishes (progress display).
    By default everything is recorded at the end in one transaction (the API's synchronous
    contract). With `record_as_they_finish`, each batch of finished probes is recorded at once
    in its own transaction (and broadcast when it commits); `on_recorded` is then called with
    each batch's rows. `run_id`, when given, is put in every `provider.tested` payload.
    """
    providers = list(providers)
    by_id = {p.pk: p for p in providers}
    started = time.monotonic()
    outcomes: dict[str, ProbeOutcome] = {}
    recorded: dict[str, HealthCheck] = {}

    def arrived(batch: list[ProbeOutcome]) -> None:
        for outcome in batch:
            outcomes[outcome.provider_id] = outcome
            if on_result:
                on_result(outcome)
        if record_as_they_finish and batch:
            rows = record_outcomes([by_id[o.provider_id] for o in batch], batch, actor=actor, run_id=run_id)
            recorded.update((row.provider_id, row) for row in rows)
            if on_recorded:
                on_recorded(rows)

    jobs: list[tuple[Provider, Any]] = []
    unprobed: list[ProbeOutcome] = []
    for provider in providers:
        try:
            jobs.append((provider, resolve_credential(provider)))
        except errors.ProbeFailure as failure:
            unprobed.append(_failed(provider, failure, deep=deep, checked_at=timezone.now(), latency_ms=None))
    arrived(unprobed)

    closing: concurrent.futures.Future[None] | None = None
    # A run's objects all live at once: fewer young collections meanwhile (health/collector.py).
    with collector.fewer_collections():
        try:
            if jobs:
                workers = max(1, min(int(settings.PROBE_MAX_CONCURRENCY), len(jobs)))
                session = new_session(pool_size=workers)
                try:
                    gather = GATHER_SECONDS if record_as_they_finish else 0.0
                    for batch in _probe_in_batches(jobs, workers, deep, session, gather):
                        arrived(batch)
                finally:
                    # The run's connections close on the probe loop while this thread records.
                    closing = session.close_soon()

            if record_as_they_finish:
                checks = [recorded[p.pk] for p in providers]
            else:
                checks = record_outcomes(providers, [outcomes[p.pk] for p in providers], actor=actor, run_id=run_id)
        finally:
            if closing is not None:
                closing.result()
    return RunResult(checks=checks, duration_ms=round((time.monotonic() - started) * 1000))


@transaction.atomic
def record_outcomes(
    providers: list[Provider], outcomes: list[ProbeOutcome], *, actor: Any = None, run_id: str | None = None
) -> list[HealthCheck]:
    """Write status moves, check rows and `provider.tested` events for finished probes
    (`run_id`, when given, goes into each event's payload).

    Queries: one for the 5-minute window of all providers, one insert for all check rows
    (health/check_rows.py), one
    upsert of their cumulative counts (health/counters.py), one insert for all `provider.tested`
    rows, plus a compare-and-set (and its event) for each provider whose status moves. The
    events are broadcast once the transaction commits, off the caller's thread
    (audit/broadcast.py).
    """
    from health.serializers import check_result

    window = metrics.window_counts([p.pk for p in providers])
    final_status: dict[str, str] = {}
    lost_race: list[str] = []
    # Rows are locked in primary-key order, the same in every concurrent run: in the callers'
    # order (priority, which a concurrent PATCH may change) two Run alls can deadlock.
    for provider, outcome in sorted(zip(providers, outcomes, strict=True), key=lambda pair: pair[0].pk):
        total, passed = window.get(provider.pk, (0, 0))
        move = status.target_status(
            provider,
            ok=outcome.ok,
            error_code=outcome.error_code,
            checked_at=outcome.checked_at,
            window=(total + 1, passed + int(outcome.ok)),
        )
        final_status[provider.pk] = provider.status
        if move is None:
            continue
        if move_status(provider.pk, expected=provider.status, new=move.new, reason=move.reason, actor=actor):
            final_status[provider.pk] = move.new
            provider.status = move.new
        else:
            lost_race.append(provider.pk)
    if lost_race:  # someone moved these first: report what they are now
        final_status.update(Provider.objects.filter(pk__in=lost_race).values_list("pk", "status"))

    name = actor_name(actor)
    rows = insert_checks(
        [
            HealthCheck(
                **vars(outcome),  # flat and immutable: asdict()'s deep copy cost ~0.2 ms a row
                provider_status=final_status[outcome.provider_id],
                actor_name=name,
            )
            for outcome in outcomes
        ]
    )
    counters.count_checks(rows)  # the cumulative counts behind /metrics, in this transaction
    by_id = {p.pk: p for p in providers}
    record_events(
        "provider.tested",
        (
            {
                "provider_id": row.provider_id,
                "summary": f"{name} tested {by_id[row.provider_id].name}: "
                + (f"pass in {row.latency_ms} ms" if row.ok else f"fail ({row.error_code})"),
                "payload": {"check": check_result(row), **({"run_id": run_id} if run_id else {})},
            }
            for row in rows
        ),
        actor=actor,
    )
    return rows
