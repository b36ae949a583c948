"""Bad input is a 400 naming the field and the reason (or an inline form error), never a 500.

JSON nested deeper than the site needs (Python's decoder recurses once per level: 1,000 levels
raise RecursionError), on every endpoint that takes a body, as JSON and as a form field; and
an endpoint URL that carries a credential, on the API, the preview and the Django admin.
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from alerts.services import create_channel
from core.parsers import MAX_JSON_DEPTH, exceeds_json_depth
from providers.models import Provider

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000

NEW = {
    "id": "fresh", "name": "fresh", "kind": "openai_compatible", "endpoint": "https://api.example.com/v1",
    "default_model": "gpt-4o-mini",
}


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"n": value}
    return value


# --- JSON nesting --------------------------------------------------------------------------------


def body_endpoints(admin_client, provider_id: str) -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI schema that takes a request body."""
    schema = admin_client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT="application/json")
    assert schema.status_code == HTTPStatus.OK
    paths = json.loads(schema.content)["paths"]
    found = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch") and "requestBody" in operation:
                found.append((method, re.sub(r"\{[a-z_]+\}", provider_id, path)))
    return found


def test_every_endpoint_with_a_body_answers_400_to_json_nested_1000_levels(admin_client, provider_factory):
    provider_factory(id="p1")
    channel = create_channel({"id": "p1", "name": "p1", "kind": "webhook", "url": "https://hooks.example.com/x",
                              "events": ["checks.failed"]})
    endpoints = body_endpoints(admin_client, "p1")

    refused = set()
    for method, path in endpoints:
        for body in (DEEP, DEEP_OBJECT, '{"deep": ' + DEEP + "}"):
            response = getattr(admin_client, method)(path, body, content_type="application/json")
            assert response.status_code < 500, (method, path, response.status_code)
            if response.status_code == HTTPStatus.BAD_REQUEST:
                assert "nested more than 32 levels" in response.json()["detail"], (method, path)
                refused.add(path)
    # Every endpoint that reads its body refused it (restore and a channel's test take none and
    # never read one).
    assert refused >= {"/api/providers", "/api/providers/p1", "/api/providers/p1/secret", "/api/providers/p1/test",
                       "/api/providers/test-all", "/api/routing-chain/preview", "/api/alert-channels",
                       "/api/alert-channels/p1", "/api/alert-channels/p1/secret"}
    assert Provider.objects.get(pk="p1").version == 1
    channel.refresh_from_db()
    assert channel.version == 1


