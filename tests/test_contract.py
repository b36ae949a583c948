"""API.md's general rules, across every endpoint: one time format, two error shapes, and
`routing_intent.role` naming the provider that serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from django.conf import settings
from rest_framework import exceptions
from rest_framework.throttling import ScopedRateThrottle

from core.exceptions import exception_handler
from core.timefmt import ISO_UTC_FORMAT, ISO_UTC_PATTERN, iso_utc
from health.simulator import Route, SimulatorServer

pytestmark = pytest.mark.django_db

TIME = re.compile(ISO_UTC_PATTERN)
# Anything that looks like a date and time inside a text (status_reason, summaries, messages).
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]+\S*?(?=[\s,;)]|$)")


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    routes = [
        Route("/open/v1", "openai_compatible", ["gpt-4o-mini", "gpt-4o"]),
        Route("/down/v1", "openai_compatible", ["gpt-4o-mini"], failures=("500",)),
    ]
    with SimulatorServer(routes) as server:
        yield server


def time_values(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every time field (`*_at`, a series' `start`) at any depth."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}"
            if (key.endswith("_at") or key == "start") and not isinstance(value, (dict, list)):
                yield here, value
            else:
                yield from time_values(value, here)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from time_values(value, f"{path}[{index}]")


def stamps_in_text(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from stamps_in_text(value, f"{path}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from stamps_in_text(value, f"{path}[{index}]")
    elif isinstance(data, str) and not TIME.match(data):
        for stamp in STAMP.findall(data):
            yield path, stamp


def test_the_one_format_is_drf_s_and_keeps_microseconds():
    from datetime import UTC, datetime, timedelta, timezone

    assert settings.REST_FRAMEWORK["DATETIME_FORMAT"] == ISO_UTC_FORMAT
    moment = datetime(2026, 2, 18, 10, 0, 0, 5, tzinfo=UTC)
    assert iso_utc(moment) == "2026-02-18T10:00:00.000005Z"
    assert iso_utc(moment.astimezone(timezone(timedelta(hours=2)))) == "2026-02-18T10:00:00.000005Z"
    assert iso_utc(None) is None


def test_every_time_field_of_every_endpoint_has_one_format(admin_client, viewer_client, simulator):
    new = {
        "id": "good", "name": "good", "kind": "openai_compatible", "endpoint": simulator.url("/open/v1"),
        "default_model": "gpt-4o-mini", "fallback_models": ["gpt-4o"], "secret_policy": "optional",
        "retries": 0, "timeout_ms": 2000,
    }
    bad = {**new, "id": "bad", "name": "bad", "endpoint": simulator.url("/down/v1"), "fallback_models": []}
    answers: dict[str, Any] = {}

    def call(label: str, response, code=HTTPStatus.OK):
        assert response.status_code == code, (label, response.content)
        answers[label] = response.json()

    call("create", admin_client.post("/api/providers", new, format="json"), HTTPStatus.CREATED)
    call("create bad", admin_client.post("/api/providers", bad, format="json"), HTTPStatus.CREATED)
    call("secret set", admin_client.post("/api/providers/good/secret", {"action": "set", "value": "sk-canary-1"},
                                         format="json"))
    call("test", admin_client.post("/api/providers/good/test", {}, format="json"))
    call("test-all", admin_client.post("/api/providers/test-all", {}, format="json"))
    call("patch", admin_client.patch("/api/providers/good", {"status": "standby"}, format="json"))
    call("archive", admin_client.delete("/api/providers/bad"))
    call("restore", admin_client.post("/api/providers/bad/restore", {}, format="json"))
    call("detail", admin_client.get("/api/providers/good"))
    call("detail degraded", admin_client.get("/api/providers/bad"))
    call("list", viewer_client.get("/api/providers"))
    call("versions", admin_client.get("/api/providers/good/secret/versions"))
    call("history", viewer_client.get("/api/providers/good/history"))
    call("metrics", viewer_client.get("/api/providers/good/metrics"))
    call("chain", viewer_client.get("/api/routing-chain"))
    call("preview", viewer_client.post("/api/routing-chain/preview",
                                       {"provider_id": "good", "changes": {"priority": 1}}, format="json"))
    hook = {"id": "hook", "name": "hook", "kind": "webhook", "url": simulator.url("/hook"), "events": ["checks.failed"]}
    call("channel create", admin_client.post("/api/alert-channels", hook, format="json"), HTTPStatus.CREATED)
    call("channel secret", admin_client.post("/api/alert-channels/hook/secret", {"action": "set", "value": "whsec-1"},
                                             format="json"))
    call("channel test", admin_client.post("/api/alert-channels/hook/test"), HTTPStatus.ACCEPTED)
    call("channel patch", admin_client.patch("/api/alert-channels/hook", {"cooldown_s": 60}, format="json"))
    call("channels", viewer_client.get("/api/alert-channels"))
    call("deliveries", viewer_client.get("/api/alert-channels/hook/deliveries"))
    call("events", admin_client.get("/api/events?page_size=100"))
    call("events as viewer", viewer_client.get("/api/events?page_size=100"))

    # The stamps to find are really there: a health move, an operator's change, a series.
    assert answers["detail degraded"]["status"] == "degraded"
    assert "health check at" in answers["detail degraded"]["status_reason"]
    assert "set by alice at" in answers["detail"]["status_reason"]
    assert answers["metrics"]["series"]
    assert answers["secret set"]["secret_touched_at"] is not None
    assert answers["channels"]["results"][0]["last_delivery"]["created_at"] is not None
    assert answers["deliveries"]["results"][0]["event"]["created_at"] is not None

    seen = 0
    for label, body in answers.items():
        for path, value in time_values(body):
            if value is None or value == "***":  # null, or masked for a viewer
                continue
            seen += 1
            assert isinstance(value, str) and TIME.match(value), f"{label}{path} = {value!r}"
        for path, stamp in stamps_in_text(body):
            seen += 1
            assert TIME.match(stamp), f"{label}{path} carries {stamp!r}"
    assert seen > 50


def error_shape_problem(body: Any) -> str | None:
    """None when `body` is `{"detail": "text"}` or `{"field": ["text", …]}` (nested objects for a
    nested body), else what is wrong."""
    if not isinstance(body, dict) or not body:
        return f"not a non-empty object: {body!r}"
    if "detail" in body:
        if set(body) != {"detail"} or not isinstance(body["detail"], str):
            return f"detail must be the only key and a text: {body!r}"
        return None
    for key, value in body.items():
        if isinstance(value, dict):
            if (problem := error_shape_problem(value)) is not None:
                return f"{key}: {problem}"
        elif not (isinstance(value, list) and value and all(isinstance(m, (str, dict)) for m in value)):
            return f"{key} must hold a list of texts: {value!r}"
    return None


def test_error_bodies_have_the_two_shapes_on_every_endpoint(
    admin_client, viewer_client, anon_client, provider_factory, monkeypatch
):
    provider_factory(id="p1", kind="openai_compatible")
    provider_factory(id="local", kind="ollama", secret_policy="none")
    hook = {"id": "hook", "name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/h", "events": ["checks.failed"]}
    assert admin_client.post("/api/alert-channels", hook, format="json").status_code == 201
    slack = {**hook, "id": "slack", "kind": "slack"}
    assert admin_client.post("/api/alert-channels", slack, format="json").status_code == 201
    assert admin_client.post("/api/providers/p1/secret", {"action": "set", "value": "sk-1"}, format="json").status_code == 200
    current = admin_client.get("/api/providers/p1")["ETag"]
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probes": "1000/min", "secrets": "1000/min"})

    cases = [
        (400, admin_client.post("/api/providers", {}, format="json")),
        (400, admin_client.post("/api/providers", [1, 2], format="json")),
        (400, admin_client.post("/api/providers", "{not json", content_type="application/json")),
        (400, admin_client.post("/api/providers", {"id": "x", "bogus": 1}, format="json")),
        (400, admin_client.patch("/api/providers/p1", {"version": 3}, format="json")),
        (400, admin_client.patch("/api/providers/p1", {"status": "degraded"}, format="json")),
        (400, admin_client.post("/api/providers/p1/secret", {"action": "set", "value": " padded "}, format="json")),
        (400, admin_client.post("/api/providers/p1/secret", {"action": "explode"}, format="json")),
        (400, admin_client.post("/api/providers/p1/test", {"deep": "yes"}, format="json")),
        (400, admin_client.post("/api/providers/test-all", {"provider_ids": ["ghost"]}, format="json")),
        (400, viewer_client.post("/api/routing-chain/preview", {"provider_id": "p1", "changes": {}, "provider": {}},
                                 format="json")),
        (400, viewer_client.post("/api/routing-chain/preview", {"provider": {"id": "x"}}, format="json")),
        (400, viewer_client.post("/api/routing-chain/preview", {"provider_id": "p1", "changes": {"priority": -1}},
                                 format="json")),
        (400, viewer_client.get("/api/providers?kind=bogus")),
        (400, viewer_client.get("/api/events?since=yesterday")),
        (400, admin_client.post("/api/alert-channels", {}, format="json")),
        (400, admin_client.post("/api/alert-channels", {**hook, "id": "h2", "url": "ftp://x"}, format="json")),
        (400, admin_client.patch("/api/alert-channels/hook", {"version": 3}, format="json")),
        (400, admin_client.post("/api/alert-channels/slack/secret", {"action": "set", "value": "v-1"}, format="json")),
        (400, viewer_client.get("/api/alert-channels/hook/deliveries?status=lost")),
        (401, anon_client.get("/api/providers")),
        (401, anon_client.get("/api/alert-channels")),
        (403, viewer_client.post("/api/alert-channels/hook/test")),
        (404, viewer_client.get("/api/alert-channels/ghost")),
        (409, admin_client.post("/api/alert-channels", hook, format="json")),
        (409, admin_client.post("/api/alert-channels/hook/secret", {"action": "clear"}, format="json")),
        (412, admin_client.patch("/api/alert-channels/hook", {"name": "x"}, format="json", HTTP_IF_MATCH='"9"')),
        (401, anon_client.get("/api/routing-chain")),
        (403, viewer_client.post("/api/providers", {}, format="json")),
        (403, viewer_client.post("/api/providers/p1/secret", {"action": "clear"}, format="json")),
        (404, viewer_client.get("/api/providers/ghost")),
        (404, viewer_client.get("/api/providers/ghost/history")),
        (404, viewer_client.get("/api/providers?page=99")),
        (404, viewer_client.post("/api/routing-chain/preview", {"provider_id": "ghost", "changes": {}}, format="json")),
        (405, admin_client.put("/api/providers/p1", {}, format="json")),
        (409, admin_client.post("/api/providers", {"id": "p1", "name": "p1-other", "kind": "ollama",
                                                   "endpoint": "http://127.0.0.1:11434", "default_model": "m"},
                                format="json")),
        (409, admin_client.post("/api/providers/p1/secret", {"action": "set", "value": "sk-2"}, format="json")),
        (409, admin_client.post("/api/providers/local/secret", {"action": "clear"}, format="json")),
        (412, admin_client.patch("/api/providers/p1", {"priority": 3}, format="json", HTTP_IF_MATCH='"999"')),
        (412, admin_client.delete("/api/providers/p1", HTTP_IF_MATCH='"999"')),
    ]
    assert current == '"2"' or current.strip('"').isdigit()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probes": "0/min", "secrets": "0/min"})
    cases.append((429, admin_client.post("/api/providers/p1/secret", {"action": "clear"}, format="json")))

    for expected, response in cases:
        label = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']}"
        assert response.status_code == expected, (label, response.content)
        body = response.json()
        assert error_shape_problem(body) is None, (label, error_shape_problem(body))


@pytest.mark.parametrize(
    "raised, body",
    [
        (exceptions.ValidationError("One thing is wrong."), {"detail": "One thing is wrong."}),
        (exceptions.ValidationError(["One.", "Two."]), {"detail": "One. Two."}),
        (exceptions.ValidationError({"detail": ["A list in detail."]}), {"detail": "A list in detail."}),
        (exceptions.ValidationError({"name": "Taken."}), {"name": ["Taken."]}),
        (exceptions.NotFound(), {"detail": "Not found."}),
    ],
)
def test_whatever_a_view_raises_the_body_has_one_of_the_two_shapes(raised, body):
    response = exception_handler(raised, {})
    assert response.data == body


def test_a_django_validation_error_without_fields_is_a_detail_text():
    from django.core.exceptions import ValidationError

    response = exception_handler(ValidationError(["Bad.", "Worse."]), {})
    assert response.status_code == 400 and response.data == {"detail": "Bad. Worse."}


def test_routing_intent_names_the_serving_provider_primary(viewer_client, provider_factory):
    # First by priority but without the secret it requires: the chain skips it, after the usable ones.
    provider_factory(id="keyless", kind="openai_compatible", priority=1)
    provider_factory(id="serving", kind="ollama", priority=2)
    provider_factory(id="spare", kind="ollama", priority=3)
    chain = viewer_client.get("/api/routing-chain").json()
    assert chain["active_provider_id"] == "serving"
    intents = {p["id"]: p["routing_intent"] for p in viewer_client.get("/api/providers").json()["results"]}
    assert intents["keyless"] == {"role": "excluded", "position": 3, "targets": ["gpt-4o-mini", "gpt-4o"],
                                  "next_provider_id": None}
    assert intents["serving"] == {"role": "primary", "position": 1, "targets": ["gpt-4o-mini", "gpt-4o"],
                                  "next_provider_id": "spare"}
    assert intents["spare"]["role"] == "fallback"


def test_a_path_under_api_that_no_endpoint_serves_is_a_json_404(admin_client, viewer_client):
    for path in ("/api/providers/Not%20An%20Id", "/api/providers/UPPER", "/api/nothing-here", "/api/providers/a/b/c"):
        response = viewer_client.get(path)
        assert response.status_code == HTTPStatus.NOT_FOUND, path
        assert response.json() == {"detail": "Not found."} and response["Cache-Control"] == "no-store"
    assert admin_client.patch("/api/providers/UPPER", {"priority": 1}, format="json").json() == {"detail": "Not found."}
    # What exists with a trailing slash is still reached without one.
    redirect = viewer_client.get("/api/schema")
    assert redirect.status_code == HTTPStatus.MOVED_PERMANENTLY and redirect["Location"] == "/api/schema/"


def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def response_schema(schema: dict, path: str, method: str, code: str) -> dict:
    return resolve(schema, schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"])


def test_the_schema_types_the_chain_the_preview_the_metrics_and_the_history():
    schema = openapi()
    chain = response_schema(schema, "/api/routing-chain", "get", "200")
    assert set(chain["properties"]) == {"nodes", "active_provider_id", "active_reason", "excluded", "computed_at"}
    node = resolve(schema, chain["properties"]["nodes"]["items"])
    assert resolve(schema, node["properties"]["state"])["enum"] == ["active", "standby", "skipped"]
    preview = response_schema(schema, "/api/routing-chain/preview", "post", "200")
    assert set(preview["properties"]) == set(chain["properties"]) | {"changed"}
    metrics = response_schema(schema, "/api/providers/{provider_id}/metrics", "get", "200")
    assert {"provider_id", "series", "latency_ms_p95_5m", "last_checked_at"} <= set(metrics["properties"])
    history = response_schema(schema, "/api/providers/{provider_id}/history", "get", "200")
    assert set(history["properties"]) == {"count", "next", "previous", "results"}
    provider = response_schema(schema, "/api/providers/{id}", "get", "200")
    statuses = resolve(schema, provider["properties"]["status"])["enum"]
    assert statuses == ["active", "standby", "degraded", "unreachable", "disabled"]
    request = resolve(schema, schema["paths"]["/api/providers"]["post"]["requestBody"]["content"]["application/json"]
                      ["schema"])
    assert resolve(schema, request["properties"]["status"])["enum"] == ["active", "standby", "disabled"]
    assert set(schema["paths"]["/api/providers/{id}"]["delete"]["responses"]) >= {"200"}
    assert "204" not in schema["paths"]["/api/providers/{id}"]["delete"]["responses"]


@pytest.mark.parametrize(
    "path, method, codes",
    [
        ("/api/providers", "get", {"200", "400", "401", "403", "404"}),
        ("/api/providers", "post", {"201", "400", "401", "403", "409"}),
        ("/api/providers/{id}", "patch", {"200", "400", "401", "403", "404", "409", "412"}),
        ("/api/providers/{id}", "delete", {"200", "401", "403", "404", "412"}),
        ("/api/providers/{provider_id}/secret", "post", {"200", "400", "401", "403", "404", "409", "429"}),
        ("/api/providers/{provider_id}/test", "post", {"200", "400", "401", "403", "404", "409", "429"}),
        ("/api/providers/test-all", "post", {"200", "400", "401", "403", "409", "429"}),
        ("/api/routing-chain/preview", "post", {"200", "400", "401", "403", "404", "409"}),
        ("/api/events", "get", {"200", "400", "401", "403", "404"}),
        ("/api/alert-channels", "get", {"200", "401", "403", "404"}),
        ("/api/alert-channels", "post", {"201", "400", "401", "403", "409"}),
        ("/api/alert-channels/{id}", "patch", {"200", "400", "401", "403", "404", "409", "412"}),
        ("/api/alert-channels/{id}", "delete", {"204", "401", "403", "404", "412"}),
        ("/api/alert-channels/{id}/secret", "post", {"200", "400", "401", "403", "404", "409", "429"}),
        ("/api/alert-channels/{id}/test", "post", {"202", "400", "401", "403", "404", "409", "429"}),
        ("/api/alert-channels/{id}/deliveries", "get", {"200", "400", "401", "403", "404"}),
    ],
)
def test_the_schema_documents_every_error_an_operation_can_answer(path, method, codes):
    schema = openapi()
    responses = schema["paths"][path][method]["responses"]
    assert set(responses) == codes
    for code in codes - {"200", "201", "202", "204"}:
        body = response_schema(schema, path, method, code)
        assert "detail" in body.get("properties", {}) or "anyOf" in body, (code, body)


def test_events_since_takes_any_utc_offset_and_refuses_a_time_outside_utc(viewer_client):
    from audit.events import record_event

    record_event("provider.created", provider_id="p1", summary="created p1")
    # An offset PostgreSQL would refuse as such; taken in UTC it is an ordinary (old) time.
    response = viewer_client.get("/api/events", {"since": "0164-08-31T18:16:15-23:17"})
    assert response.status_code == HTTPStatus.OK and response.json()["count"] == 1
    later = viewer_client.get("/api/events", {"since": "9999-12-31T23:00:00-13:00"})
    assert later.status_code == HTTPStatus.BAD_REQUEST and list(later.json()) == ["since"]
    earliest = viewer_client.get("/api/events", {"since": "0001-01-01T00:00:00+01:00"})
    assert earliest.status_code == HTTPStatus.BAD_REQUEST and list(earliest.json()) == ["since"]
