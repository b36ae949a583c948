"""One test per rule of the routing chain (docs/architecture.md), on plain data."""

from datetime import UTC, datetime

from providers.routing import RoutingInput, compute_chain

T = datetime(2026, 2, 18, 12, 1, 3, tzinfo=UTC)


def p(pid, priority=10, tier="active", status=None, **kw):
    defaults = dict(
        id=pid,
        name=pid,
        tier=tier,
        status=status or tier,
        priority=priority,
        secret_policy="none",
        secret_present=False,
        models=("m1", "m2"),
    )
    defaults.update(kw)
    return RoutingInput(**defaults)


def order(chain):
    return [n.provider_id for n in chain.nodes]


def test_active_tier_comes_before_standby_whatever_the_priority():
    chain = compute_chain([p("backup", 1, tier="standby"), p("main", 50)])
    assert order(chain) == ["main", "backup"]
    assert chain.active_provider_id == "main"
    assert [n.state for n in chain.nodes] == ["active", "standby"]


def test_priority_ascending_within_a_tier_and_name_breaks_ties():
    chain = compute_chain([p("zeta", 10), p("alpha", 10), p("first", 5)])
    assert order(chain) == ["first", "alpha", "zeta"]
    assert [n.position for n in chain.nodes] == [1, 2, 3]


def test_degraded_or_unreachable_provider_keeps_its_operator_tier():
    chain = compute_chain([
        p("a-down", 10, tier="active", status="unreachable"), p("s-down", 1, tier="standby", status="unreachable"),
        p("a-deg", 10, tier="active", status="degraded"), p("s-deg", 1, tier="standby", status="degraded"),
    ])
    assert order(chain) == ["a-deg", "s-deg", "a-down", "s-down"]


def test_effective_order_is_usable_healthy_then_usable_degraded_then_skipped():
    chain = compute_chain([
        p("down", 1, status="unreachable"),
        p("deg", 2, status="degraded"),
        p("spare", 5, tier="standby"),
        p("fine", 9),
        p("spare-deg", 3, tier="standby", status="degraded"),
        p("keyless", 0, secret_policy="required"),
    ])
    assert order(chain) == ["fine", "spare", "deg", "spare-deg", "keyless", "down"]
    assert [n.state for n in chain.nodes] == ["active", "standby", "standby", "standby", "skipped", "skipped"]
    assert [n.position for n in chain.nodes] == [1, 2, 3, 4, 5, 6]
    # One numbering: a provider's routing_intent position is its node's position.
    assert {n.provider_id: chain.routing_intent(n.provider_id, [])["position"] for n in chain.nodes} == {
        "fine": 1, "spare": 2, "deg": 3, "spare-deg": 4, "keyless": 5, "down": 6,
    }


def test_each_fallback_says_which_failures_it_takes_over_after():
    chain = compute_chain([p("a", 1), p("b", 2), p("down", 3, status="unreachable"), p("c", 4), p("d", 5, status="degraded")])
    reasons = {n.provider_id: n.reason for n in chain.nodes}
    assert reasons["b"] == "b takes over if a fails"
    assert reasons["c"] == "c takes over if a and b both fail"
    assert reasons["d"] == "d is degraded; takes over if a, b and c all fail"
    assert reasons["down"] == "down is unreachable; skipped"
    assert len(set(reasons.values())) == len(reasons)


def test_unreachable_primary_is_skipped_and_the_next_healthy_serves():
    chain = compute_chain(
        [
            p("openai-prod", 10, status="unreachable", last_error_code="timeout", last_checked_at=T),
            p("azure-east", 20),
        ]
    )
    assert chain.active_provider_id == "azure-east"
    first, second = chain.nodes
    assert (first.provider_id, first.position, first.state, first.reason_code) == (
        "azure-east", 1, "active", "next_healthy",
    )
    assert (second.provider_id, second.position, second.state, second.reason_code) == (
        "openai-prod", 2, "skipped", "unreachable",
    )
    assert chain.active_reason == (
        "openai-prod is unreachable (timeout at 12:01:03Z); azure-east is next by priority 20 and healthy"
    )


def test_missing_required_secret_makes_a_provider_unusable():
    chain = compute_chain(
        [p("keyless", 1, secret_policy="required", secret_present=False), p("local", 2)]
    )
    assert chain.active_provider_id == "local"
    assert order(chain) == ["local", "keyless"]
    assert chain.nodes[1].state == "skipped"
    assert chain.nodes[1].reason_code == "missing_secret"
    assert "needs a secret" in chain.nodes[1].reason


def test_present_required_secret_and_optional_policy_are_usable():
    chain = compute_chain(
        [p("keyed", 1, secret_policy="required", secret_present=True), p("opt", 2, secret_policy="optional")]
    )
    assert chain.active_provider_id == "keyed"
    assert [n.state for n in chain.nodes] == ["active", "standby"]


def test_healthy_provider_is_preferred_over_an_earlier_degraded_one():
    chain = compute_chain([p("deg", 1, status="degraded"), p("fine", 2)])
    assert chain.active_provider_id == "fine"
    assert order(chain) == ["fine", "deg"]
    assert (chain.nodes[1].state, chain.nodes[1].reason_code) == ("standby", "degraded")
    assert chain.active_reason == "deg is degraded; fine is next by priority 2 and healthy"


def test_nothing_healthy_falls_back_to_the_first_usable_degraded():
    chain = compute_chain(
        [p("down", 1, status="unreachable"), p("deg1", 2, status="degraded"), p("deg2", 3, status="degraded")]
    )
    assert chain.active_provider_id == "deg1"
    assert order(chain) == ["deg1", "deg2", "down"]
    assert chain.nodes[0].reason_code == "degraded_only"
    assert [n.state for n in chain.nodes] == ["active", "standby", "skipped"]


