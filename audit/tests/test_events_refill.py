"""`GET /api/events?after_id=`: what a live console missed, by event id."""

from __future__ import annotations

import pytest

from audit.events import record_event

pytestmark = pytest.mark.django_db


def test_after_id_lists_only_the_events_after_that_id_newest_first(viewer_client):
    rows = [record_event("provider.updated", provider_id="p1", summary=f"change {i}") for i in range(5)]
    body = viewer_client.get(f"/api/events?after_id={rows[1].id}").json()
    assert body["count"] == 3
    assert [event["id"] for event in body["results"]] == [rows[4].id, rows[3].id, rows[2].id]
    assert {event["masked"] for event in body["results"]} == {True}
    assert viewer_client.get(f"/api/events?after_id={rows[4].id}").json()["count"] == 0
    assert viewer_client.get("/api/events?after_id=0").json()["count"] == 5
    paged = viewer_client.get(f"/api/events?after_id={rows[0].id}&page_size=2").json()
    assert paged["count"] == 4 and len(paged["results"]) == 2 and paged["next"]


@pytest.mark.parametrize("value", ["1.5", "-1", "abc", str(2**63), "99999999999999999999999"])
def test_a_bad_after_id_is_a_400_naming_the_field(viewer_client, value):
    response = viewer_client.get(f"/api/events?after_id={value}")
    assert response.status_code == 400
    assert list(response.json()) == ["after_id"]


def test_after_id_is_in_the_schema(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/events"]["get"]["parameters"]}
    assert parameters["after_id"]["schema"]["type"] == "integer"
