"""`GET /healthz` and `GET /readyz`: what a load balancer or an orchestrator asks a worker
(API.md, "Operations"; docs/deploy.md).

- `/healthz`: the process serves requests. It touches nothing else (no database, no Redis), so
  a database outage does not get every worker restarted.
- `/readyz`: the worker can serve the site: the database answers a query, Redis answers a PING
  when `REDIS_URL` is set, and the vault's key ring is loaded. 503 while any part fails, with
  that part's value a short reason: never an exception's text, which could name a host, a port
  or a user.

Both are unauthenticated, `no-store`, and exempt from `SECURE_SSL_REDIRECT`
(`SECURE_REDIRECT_EXEMPT` in config/settings.py) so a probe over plain http gets the answer,
not a redirect.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from secrets_vault.crypto import KeyRingError, get_key_ring

logger = logging.getLogger(__name__)

OK = "ok"
NOT_CONFIGURED = "not configured"
# A probe is asked every few seconds and the sync views share one thread per worker (daphne):
# an unreachable Redis may hold that thread this long at most.
REDIS_TIMEOUT_SECONDS = 0.5


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The log keeps the exception's class for the operator; its text may hold an address.
        logger.warning("readyz: the database does not answer (%s)", type(exc).__name__)
        return "unavailable"
    return OK


def redis_state() -> str:
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return NOT_CONFIGURED
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except redis.TimeoutError:
        logger.warning("readyz: Redis did not answer within %s s", REDIS_TIMEOUT_SECONDS)
        return "timeout"
    except redis.RedisError as exc:
        logger.warning("readyz: Redis does not answer (%s)", type(exc).__name__)
        return "unavailable"
    finally:
        client.close()
    return OK


def vault_state() -> str:
    try:
        ring = get_key_ring()
    except KeyRingError:
        # The key ring's own error says which variable is wrong, never a key; still, the body
        # stays a fixed phrase and the detail goes to the log.
        logger.warning("readyz: the vault key ring is not loaded")
        return "key ring not loaded"
    return OK if ring.kids else "key ring not loaded"


@require_safe
@never_cache
def healthz(request):
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@require_safe
@never_cache
def readyz(request):
    state = {"database": database_state(), "redis": redis_state(), "vault": vault_state()}
    ready = all(value in (OK, NOT_CONFIGURED) for value in state.values())
    return JsonResponse(state, status=200 if ready else 503)
