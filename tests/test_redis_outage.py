"""Redis down, for the cache: a miss, never an error, and never a change of a provider's status.

The cache points at a redis-server this test starts (tests/redis_process.py) and kills
mid-test. Probes, Run all, secret actions and the throttles in front of them must answer as
they do with Redis up; the vault reads credentials from the database meanwhile; the outage is
logged once; when Redis is back the cache is used again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from http import HTTPStatus

import pytest
from django.core.cache import cache

from core.cache import FailSafeRedisCache
from health.simulator import Route, SimulatorServer
from providers.models import Provider, Status
from secrets_vault import credentials
from secrets_vault.models import SecretVersion
from tests.redis_process import redis_server

pytestmark = pytest.mark.django_db

FIRST_KEY = "sk-outage-canary-first-7f3a"
ROTATED_KEY = "sk-outage-canary-rotated-91bc"
MODELS = ["gpt-4o-mini"]


@pytest.fixture
def redis(settings):
    """A redis-server of the test's own, as the default cache (as REDIS_URL configures it)."""
    with redis_server() as server:
        settings.CACHES = {
            "default": {
                "BACKEND": "core.cache.FailSafeRedisCache",
                "LOCATION": server.url,
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
                "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0, "RETRY_SECONDS": 0.2},
            }
        }
        credentials.clear_credential_cache()
        yield server
        credentials.clear_credential_cache()


@pytest.fixture
def provider_api():
    """An OpenAI-compatible provider API on 127.0.0.1 that records the key each probe sends."""
    with SimulatorServer([Route("/v1", "openai_compatible", MODELS)]) as server:
        yield server


@pytest.fixture
def keyed_provider(admin_client, provider_api):
    """An active provider whose secret (required) was set while Redis was up."""
    created = admin_client.post(
        "/api/providers",
        {"id": "keyed", "name": "keyed", "kind": "openai_compatible", "endpoint": provider_api.url("/v1"),
         "default_model": MODELS[0], "timeout_ms": 2000, "retries": 0},
        format="json",
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    secret = admin_client.post("/api/providers/keyed/secret", {"action": "set", "value": FIRST_KEY}, format="json")
    assert secret.status_code == HTTPStatus.OK, secret.content
    return Provider.objects.get(pk="keyed")


def sent_keys(provider_api) -> list[str | None]:
    return [request.authorization for request in provider_api.recorded]


def test_probes_and_run_all_pass_with_the_stored_key_while_redis_is_down(
    redis, admin_client, keyed_provider, provider_api
):
    assert admin_client.post("/api/providers/keyed/test", {}, format="json").json()["ok"] is True
    redis.stop()

    single = admin_client.post("/api/providers/keyed/test", {}, format="json")
    run_all = admin_client.post("/api/providers/test-all", {}, format="json")

    assert single.status_code == HTTPStatus.OK, single.content
    assert (single.json()["ok"], single.json()["error_code"], single.json()["provider_status"]) == (True, None, "active")
    assert run_all.status_code == HTTPStatus.OK, run_all.content
    assert (run_all.json()["passed"], run_all.json()["failed"]) == (1, 0)
    assert sent_keys(provider_api) == [f"Bearer {FIRST_KEY}"] * 3
    keyed_provider.refresh_from_db()
    assert keyed_provider.status == Status.ACTIVE


def test_secret_actions_answer_normally_and_probes_send_the_new_key_while_redis_is_down(
    redis, admin_client, keyed_provider, provider_api
):
    assert admin_client.post("/api/providers/keyed/test", {}, format="json").json()["ok"] is True  # key cached
    redis.stop()

    rotated = admin_client.post("/api/providers/keyed/secret", {"action": "rotate", "value": ROTATED_KEY}, format="json")
    versions = admin_client.get("/api/providers/keyed/secret/versions")
    probe = admin_client.post("/api/providers/keyed/test", {}, format="json")

    assert rotated.status_code == HTTPStatus.OK, rotated.content
    assert rotated.json()["secret_version"] == 2
    assert versions.status_code == HTTPStatus.OK and len(versions.json()) == 2
    assert probe.json()["ok"] is True
    assert sent_keys(provider_api)[-1] == f"Bearer {ROTATED_KEY}"


def test_while_redis_is_down_the_vault_reads_the_database_and_caches_nothing(
    redis, keyed_provider, django_assert_num_queries
):
    credentials.get_credential(keyed_provider)
    with django_assert_num_queries(0):  # Redis up: the second read is served from memory
        assert credentials.get_credential(keyed_provider) == FIRST_KEY

    redis.stop()
    for _ in range(2):
        with django_assert_num_queries(1):  # the current secret version, each time
            assert credentials.get_credential(keyed_provider) == FIRST_KEY

    redis.start()
    time.sleep(0.25)  # RETRY_SECONDS: then the next operation reaches Redis again
    cache.get("wake-up")
    assert cache.available is True
    credentials.get_credential(keyed_provider)
    with django_assert_num_queries(0):
        assert credentials.get_credential(keyed_provider) == FIRST_KEY


def test_a_cached_credential_is_not_trusted_after_an_outage_hid_a_rotation(redis, keyed_provider):
    """Another process rotated while Redis was down: its generation bump never reached Redis."""
    credentials.get_credential(keyed_provider)  # cached here under the current generation
    redis.stop()
    credentials.get_credential(keyed_provider)  # notices the outage

    SecretVersion.objects.filter(provider_id="keyed").delete()  # the other process's change, seen in the database
    assert credentials.get_credential(keyed_provider) is None


def test_throttled_endpoints_let_requests_through_while_redis_is_down(redis, settings, admin_client, keyed_provider):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"probes": "2/min", "secrets": "2/min"},
    }
    redis.stop()

    answers = [admin_client.post("/api/providers/keyed/test", {}, format="json").status_code for _ in range(4)]

    assert answers == [HTTPStatus.OK] * 4  # fail open: the counters live in the cache


