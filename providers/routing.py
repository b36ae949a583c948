"""The routing chain engine (spec §4.5; docs/architecture.md, "The routing chain").

Pure: plain data in, plain data out, no database. The API, the pages, the preview and the
health runner all call `compute_chain`, so the chain an operator sees is the one that routes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from core.timefmt import iso_utc

ACTIVE, STANDBY, SKIPPED = "active", "standby", "skipped"
HEALTHY = ("active", "standby")


@dataclass(frozen=True)
class RoutingInput:
    """What the engine needs to know of one provider."""

    id: str
    name: str
    tier: str  # the operator's tier: "active" or "standby"
    status: str  # active, standby, degraded, unreachable, disabled
    priority: int
    secret_policy: str
    secret_present: bool
    models: tuple[str, ...]
    # Whether the present secret is bound to the endpoint's current origin (a probe sends it
    # only there); a required secret bound elsewhere does not count as usable.
    secret_bound: bool = True
    display_name: str = ""
    enabled: bool = True
    archived: bool = False
    last_error_code: str | None = None
    last_checked_at: datetime | None = None

    def with_changes(self, **changes: Any) -> RoutingInput:
        return replace(self, **changes)


@dataclass
class Node:
    provider_id: str
    name: str
    display_name: str
    position: int
    status: str
    models: list[str]
    state: str = SKIPPED
    reason_code: str = ""
    reason: str = ""


@dataclass
class Excluded:
    provider_id: str
    reason_code: str
    reason: str


@dataclass
class Chain:
    nodes: list[Node]
    active_provider_id: str | None
    active_reason: str
    excluded: list[Excluded]
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _by_id: dict[str, tuple[Node, str | None]] | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [vars(node).copy() for node in self.nodes],
            "active_provider_id": self.active_provider_id,
            "active_reason": self.active_reason,
            "excluded": [vars(item).copy() for item in self.excluded],
            "computed_at": iso_utc(self.computed_at),
        }

    def routing_intent(self, provider_id: str, models: Iterable[str]) -> dict[str, Any]:
        """What `provider_id` does now.

        `primary`: it is the active provider, the one serving. `fallback`: a usable node a
        router turns to when the primary fails. `excluded`: it serves nothing now, skipped in
        the chain (unreachable, no secret), disabled or archived. `position` is its place in the
        chain (None outside it); `next_provider_id` the next usable node after it.
        """
        found = self._index().get(provider_id)
        if found is None:
            return {"role": "excluded", "position": None, "targets": list(models), "next_provider_id": None}
        node, following = found
        if node.state == SKIPPED:
            return {"role": "excluded", "position": node.position, "targets": list(node.models), "next_provider_id": None}
        return {
            "role": "primary" if node.provider_id == self.active_provider_id else "fallback",
            "position": node.position,
            "targets": list(node.models),
            "next_provider_id": following,
        }

    def _index(self) -> dict[str, tuple[Node, str | None]]:
        """provider id → (its node, the next usable node's provider id), built once in one pass
        from the end, so the list page's thousand `routing_intent` calls stay linear."""
        if self._by_id is None:
            index: dict[str, tuple[Node, str | None]] = {}
            following: str | None = None
            for node in reversed(self.nodes):
                index[node.provider_id] = (node, following)
                if node.state != SKIPPED:
                    following = node.provider_id
            self._by_id = index
        return self._by_id

    def signature(self) -> tuple:
        """What an operator would call "the chain": order, states and the active provider."""
        return (
            tuple((n.provider_id, n.state) for n in self.nodes),
            self.active_provider_id,
            tuple(sorted(e.provider_id for e in self.excluded)),
        )


def _hm(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%SZ") if moment else ""


def order_key(p: RoutingInput) -> tuple:
    """The operator's order: tier first (active before standby), then priority ascending, then
    name. A degraded or unreachable provider keeps the tier the operator gave it."""
    return (0 if p.tier == "active" else 1, p.priority, p.name)


def effective_key(p: RoutingInput) -> tuple:
    """The order a router tries them in: usable healthy providers, then usable degraded ones,
    then the skipped ones; the operator's order inside each group."""
    group = (0 if p.status in HEALTHY else 1) if is_usable(p) else 2
    return (group, *order_key(p))


def is_candidate(p: RoutingInput) -> bool:
    return not p.archived and p.enabled and p.status != "disabled"


def missing_secret(p: RoutingInput) -> bool:
    return p.secret_policy == "required" and not p.secret_present


def secret_elsewhere(p: RoutingInput) -> bool:
    """A required secret that is present but bound to another origin than the endpoint's."""
    return p.secret_policy == "required" and p.secret_present and not p.secret_bound


def is_usable(p: RoutingInput) -> bool:
    return p.status != "unreachable" and not missing_secret(p) and not secret_elsewhere(p)


def _failure(p: RoutingInput) -> str:
    """"unreachable (timeout at 12:01:03Z)", or as much of it as is known."""
    detail = p.last_error_code or ""
    if p.last_checked_at is not None:
        detail = f"{detail} at {_hm(p.last_checked_at)}".strip()
    return f"{p.status} ({detail})" if detail else p.status


def _problem(p: RoutingInput) -> tuple[str, str]:
    """reason_code and wording for a candidate that cannot serve."""
    if p.status == "unreachable":
        return "unreachable", f"is {_failure(p)}"
    if secret_elsewhere(p):
        return "secret_origin_mismatch", "has its secret set for another origin than its endpoint's"
    return "missing_secret", "needs a secret (secret_policy=required) and none is stored"


# Up to this many providers a fallback's reason names each one it takes over after; beyond, it
# says how many and names the first two and the last, so a reason stays one line at fleet size
# (naming all of them made the chain of 1,000 providers several megabytes of text).
EITHER_NAMED = 4


def _either(names: list[str]) -> str:
    """"a fails", "a and b both fail", "a, b and c all fail"; at fleet size "all 12 usable
    providers before it fail (a, b, … l)"."""
    if len(names) == 1:
        return f"{names[0]} fails"
    if len(names) > EITHER_NAMED:
        return f"all {len(names)} usable providers before it fail ({names[0]}, {names[1]}, … {names[-1]})"
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{listed} {'both' if len(names) == 2 else 'all'} fail"


def compute_chain(providers: Iterable[RoutingInput], now: datetime | None = None) -> Chain:
    providers = list(providers)
    candidates = [p for p in providers if is_candidate(p)]
    excluded = [
        Excluded(
            provider_id=p.id,
            reason_code="archived" if p.archived else "disabled",
            reason=f"{p.name} is archived" if p.archived else f"{p.name} is disabled by an operator",
        )
        for p in sorted((p for p in providers if not is_candidate(p)), key=lambda p: p.name)
    ]

    chain_order = sorted(candidates, key=effective_key)
    active = chain_order[0] if chain_order and is_usable(chain_order[0]) else None
    # What the operator ranked before the serving provider (or every candidate, when none
    # serves) and why each of them does not serve.
    operator_order = sorted(candidates, key=order_key)
    ahead = operator_order[: operator_order.index(active)] if active is not None else operator_order
    passed_over = [f"{p.name} {_why_not(p)}" for p in ahead]

    nodes: list[Node] = []
    tried: list[str] = []  # the usable providers before this node, in chain order
    for position, p in enumerate(chain_order, start=1):
        node = Node(
            provider_id=p.id,
            name=p.name,
            display_name=p.display_name or p.name,
            position=position,
            status=p.status,
            models=list(p.models),
        )
        if not is_usable(p):
            node.state = SKIPPED
            node.reason_code, problem = _problem(p)
            node.reason = f"{p.name} {problem}; skipped"
        elif p is active:
            node.state = ACTIVE
            node.reason_code, node.reason = _active_reason(p, passed_over)
        else:
            node.state = STANDBY
            takes_over = f"takes over if {_either(tried)}"
            if p.status in HEALTHY:
                node.reason_code = "fallback"
                node.reason = f"{p.name} {takes_over}"
            else:
                node.reason_code = "degraded"
                node.reason = f"{p.name} is {_failure(p)}; {takes_over}"
        if is_usable(p):
            tried.append(p.name)
        nodes.append(node)

    if active is not None:
        active_reason = nodes[0].reason
    elif not candidates:
        active_reason = "No provider is serving: none is enabled."
    else:
        active_reason = "No provider is serving: " + "; ".join(passed_over) + "."

    return Chain(
        nodes=nodes,
        active_provider_id=active.id if active else None,
        active_reason=active_reason,
        excluded=excluded,
        computed_at=now or datetime.now(UTC),
    )


def _why_not(p: RoutingInput) -> str:
    """Why a provider the operator ranked earlier does not serve."""
    if is_usable(p):  # usable but degraded, passed over for a healthy one
        return f"is {_failure(p)}"
    return _problem(p)[1]


def _active_reason(p: RoutingInput, passed_over: list[str]) -> tuple[str, str]:
    healthy = p.status in HEALTHY
    if not passed_over:
        if healthy:
            return "primary_healthy", f"primary {p.name} is healthy and first by tier and priority {p.priority}"
        return "degraded_only", f"primary {p.name} is {_failure(p)} but usable, and no healthy provider is"
    before = "; ".join(passed_over)
    if healthy:
        return "next_healthy", f"{before}; {p.name} is next by priority {p.priority} and healthy"
    return "degraded_only", f"{before}; {p.name} is {_failure(p)} but usable, and no healthy provider is"