def test_a_viewer_gets_400_from_the_chain_preview_for_deep_json(viewer_client, provider_factory):
    provider_factory(id="p1")
    body = '{"provider_id": "p1", "changes": {"capabilities": ' + DEEP + "}}"
    response = viewer_client.post("/api/routing-chain/preview", body, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "nested more than 32 levels" in response.json()["detail"]


def test_json_up_to_the_limit_is_accepted_and_one_level_more_is_refused(admin_client):
    # The body is an object (1 level) holding capabilities (nested(n): n levels).
    ok = admin_client.post("/api/providers", {**NEW, "capabilities": nested(MAX_JSON_DEPTH - 1)}, format="json")
    too_deep = admin_client.post(
        "/api/providers", {**NEW, "id": "fresh2", "name": "fresh2", "capabilities": nested(MAX_JSON_DEPTH)},
        format="json",
    )
    assert ok.status_code == HTTPStatus.CREATED, ok.content
    assert too_deep.status_code == HTTPStatus.BAD_REQUEST
    assert list(Provider.objects.values_list("id", flat=True)) == ["fresh"]


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
@pytest.mark.parametrize("field", ["capabilities", "metadata", "fallback_models"])
def test_deep_json_in_a_form_field_is_400_naming_the_field(admin_client, encoding, field):
    data = {**NEW, field: DEEP}
    if encoding == "multipart":
        response = admin_client.post("/api/providers", data, format="multipart")
    else:
        from urllib.parse import urlencode

        response = admin_client.post("/api/providers", urlencode(data), content_type="application/x-www-form-urlencoded")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content[:300]
    assert "nested more than 32 levels" in response.json()[field][0]
    assert not Provider.objects.exists()


def test_the_admin_form_shows_deep_json_as_a_field_error(client, admin_user, provider_factory):
    provider_factory(id="p1")
    client.force_login(admin_user)
    form = client.get("/admin/providers/provider/p1/change/").context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(fallback_models="[]", capabilities=DEEP, metadata="{}", enabled="on")

    response = client.post("/admin/providers/provider/p1/change/", data)

    assert response.status_code == HTTPStatus.OK
    assert "nested more than 32 levels" in str(response.context["adminform"].form.errors["capabilities"])
    assert Provider.objects.get(pk="p1").version == 1


def test_a_charset_that_decompresses_is_refused():
    from io import BytesIO

    from rest_framework.exceptions import ParseError

    from core.parsers import JSONParser

    with pytest.raises(ParseError):
        JSONParser().parse(BytesIO(b"x"), parser_context={"encoding": "bz2_codec"})


@pytest.mark.parametrize(
    "text, deep",
    [
        ("[" * 33 + "]" * 33, True),
        ("[" * 32 + "]" * 32, False),
        ('["' + "[" * 100 + '"]', False),  # brackets inside a string do not nest
        ('["\\"' + "[" * 100 + '"]', False),  # nor after an escaped quote
        ('{"a": [1, {"b": [2]}], "c": {}}', False),
        ("[]" * 500, False),  # many, side by side
    ],
)
def test_depth_is_measured_outside_strings(text, deep):
    assert exceeds_json_depth(text, 32) is deep


# --- credentials in the endpoint -----------------------------------------------------------------

CREDENTIAL_URLS = [
    "https://user:canary-pass-5d1@api.example.com/v1",
    "https://canary-token-5d1@api.example.com/v1",
    "https://api.example.com/v1?api_key=canary-5d1",
    "https://api.example.com/v1?api-version=1&key=canary-5d1",
    "https://api.example.com/v1?token=canary-5d1",
    "https://api.example.com/v1?access_token=canary-5d1",
    "https://api.example.com/v1?X-Api-Key=canary-5d1",
    "https://api.example.com/v1?%61pi_key=canary-5d1",
    "https://api.example.com/v1?sig=canary-5d1",
    "https://api.example.com/v1?password=canary-5d1",
    "https://api.example.com/v1#access_token=canary-5d1",
]


@pytest.mark.parametrize("endpoint", CREDENTIAL_URLS)
def test_an_endpoint_with_a_credential_is_refused_pointing_to_the_secret_action(admin_client, endpoint):
    response = admin_client.post("/api/providers", {**NEW, "endpoint": endpoint}, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    message = response.json()["endpoint"][0]
    assert "Secret action" in message
    assert "canary" not in response.content.decode()
    assert not Provider.objects.exists()


def test_patching_a_credential_into_the_endpoint_is_refused(admin_client, provider_factory):
    provider_factory(id="p1", endpoint="https://api.example.com/v1")
    response = admin_client.patch("/api/providers/p1", {"endpoint": "https://api.example.com/v1?api_key=canary-5d1"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Secret action" in response.json()["endpoint"][0]
    assert Provider.objects.get(pk="p1").endpoint == "https://api.example.com/v1"


def test_the_preview_refuses_a_credential_in_the_endpoint_for_a_viewer(viewer_client, provider_factory):
    provider_factory(id="p1")
    response = viewer_client.post(
        "/api/routing-chain/preview",
        {"provider_id": "p1", "changes": {"endpoint": "https://u:canary-5d1@api.example.com/v1"}},
        format="json",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "canary" not in response.content.decode()
    assert "Secret action" in json.dumps(response.json())


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://my-resource.openai.azure.com/openai/deployments/gpt4o?api-version=2024-06-01",
        "http://127.0.0.1:11434",
        "https://api.example.com/v1?region=eu&model_family=gpt",
    ],
)
def test_ordinary_query_strings_are_accepted(admin_client, endpoint):
    response = admin_client.post("/api/providers", {**NEW, "endpoint": endpoint}, format="json")
    assert response.status_code == HTTPStatus.CREATED, response.content


def test_the_model_refuses_it_too_so_the_admin_does(client, admin_user, provider_factory):
    provider = provider_factory(id="p1")
    provider.endpoint = "https://api.example.com/v1?api_key=canary-5d1"
    with pytest.raises(ValidationError) as refused:
        provider.full_clean()
    assert "Secret action" in refused.value.message_dict["endpoint"][0]

    client.force_login(admin_user)
    form = client.get("/admin/providers/provider/p1/change/").context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(endpoint="https://u:canary-5d1@api.example.com/v1", fallback_models="[]", capabilities="{}",
                metadata="{}", enabled="on")
    response = client.post("/admin/providers/provider/p1/change/", data)
    assert response.status_code == HTTPStatus.OK
    assert "Secret action" in str(response.context["adminform"].form.errors["endpoint"])
    assert Provider.objects.get(pk="p1").endpoint != data["endpoint"]


# --- JSON from a provider -------------------------------------------------------------------------


class _DeepJSONHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = DEEP.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_provider_answering_deeply_nested_json_fails_its_check_as_not_json(admin_client, provider_factory):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DeepJSONHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider_factory(id="p1", kind="ollama", endpoint=f"http://127.0.0.1:{server.server_address[1]}",
                         default_model="m", fallback_models=[], secret_policy="none", retries=0, timeout_ms=2000)
        body = admin_client.post("/api/providers/p1/test", {}, format="json").json()
    finally:
        server.shutdown()
        server.server_close()
    assert (body["ok"], body["error_code"]) == (False, "bad_endpoint")
    assert "is not JSON" in body["error_message"]


@pytest.mark.parametrize("field", ["capabilities", "metadata"])
@pytest.mark.parametrize(
    "value",
    [
        {"tools\u0000": True},  # a NUL in a key (PostgreSQL's jsonb refuses it: it was a 500)
        {"region": "eu\u0000west"},
        {"nested": {"deep": ["ok", "a\u0000b"]}},
        {"region": "\ud83d"},  # an unpaired surrogate: UTF-8 cannot store it
    ],
)
def test_text_that_cannot_be_stored_is_400_naming_the_field(admin_client, provider_factory, field, value):
    if field == "metadata" and "nested" in value:
        value = {"tags": ["ok", "a\u0000b"]}  # metadata is flat
    # Written as JSON escapes (`\\u0000`, `\\ud83d`), as a client would send them.
    created = admin_client.post("/api/providers", json.dumps({**NEW, field: value}), content_type="application/json")
    assert created.status_code == 400, created.content
    assert field in json.dumps(created.json())
    assert "NUL characters or unpaired surrogates" in json.dumps(created.json())
    provider_factory(id="p1")
    patched = admin_client.patch("/api/providers/p1", json.dumps({field: value}), content_type="application/json")
    assert patched.status_code == 400, patched.content
    assert not Provider.objects.filter(pk=NEW["id"]).exists()