def test_the_outage_is_logged_once_and_the_return_once(redis, admin_client, keyed_provider, caplog):
    redis.stop()
    with caplog.at_level(logging.INFO, logger="core.cache"):
        for _ in range(3):
            assert admin_client.post("/api/providers/keyed/test", {}, format="json").status_code == HTTPStatus.OK
        redis.start()
        time.sleep(0.25)  # RETRY_SECONDS
        assert admin_client.post("/api/providers/keyed/test", {}, format="json").status_code == HTTPStatus.OK

    records = [r for r in caplog.records if r.name == "core.cache"]
    assert [r.levelname for r in records] == ["WARNING", "INFO"]
    assert f"127.0.0.1:{redis.port}" in records[0].getMessage()
    assert all(FIRST_KEY not in r.getMessage() for r in caplog.records)


def test_every_cache_operation_is_a_miss_or_a_no_op_while_redis_is_down(redis):
    backend = FailSafeRedisCache(redis.url, {"KEY_PREFIX": uuid.uuid4().hex, "OPTIONS": {"RETRY_SECONDS": 0}})
    backend.set("n", 1)
    assert (backend.get("n"), backend.available) == (1, True)
    redis.stop()

    assert backend.get("n", "default") == "default"
    assert backend.get_many(["n"]) == {}
    assert backend.has_key("n") is False
    assert backend.add("fresh", 1) is False
    assert backend.set("n", 2) is None
    assert backend.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert backend.touch("n") is False
    assert backend.delete("n") is False
    assert backend.delete_many(["a"]) is None
    assert backend.get_or_set("computed", lambda: 7) == 7
    with pytest.raises(ValueError):
        backend.incr("n")
    assert backend.available is False

    redis.start()
    assert backend.get("n", "default") == "default"  # a new, empty Redis
    backend.set("n", 3)
    assert (backend.get("n"), backend.incr("n"), backend.available) == (3, 4, True)


def test_redis_url_selects_the_fail_safe_cache():
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0", "DJANGO_SETTINGS_MODULE": "config.settings",
           "SECRET_KEY": "settings-import-only-" + uuid.uuid4().hex}
    code = "from django.conf import settings; c = settings.CACHES['default']; print(c['BACKEND'], c['LOCATION'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["core.cache.FailSafeRedisCache", "redis://127.0.0.1:1/0"], result.stderr[-500:]
