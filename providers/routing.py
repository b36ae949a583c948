"""The routing chain engine (spec §4.5, ARCHITECTURE.md "Routing chain rules").

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
        for index, node in enumerate(self.nodes):
            if node.provider_id != provider_id:
                continue
            if node.state == SKIPPED:
                return {"role": "excluded", "position": node.position, "targets": list(node.models), "next_provider_id": None}
            following = next((n for n in self.nodes[index + 1 :] if n.state != SKIPPED), None)
            return {
                "role": "primary" if node.provider_id == self.active_provider_id else "fallback",
                "position": node.position,
                "targets": list(node.models),
                "next_provider_id": following.provider_id if following else None,
            }
        return {"role": "excluded", "position": None, "targets": list(models), "next_provider_id": None}

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
    """Operator tier first (active before standby), then priority ascending, then name."""
    return (0 if p.tier == "active" else 1, p.priority, p.name)


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


def compute_chain(providers: Iterable[RoutingInput], now: datetime | None = None) -> Chain:
    providers = list(providers)
    candidates = sorted((p for p in providers if is_candidate(p)), key=order_key)
    excluded = [
        Excluded(
            provider_id=p.id,
            reason_code="archived" if p.archived else "disabled",
            reason=f"{p.name} is archived" if p.archived else f"{p.name} is disabled by an operator",
        )
        for p in sorted((p for p in providers if not is_candidate(p)), key=lambda p: p.name)
    ]

    usable = [p for p in candidates if is_usable(p)]
    active = next((p for p in usable if p.status in HEALTHY), None)
    if active is None:
        active = next((p for p in usable if p.status == "degraded"), None)

    nodes: list[Node] = []
    passed_over: list[str] = []  # what was said of the candidates before the active one
    seen_active = False
    for position, p in enumerate(candidates, start=1):
        node = Node(
            provider_id=p.id,
            name=p.name,
            display_name=p.display_name or p.name,
            position=position,
            status=p.status,
            models=list(p.models),
        )
        role = "primary" if position == 1 else f"fallback {position - 1}"
        if not is_usable(p):
            node.state = SKIPPED
            node.reason_code, problem = _problem(p)
            node.reason = f"{role} {p.name} {problem}; skipped"
            if not seen_active:
                passed_over.append(f"{role} {p.name} {problem}")
        elif p is active:
            seen_active = True
            node.state = ACTIVE
            node.reason_code, node.reason = _active_reason(p, position, passed_over)
        elif not seen_active:
            # Usable but passed over: only a degraded provider is, when a healthy one follows.
            node.state = STANDBY
            node.reason_code = "degraded"
            node.reason = f"{role} {p.name} is {_failure(p)}; a healthy provider is preferred"
            passed_over.append(f"{role} {p.name} is {_failure(p)}")
        else:
            node.state = STANDBY
            node.reason_code = "fallback"
            node.reason = f"{p.name} takes over if {active.name if active else 'the active provider'} fails"
            if p.status == "degraded":
                node.reason += f" (it is {_failure(p)})"
        nodes.append(node)

    if active is not None:
        active_node = next(n for n in nodes if n.provider_id == active.id)
        active_reason = active_node.reason
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


def _active_reason(p: RoutingInput, position: int, passed_over: list[str]) -> tuple[str, str]:
    healthy = p.status in HEALTHY
    if position == 1:
        if healthy:
            return "primary_healthy", f"primary {p.name} is healthy and first by tier and priority {p.priority}"
        return "degraded_only", f"primary {p.name} is {_failure(p)} but usable, and no healthy provider is"
    before = "; ".join(passed_over)
    if healthy:
        return "next_healthy", f"{before}; {p.name} is next by priority {p.priority} and healthy"
    return "degraded_only", f"{before}; {p.name} is {_failure(p)} but usable, and no healthy provider is"
