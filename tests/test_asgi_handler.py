"""What daphne runs (config/asgi.py, core/handler.py): the middleware chain and the view in one
hop from the event loop to the request's thread, with every middleware still applied.

The requests go through the site's real ASGI application with Channels' HTTP communicator; the
hops are counted on asgiref's `SyncToAsync`, the one way Django's handler reaches a thread."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from asgiref.testing import ApplicationCommunicator
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hops(monkeypatch):
    """The names of the functions sent from the event loop to a thread, in order."""
    sent: list[str] = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        sent.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    return sent


def asgi_request(method: str, path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    """The status, headers and whole body of one request to the site's ASGI application."""
    from config.asgi import application

    return async_to_sync(async_request)(application, method, path, headers)


async def async_request(application, method: str, path: str, headers: list[tuple[bytes, bytes]] = ()) -> dict:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(15)
    body = b""
    while True:
        message = await communicator.receive_output(15)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(15)
    return {"status": start["status"], "headers": start["headers"], "body": body}


def header(response: dict, name: str) -> str | None:
    wanted = name.lower().encode()
    return next((value.decode() for key, value in response["headers"] if key.lower() == wanted), None)


def test_an_api_request_reaches_its_thread_once(admin_user, provider_factory, hops):
    provider_factory(id="openai-prod")
    _, raw = ApiToken.issue(admin_user)

    response = asgi_request("GET", "/api/providers", [(b"authorization", f"Bearer {raw}".encode())])

    assert response["status"] == 200
    assert [p["id"] for p in json.loads(response["body"])["results"]] == ["openai-prod"]
    # request_started's receivers (the database's close_old_connections), the chain (every
    # middleware and the view), the response's close (request_finished, which gives the
    # database connection back). Django's async chain made a trip for each process_request,
    # process_view and process_response of its middleware: 19 in all.
    assert hops == [
        "Signal.asend.<locals>.sync_send",
        "convert_exception_to_response.<locals>.inner",
        "HttpResponseBase.close",
    ]
    # The middleware all ran: request id, no-store, the security headers, CSP.
    assert len(header(response, "X-Request-ID")) == 32
    assert header(response, "Cache-Control") == "no-store"
    assert header(response, "X-Frame-Options") == "DENY"
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert "default-src" in header(response, "Content-Security-Policy")


def test_the_answer_is_the_one_the_test_client_gets(admin_user, admin_client, provider_factory):
    for n in range(3):
        provider_factory(id=f"p-{n}")
    _, raw = ApiToken.issue(admin_user)

    through_asgi = asgi_request("GET", "/api/providers?ordering=name", [(b"authorization", f"Bearer {raw}".encode())])
    direct = admin_client.get("/api/providers?ordering=name", HTTP_HOST="testserver")

    assert through_asgi["status"] == direct.status_code == 200
    assert json.loads(through_asgi["body"]) == direct.json()
    assert {key.decode().lower() for key, _ in through_asgi["headers"]} >= {key.lower() for key in direct.headers}


def test_refusals_still_come_from_the_middleware_and_the_view(admin_user, hops):
    # No credentials: DRF's 401, after the whole chain.
    assert asgi_request("GET", "/api/providers")["status"] == 401
    # A revoked token is refused at once.
    token, raw = ApiToken.issue(admin_user)
    token.revoke()
    assert asgi_request("GET", "/api/providers", [(b"authorization", f"Bearer {raw}".encode())])["status"] == 401
    # A signed-in session's form post without the CSRF token: CsrfViewMiddleware's 403.
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    refused = asgi_request(
        "POST", "/logout/", [(b"cookie", cookie), (b"content-type", b"application/x-www-form-urlencoded")]
    )
    assert refused["status"] == 403
    assert b"CSRF" in refused["body"]
    # Each of the three answers crossed to a thread for request_started, its chain and its
    # close, and Django wrote its warning line for the 4xx on a thread of its own.
    assert (
        hops
        == [
            "Signal.asend.<locals>.sync_send",
            "convert_exception_to_response.<locals>.inner",
            "log_response",
            "HttpResponseBase.close",
        ]
        * 3
    )


def test_a_static_file_is_served_by_whitenoise(hops):
    response = asgi_request("GET", "/static/js/reltime.js")
    assert response["status"] == 200
    assert b"function" in response["body"]
    assert header(response, "Cache-Control") != "no-store"  # static files keep their own caching


@pytest.fixture
def request_threads(monkeypatch):
    """The thread each request's middleware ran on, in order; `barrier` (when set) holds every
    request inside the chain until as many have arrived."""
    from audit.middleware import RequestIdMiddleware

    seen: list[threading.Thread] = []
    holder: dict[str, threading.Barrier | None] = {"barrier": None}
    original = RequestIdMiddleware._begin

    def begin(request):
        seen.append(threading.current_thread())
        if holder["barrier"] is not None:
            holder["barrier"].wait(timeout=10)
        return original(request)

    monkeypatch.setattr(RequestIdMiddleware, "_begin", staticmethod(begin))
    return seen, holder


def test_a_finished_requests_thread_serves_the_next_request(request_threads):
    seen, _ = request_threads
    for _ in range(3):
        assert asgi_request("GET", "/healthz")["status"] == 200
    assert len(seen) == 3
    assert seen[0] is not threading.main_thread()
    # Django's handler started a new thread for each request (and one more to join it).
    assert seen[0] is seen[1] is seen[2]


def test_requests_at_the_same_time_never_share_a_thread(request_threads):
    from config.asgi import application

    seen, holder = request_threads
    # Each request waits inside the chain until all three are there: on a shared thread the
    # second could never arrive and the barrier would break (a 500).
    holder["barrier"] = threading.Barrier(3)

    async def three_at_once():
        return await asyncio.gather(*(async_request(application, "GET", "/healthz") for _ in range(3)))

    answers = async_to_sync(three_at_once)()
    assert [answer["status"] for answer in answers] == [200, 200, 200]
    assert len({thread.ident for thread in seen}) == 3


def test_a_request_cancelled_midway_does_not_hand_its_busy_thread_to_the_next(request_threads, monkeypatch):
    from audit.middleware import RequestIdMiddleware
    from config.asgi import application

    seen, _ = request_threads
    release = threading.Event()
    held = RequestIdMiddleware._begin

    def begin(request):  # the first request's code stays on its thread until released
        tokens = held(request)
        if len(seen) == 1:
            release.wait(timeout=10)
        return tokens

    monkeypatch.setattr(RequestIdMiddleware, "_begin", staticmethod(begin))

    async def cancel_one_then_ask_again():
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/healthz",
            "raw_path": b"/healthz",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        stuck = ApplicationCommunicator(application, scope)
        await stuck.send_input({"type": "http.request", "body": b""})
        while not seen:
            await asyncio.sleep(0.01)
        stuck.future.cancel()  # as a server gives up on an application instance
        try:
            await stuck.future
        except asyncio.CancelledError:
            pass
        try:
            # Served at once on another thread: the first one is still busy.
            return await asyncio.wait_for(async_request(application, "GET", "/healthz"), timeout=5)
        finally:
            release.set()

    answer = async_to_sync(cancel_one_then_ask_again)()
    assert answer["status"] == 200
    assert len(seen) == 2 and seen[0] is not seen[1]
