"""`If-Match` is compared once the provider's row is locked, inside the service's transaction:
two PATCHes that read the same version cannot both succeed."""

from __future__ import annotations

import threading
import time
from http import HTTPStatus

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent
from console.api import ProviderViewSet
from providers import services
from providers.models import Provider

HOLD_S = 0.3  # how long each writer keeps the row locked, so the two overlap


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the in-memory SQLite test database (shared cache) answers a second writer 'table is locked' at "
    "once instead of letting it wait; this runs under the PostgreSQL configuration",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_two_concurrent_writes_with_the_same_if_match_give_one_success_and_one_412(
    admin_user, provider_factory, monkeypatch, method
):
    provider_factory(id="p1")
    assert Provider.objects.get(pk="p1").version == 1
    read_barrier = threading.Barrier(2, timeout=10)

    get_object = ProviderViewSet.get_object

    def get_object_then_wait(self):
        provider = get_object(self)
        read_barrier.wait()  # both requests have read version 1 before either writes
        return provider

    lock = services._lock

    def lock_and_hold(provider, expected_version):
        locked = lock(provider, expected_version)
        time.sleep(HOLD_S)  # the other writer now reaches the lock while this one holds it
        return locked

    monkeypatch.setattr(ProviderViewSet, "get_object", get_object_then_wait)
    monkeypatch.setattr(services, "_lock", lock_and_hold)

    answers: list[int] = []
    errors: list[BaseException] = []

    def write(priority: int) -> None:
        try:
            client = APIClient()
            client.force_authenticate(admin_user)
            body = {"priority": priority} if method == "patch" else None
            response = getattr(client, method)("/api/providers/p1", body, format="json", HTTP_IF_MATCH='"1"')
            answers.append(response.status_code)
        except BaseException as exc:  # surfaced below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(p,)) for p in (5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(answers) == [HTTPStatus.OK, HTTPStatus.PRECONDITION_FAILED]
    assert Provider.objects.get(pk="p1").version == 2
    assert AuditEvent.objects.filter(provider_id="p1").count() == 1


def test_a_stale_if_match_is_refused_by_the_service_itself(admin_user, provider_factory, db):
    provider = provider_factory(id="p1")
    services.update_provider(provider, {"priority": 7}, actor=admin_user, expected_version=1)
    with pytest.raises(services.VersionMismatch, match="version 2"):
        services.update_provider(provider, {"priority": 8}, actor=admin_user, expected_version=1)
    with pytest.raises(services.VersionMismatch):
        services.archive_provider(provider, actor=admin_user, expected_version={1, 3})
    fresh = Provider.objects.get(pk="p1")
    assert (fresh.priority, fresh.version, fresh.archived_at) == (7, 2, None)


@pytest.mark.parametrize(
    "header, expected",
    [
        ('"1"', HTTPStatus.OK),
        ('W/"1"', HTTPStatus.OK),
        ("*", HTTPStatus.OK),
        ('"7", "1"', HTTPStatus.OK),
        ('"7"', HTTPStatus.PRECONDITION_FAILED),
        ('"²"', HTTPStatus.PRECONDITION_FAILED),  # a Unicode digit is no version
        ('"abc"', HTTPStatus.PRECONDITION_FAILED),
        ('"' + "9" * 40 + '"', HTTPStatus.PRECONDITION_FAILED),
        ("", HTTPStatus.PRECONDITION_FAILED),
    ],
)
def test_if_match_forms_answer_200_or_412_never_500(admin_client, provider_factory, header, expected):
    provider_factory(id="p1")
    response = admin_client.patch("/api/providers/p1", {"priority": 3}, format="json", HTTP_IF_MATCH=header)
    assert response.status_code == expected, response.content
    assert Provider.objects.get(pk="p1").version == (2 if expected == HTTPStatus.OK else 1)