def test_nothing_usable_means_no_active_provider_and_says_why():
    chain = compute_chain(
        [p("down", 1, status="unreachable"), p("nokey", 2, secret_policy="required")]
    )
    assert chain.active_provider_id is None
    assert [n.state for n in chain.nodes] == ["skipped", "skipped"]
    assert chain.active_reason.startswith("No provider is serving: down is unreachable")
    assert "nokey needs a secret" in chain.active_reason


def test_nothing_enabled_gives_an_empty_chain_with_everything_excluded():
    chain = compute_chain(
        [p("off", 1, enabled=False, status="disabled"), p("gone", 2, archived=True)]
    )
    assert chain.nodes == []
    assert chain.active_provider_id is None
    assert chain.active_reason == "No provider is serving: none is enabled."
    assert {(e.provider_id, e.reason_code) for e in chain.excluded} == {("off", "disabled"), ("gone", "archived")}


def test_models_are_default_then_fallbacks_in_order():
    chain = compute_chain([p("a", models=("default", "fb1", "fb2"))])
    assert chain.nodes[0].models == ["default", "fb1", "fb2"]


def test_routing_intent_gives_role_position_targets_and_next():
    chain = compute_chain([p("a", 1), p("b", 2), p("off", 3, enabled=False, status="disabled")])
    assert chain.routing_intent("a", ["m1", "m2"]) == {
        "role": "primary", "position": 1, "targets": ["m1", "m2"], "next_provider_id": "b",
    }
    assert chain.routing_intent("b", [])["role"] == "fallback"
    assert chain.routing_intent("b", [])["next_provider_id"] is None
    assert chain.routing_intent("off", ["x"]) == {
        "role": "excluded", "position": None, "targets": ["x"], "next_provider_id": None,
    }


def test_a_change_that_moves_the_active_provider_changes_the_signature():
    before = compute_chain([p("a", 1), p("b", 2)])
    after = compute_chain([p("a", 1).with_changes(priority=30), p("b", 2)])
    assert after.active_provider_id == "b"
    assert before.signature() != after.signature()
    same = compute_chain([p("a", 1).with_changes(models=("other",)), p("b", 2)])
    assert same.signature() == before.signature()


def test_chain_serialises_to_the_api_shape():
    data = compute_chain([p("a", 1)], now=T).to_dict()
    assert set(data) == {"nodes", "active_provider_id", "active_reason", "excluded", "computed_at"}
    assert set(data["nodes"][0]) == {
        "provider_id", "name", "display_name", "position", "status", "models", "state", "reason_code", "reason",
    }
    assert data["computed_at"] == "2026-02-18T12:01:03.000000Z"


def test_routing_intent_primary_is_the_provider_serving_not_position_one():
    chain = compute_chain([
        p("down", 1, status="unreachable"),
        p("keyless", 2, secret_policy="required"),
        p("serving", 3),
        p("shaky", 4, status="degraded"),
    ])
    assert chain.active_provider_id == "serving"
    roles = {pid: chain.routing_intent(pid, [])["role"] for pid in ("down", "keyless", "serving", "shaky")}
    assert roles == {"down": "excluded", "keyless": "excluded", "serving": "primary", "shaky": "fallback"}
    position = {n.provider_id: n.position for n in chain.nodes}
    assert chain.routing_intent("serving", []) == {
        "role": "primary", "position": position["serving"], "targets": ["m1", "m2"], "next_provider_id": "shaky",
    }
    # A skipped node keeps its chain position and leads nowhere.
    assert chain.routing_intent("down", []) == {
        "role": "excluded", "position": position["down"], "targets": ["m1", "m2"], "next_provider_id": None,
    }


def test_routing_intent_when_nothing_serves_everything_is_excluded():
    chain = compute_chain([p("down", 1, status="unreachable"), p("keyless", 2, secret_policy="required")])
    assert chain.active_provider_id is None
    assert {chain.routing_intent(pid, [])["role"] for pid in ("down", "keyless")} == {"excluded"}


def test_routing_intent_next_provider_skips_unusable_nodes():
    chain = compute_chain([p("a", 1), p("down", 2, status="unreachable"), p("c", 3)])
    assert chain.routing_intent("a", [])["next_provider_id"] == "c"


def test_at_fleet_size_a_fallback_names_the_first_two_and_the_last_it_takes_over_after():
    fleet = [p(f"p{i:04d}", i) for i in range(1000)] + [p("down", 5000, status="unreachable")]
    chain = compute_chain(fleet)
    reasons = {n.provider_id: n.reason for n in chain.nodes}
    assert reasons["p0004"] == "p0004 takes over if p0000, p0001, p0002 and p0003 all fail"
    assert reasons["p0005"] == "p0005 takes over if all 5 usable providers before it fail (p0000, p0001, … p0004)"
    assert reasons["p0999"] == "p0999 takes over if all 999 usable providers before it fail (p0000, p0001, … p0998)"
    assert len(set(reasons.values())) == len(reasons)
    # One line a node: the chain of 1,000 providers stays small (naming every provider before
    # each node made it several megabytes).
    assert max(len(r) for r in reasons.values()) < 120


def test_routing_intent_next_skips_unusable_nodes_at_any_distance():
    chain = compute_chain([p("a", 1), *(p(f"down{i}", 2 + i, status="unreachable") for i in range(50)), p("z", 99)])
    assert chain.routing_intent("a", [])["next_provider_id"] == "z"
    assert chain.routing_intent("z", [])["next_provider_id"] is None
    assert chain.routing_intent("down7", [])["role"] == "excluded"
    assert chain.routing_intent("nobody", ["m"]) == {"role": "excluded", "position": None, "targets": ["m"], "next_provider_id": None}
