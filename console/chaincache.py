"""The routing chain computed once per change, not once per response.

Every response that names a provider's place in the chain (the API's detail, create, PATCH,
archive and list, the provider page, `GET /api/routing-chain`) used to load every provider with
its health and vault projection and run `compute_chain`: a single provider's answer grew with
the fleet. Here the chain is kept in the process, keyed by the *chain version*: what the chain
is computed from, summarised by one cheap query that needs no writes (docs/architecture.md,
"The routing chain"; docs/performance.md).

The version is a tuple of aggregates, each of which changes whenever a committed change can
change the chain, whatever order concurrent transactions commit in:

- providers: `count(*)`, `sum(version)` and `max(updated_at)`. Every provider change (operator
  edits, archive and restore, health's status moves, the vault's re-binding, which rides on the
  endpoint's change) bumps the row's `version` by one in its own transaction, so the sum grows
  with every commit, late ones included. `max(updated_at)` separates a state from one that a
  rolled-back transaction once showed with the same sum.
- the vault: `count(*)`, `max(id)` and `max(rebound_at)` of secret versions. Set, rotate,
  clear and restore each insert a row (the projection reads the current one); re-binding a
  secret to a new origin rewrites its row and stamps `rebound_at`; rows are never deleted but
  with their provider.
- health: `max(id)`, `min(id)` and the number of checks among the latest `RECENT_CHECKS` ids.
  A check is appended (the chain's reasons quote the last error and its time); ids are handed
  out before commit, so a check may commit after a later one: it still lands in the recent
  window and changes its count. Purging history removes the oldest ids (`min`).

Each part is an index lookup or a scan of the provider table (a thousand rows), never a scan of
the check history. Nothing is written to read it, so no writer waits on a shared counter, and
two processes reading the same committed state read the same version: each keeps its own copy
of the chain, and both are the chain `compute_chain` gives for that state.

The version is read before the chain's inputs, so a chain stored under a version is never older
than the state the version describes; a change that lands in between changes the version, and
the next reader computes again. A chain computed inside a transaction of the caller's own is
not stored: it may show writes that are rolled back.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from django.db import connection

from health.models import HealthCheck
from providers.models import Provider
from providers.routing import Chain, RoutingInput, compute_chain
from secrets_vault.models import SecretVersion

# How many of the latest check ids the version counts. A check that commits after this many
# later ones were inserted would go unnoticed until the next change; a check's transaction is
# a single insert (and a status move), far shorter than that.
RECENT_CHECKS = 2_000

_lock = threading.Lock()
# (version, chain, the inputs it was computed from, by provider id)
_cached: tuple[tuple, Chain, dict[str, RoutingInput]] | None = None


def _version_sql() -> str:
    providers = connection.ops.quote_name(Provider._meta.db_table)
    secrets = connection.ops.quote_name(SecretVersion._meta.db_table)
    checks = connection.ops.quote_name(HealthCheck._meta.db_table)
    return (
        # MIN and MAX of the checks each in a query of its own: SQLite reads a lone MIN or MAX
        # off the index, but both in one SELECT scan the table (585 ms at 1.44 million rows).
        f"SELECT p.n, p.versions, p.updated, s.n, s.last, s.rebound, h.last, (SELECT MIN(id) FROM {checks}), "
        f"(SELECT COUNT(*) FROM {checks} WHERE id > COALESCE(h.last, 0) - %s) "
        f"FROM (SELECT COUNT(*) AS n, COALESCE(SUM(version), 0) AS versions, MAX(updated_at) AS updated "
        f"FROM {providers}) p, "
        f"(SELECT COUNT(*) AS n, MAX(id) AS last, MAX(rebound_at) AS rebound FROM {secrets}) s, "
        f"(SELECT MAX(id) AS last FROM {checks}) h"
    )


# Where each part sits in the version tuple (after the database alias).
PROVIDER_COUNT, PROVIDER_VERSIONS, PROVIDER_UPDATED = 1, 2, 3
VAULT_AND_HEALTH = slice(4, None)


def chain_version() -> tuple:
    """The chain's inputs summarised, in one query (see the module's docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(), [RECENT_CHECKS])
        row = cursor.fetchone()
    return (connection.alias, *row)


