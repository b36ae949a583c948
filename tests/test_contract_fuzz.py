"""The OpenAPI schema against the server, by generated requests (schemathesis), as an admin and
as a viewer with Bearer tokens: no 5xx, every status documented, every body as documented.

The app runs in-process (WSGI) on the test's database. A bounded number of examples per
operation, derandomized, without shrinking, so the run is the same every time and short.

Left out: `POST /api/providers/{provider_id}/test` and `POST /api/providers/test-all`. They
probe the provider's endpoint, and the providers here are made by the fuzzer: their endpoints
are arbitrary hosts, which a test must never reach. Their answers are checked against the
same schema in `test_probe_answers_conform_to_the_schema`, probing a local simulator.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.throttling import ScopedRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiToken
from alerts import services as alert_services
from alerts.models import DeliveryAttempt
from conftest import make_user
from health.models import HealthCheck as HealthCheckRow
from health.simulator import Route, SimulatorServer
from providers.models import Provider
from providers.tests.factories import ProviderFactory
from secrets_vault import services as vault_services
from secrets_vault.models import PRIMARY_FIELD

pytestmark = pytest.mark.django_db

SCHEMA_PATH = "/api/schema/?format=json"
PROBES = ("/api/providers/{provider_id}/test", "/api/providers/test-all")
CANARY = "sk-fuzz-canary-5a1f"
WEBHOOK_CANARY = "whsec-fuzz-canary-9c2e"


@schemathesis.check
def no_stored_secret_in_the_answer(ctx, response, case):
    """The seeded provider's and webhook channel's secrets, in any common encoding, are in no answer."""
    body = response.content or b""
    forms = {
        form
        for secret in (CANARY.encode(), WEBHOOK_CANARY.encode())
        for form in (secret, base64.b64encode(secret), secret.hex().encode())
    }
    assert not any(form in body for form in forms), "the stored secret is in the answer"


CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    no_stored_secret_in_the_answer,
]
# Ids the fuzzer's path parameters are drawn from most of the time, so operations reach real
# providers (with a secret, without one, archived, disabled), and alert channels seeded under the
# same ids (a webhook with a secret and a delivery, a Slack one, a disabled email one), not only 404.
KNOWN_IDS = ["fz-openai", "fz-ollama", "fz-archived", "fz-off"]
EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def wsgi_app():
    # Like Django's test client: a request must not close the test's connection (it holds the
    # transaction every test runs in).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, monkeypatch):
    """The providers the known ids name, a stored secret, a few checks; generous throttles."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probes": "100000/min", "secrets": "100000/min"})
    admin = make_user("fz-admin", "admin")
    openai = ProviderFactory(id="fz-openai", kind="openai_compatible", endpoint="http://127.0.0.1:9/v1",
                             metadata={"team": "ml"})
    ProviderFactory(id="fz-ollama", kind="ollama", endpoint="http://127.0.0.1:9", default_model="llama3",
                    fallback_models=[])
    ProviderFactory(id="fz-archived", kind="ollama", archived_at=timezone.now())
    ProviderFactory(id="fz-off", kind="other", enabled=False, status="disabled")
    vault_services.apply_action(openai, "set", value=CANARY, hint="fz", version=None,
                                field=PRIMARY_FIELD, actor=admin)
    # Alert channels under the same ids, so the alerts' operations reach real channels too.
    hook = alert_services.create_channel(
        {"id": "fz-openai", "name": "fz hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook",
         "events": ["provider.unreachable"], "providers": ["fz-openai"]},
        actor=admin,
    )
    alert_services.change_secret(hook, "set", WEBHOOK_CANARY, actor=admin)
    alert_services.create_channel(
        {"id": "fz-ollama", "name": "fz slack", "kind": "slack", "url": "https://hooks.slack.example/services/x",
         "events": ["chain.serving_changed"]},
        actor=admin,
    )
    alert_services.create_channel(
        {"id": "fz-off", "name": "fz email", "kind": "email", "email_to": ["ops@example.com"],
         "events": ["checks.failed"], "enabled": False},
        actor=admin,
    )
    delivery = alert_services.send_test(hook, actor=admin)  # queued only: no deliverer runs here
    DeliveryAttempt.objects.create(delivery=delivery, number=1, ok=False, http_status=500, latency_ms=5,
                                   error_code="http_error")
    now = timezone.now()
    for minutes, ok in ((1, True), (2, False), (3, True)):
        HealthCheckRow.objects.create(
            provider=openai, checked_at=now - timedelta(minutes=minutes), ok=ok, latency_ms=120 + minutes,
            http_status=200 if ok else 500, error_code=None if ok else "server_error",
            error_message="" if ok else "The provider answered 500.", model="gpt-4o-mini", provider_status="active",
        )
    return admin


@pytest.fixture
def bearer(request, seeded) -> dict[str, str]:
    user = seeded if request.param == "admin" else make_user("fz-viewer", "viewer")
    _, raw = ApiToken.issue(user, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def api_schema(wsgi_app, seeded):
    schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_app)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        names = [name for name in ("id", "provider_id") if name in (path_parameters or {})]
        if not names:
            return st.just(path_parameters)
        known = st.sampled_from(KNOWN_IDS).map(lambda pid: {**path_parameters, **dict.fromkeys(names, pid)})
        return st.one_of(known, known, known, st.just(path_parameters))

    return schema


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation of the schema but the probes, read without a request."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [
        (method.upper(), path)
        for path, item in sorted(paths.items())
        for method in item
        if not (method == "post" and path in PROBES)
    ]


@pytest.mark.parametrize("bearer", ["admin", "viewer"], indirect=True)
@pytest.mark.parametrize("method, path", operations())
def test_the_api_answers_as_its_schema_says(api_schema, bearer, method, path):
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def answers_as_documented(case):
        case.call_and_validate(headers=bearer, checks=CHECKS)

    answers_as_documented()


def test_probe_answers_conform_to_the_schema(wsgi_app, seeded, monkeypatch):
    routes = [Route("/open/v1", "openai_compatible", ["gpt-4o-mini"])]
    with SimulatorServer(routes) as simulator:
        Provider.objects.filter(pk="fz-ollama").delete()
        ProviderFactory(id="fz-local", kind="openai_compatible", endpoint=simulator.url("/open/v1"),
                        default_model="gpt-4o-mini", fallback_models=[], secret_policy="none", retries=0,
                        timeout_ms=2000)
        Provider.objects.exclude(pk="fz-local").update(enabled=False, status="disabled")
        loaded = schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_app)
        _, raw = ApiToken.issue(seeded)
        headers = {"Authorization": f"Bearer {raw}"}
        test_one = loaded["/api/providers/{provider_id}/test"]["POST"]
        case = test_one.Case(path_parameters={"provider_id": "fz-local"}, body={"deep": False},
                             media_type="application/json")
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.status_code == 200 and response.json()["status"] == "pass"
        test_all = loaded["/api/providers/test-all"]["POST"]
        case = test_all.Case(body={"provider_ids": ["fz-local"]}, media_type="application/json")
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        assert response.json()["checked"] == 1
