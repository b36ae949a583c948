"""The routing rule for a required secret bound to another origin than the endpoint's, on plain data."""

from providers.routing import RoutingInput, compute_chain


def p(pid, priority, **kw):
    defaults = dict(id=pid, name=pid, tier="active", status="active", priority=priority, secret_policy="required",
                    secret_present=True, secret_bound=True, models=("m1",))
    defaults.update(kw)
    return RoutingInput(**defaults)


def test_a_required_secret_bound_elsewhere_is_skipped_like_a_missing_one():
    chain = compute_chain([p("moved", 1, secret_bound=False), p("next", 2)])

    assert [n.provider_id for n in chain.nodes] == ["next", "moved"]  # the skipped come last
    moved = chain.nodes[1]
    assert (moved.state, moved.reason_code) == ("skipped", "secret_origin_mismatch")
    assert moved.reason == "moved has its secret set for another origin than its endpoint's; skipped"
    assert chain.active_provider_id == "next"
    assert "has its secret set for another origin" in chain.active_reason


def test_an_optional_secret_bound_elsewhere_does_not_decide_routing():
    # Its checks fail (secret_origin_mismatch) and move its status; routing follows the status.
    chain = compute_chain([p("moved", 1, secret_policy="optional", secret_bound=False), p("next", 2)])
    assert chain.active_provider_id == "moved"


def test_no_secret_at_all_is_still_missing_secret():
    chain = compute_chain([p("none", 1, secret_present=False, secret_bound=False)])
    assert chain.nodes[0].reason_code == "missing_secret"
    assert chain.active_provider_id is None