def inside_own_transaction() -> bool:
    """Whether this connection has uncommitted writes of its own could be in view: an atomic
    block other than the one a test case wraps every test in."""
    if not connection.in_atomic_block:
        return False
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def lookup(version: tuple) -> Chain | None:
    """The chain stored for `version`, or None."""
    stored = _cached
    return stored[1] if stored is not None and stored[0] == version else None


def store(version: tuple, inputs: dict[str, RoutingInput], chain: Chain | None = None) -> Chain:
    """Keep the chain of `inputs` (computed unless given) for `version`, read before the inputs
    were; returns it."""
    global _cached
    if chain is None:
        chain = compute_chain(inputs.values())
    if not inside_own_transaction():
        with _lock:
            _cached = (version, chain, inputs)
    return chain


def cached_chain(version: tuple | None = None) -> Chain:
    """The routing chain as it stands: the stored one while the version is unchanged, otherwise
    computed (two more queries, `routing_inputs`) and stored. One query on a hit (none when the
    caller read the version just before). Treat it as read-only: it is shared by every response
    until the next change."""
    from console.readmodel import routing_inputs  # the read model uses this module too

    if version is None:
        version = chain_version()
    return lookup(version) or store(version, routing_inputs())


def chain_after_change(provider: Provider, *, endpoint_changed: bool = False) -> Chain:
    """The chain after the caller's own committed change to `provider` (created, edited,
    archived or restored), for the response that answers it.

    When the version moved by exactly that change since the stored chain (one more provider
    version, one more provider if it was created, the vault and health as they were), the new
    chain is the stored inputs with this provider's own fields replaced: no query beyond the
    version's. Anything else (another change committed meanwhile, a new endpoint, which decides
    whether a secret is bound to it) computes the chain afresh."""
    from console.readmodel import provider_routing_fields

    version = chain_version()
    found = lookup(version)
    if found is not None:
        return found
    stored = _cached
    if stored is not None and not endpoint_changed and _moved_by_one_change(stored[0], version, created=provider.id not in stored[2]):
        inputs = dict(stored[2])
        fields = provider_routing_fields(provider)
        before = inputs.get(provider.id)
        # A new provider has no secret and no check yet; an edited one keeps its own.
        after = (
            before.with_changes(**fields) if before is not None
            else RoutingInput(id=provider.id, **fields, secret_present=False, secret_bound=False)
        )
        inputs[provider.id] = after
        relabelled = _relabelled(stored[1], before, after) if before is not None else None
        return store(version, inputs, relabelled)
    return cached_chain()


def _relabelled(chain: Chain, before: RoutingInput, after: RoutingInput) -> Chain | None:
    """The chain after a change to the provider's display name or models only, which only its
    own node shows: no other node's place, state or reason moves, so the stored chain is copied
    with that one node replaced instead of being computed again (sorting and wording every node
    made a rename at 1,000 providers cost more than at 10). None for any other change."""
    if after.with_changes(display_name=before.display_name, models=before.models) != before:
        return None
    # Its place from the stored chain's index (built when the chain was first answered); a
    # provider outside the chain (archived, disabled) has no node, and `excluded` shows neither.
    position = chain.routing_intent(after.id, ())["position"]
    nodes = chain.nodes
    if position is not None:
        nodes = list(nodes)
        nodes[position - 1] = replace(
            nodes[position - 1], display_name=after.display_name or after.name, models=list(after.models)
        )
    return Chain(
        nodes=nodes, active_provider_id=chain.active_provider_id, active_reason=chain.active_reason,
        excluded=chain.excluded,
    )


def _moved_by_one_change(before: tuple, after: tuple, *, created: bool) -> bool:
    """Whether `after` is `before` plus one provider's change and nothing else: every provider
    change adds one to the sum of versions, so a sum one higher admits no other."""
    return (
        before[0] == after[0]
        and after[PROVIDER_COUNT] == before[PROVIDER_COUNT] + (1 if created else 0)
        and after[PROVIDER_VERSIONS] == before[PROVIDER_VERSIONS] + 1
        and after[VAULT_AND_HEALTH] == before[VAULT_AND_HEALTH]
    )


def forget() -> None:
    """Drop the stored chain (what a fresh process starts with)."""
    global _cached
    with _lock:
        _cached = None


def stored_version() -> Any:
    """The version the stored chain was computed at, or None (for tests and benches)."""
    stored = _cached
    return stored[0] if stored is not None else None
