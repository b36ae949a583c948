"""A kept provider list is also kept as its plain JSON bytes (console/listcache.py): the bytes
are the ones DRF renders, other media types are rendered afresh, and a change is in the next
answer's bytes."""

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer

from console import listcache
from console.tests.test_list_page_queries import grow

pytestmark = pytest.mark.django_db


def test_a_kept_answers_bytes_are_drfs(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 6)
    built = admin_client.get("/api/providers")
    kept = [admin_client.get("/api/providers") for _ in range(2)]  # the first renders, the next reuse

    for answer in kept:
        assert answer.status_code == 200
        assert answer.content == built.content
        assert answer["Content-Type"] == built["Content-Type"] == "application/json"
        assert answer.content == JSONRenderer().render(built.json())


def test_other_media_types_are_rendered_from_the_data(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 3)
    plain = admin_client.get("/api/providers").content
    admin_client.get("/api/providers")  # kept, rendered once

    indented = admin_client.get("/api/providers", HTTP_ACCEPT="application/json; indent=4")
    assert indented["Content-Type"] == "application/json"
    assert indented.content.startswith(b'{\n    "count"') and json.loads(indented.content) == json.loads(plain)
    page = admin_client.get("/api/providers", HTTP_ACCEPT="text/html")
    assert page["Content-Type"].startswith("text/html") and b"fleet-000" in page.content
    assert admin_client.get("/api/providers").content == plain


def test_a_change_is_in_the_next_answers_bytes(admin_client, admin_user, provider_factory):
    grow(provider_factory, admin_user, 0, 3)
    admin_client.get("/api/providers")
    before = admin_client.get("/api/providers").content  # from the kept bytes
    assert admin_client.patch("/api/providers/fleet-001", {"display_name": "Renamed"}, format="json").status_code == 200

    after = admin_client.get("/api/providers")
    assert after.content != before and b'"display_name":"Renamed"' in after.content
    listcache.forget()
    assert admin_client.get("/api/providers").content == after.content
