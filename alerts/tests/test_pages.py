"""The alert pages through the real client: who may open and post what, every form's inline
errors, the 412 on a stale version, the delivery history and its region, and a webhook secret's
value never rendered (a canary)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import timezone

from alerts import services
from alerts.delivery import deliver_round
from alerts.models import AlertChannel, AlertDelivery, DeliveryAttempt, DeliveryStatus
from alerts.tests.receiver import Receiver
from audit.models import AuditEvent
from core.timefmt import iso_utc

pytestmark = pytest.mark.django_db

CANARY = "canary-webhook-secret-7f3a9c1e"
QUEUED = "the deliverer sends it within a few seconds"


def page_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def admin_page(admin_user) -> Client:
    return page_client(admin_user)


@pytest.fixture
def viewer_page(viewer_user) -> Client:
    return page_client(viewer_user)


def webhook(channel_id="hook", **fields) -> AlertChannel:
    data = {
        "id": channel_id,
        "name": f"Hook {channel_id}",
        "kind": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "events": ["provider.unreachable", "provider.recovered"],
        **fields,
    }
    return services.create_channel(data)


def form(**overrides) -> dict:
    data = {
        "kind": "webhook",
        "id": "ops-hook",
        "name": "Ops hook",
        "url": "https://hooks.example.com/alerts",
        "email_to": "",
        "events": ["provider.unreachable", "provider.degraded"],
        "cooldown_s": "300",
        "enabled": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def edit_form(channel: AlertChannel, **overrides) -> dict:
    data = {
        "name": channel.name,
        "url": channel.url,
        "email_to": "\n".join(channel.email_to),
        "events": channel.events,
        "providers": channel.providers,
        "kinds": channel.kinds,
        "cooldown_s": str(channel.cooldown_s),
        "version": str(channel.version),
    }
    if channel.enabled:
        data["enabled"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- Who may see what -----------------------------------------------------------------------

PAGES = ["/alerts/", "/alerts/hook/", "/new-alert-channel/", "/alerts/hook/edit/", "/alerts/hook/delete/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_opens_for_both_roles_is_refused_without_one_and_asks_to_sign_in(
    url, admin_user, viewer_user, outsider_user
):
    webhook()
    opened = page_client(admin_user).get(url)
    assert opened.status_code == HTTPStatus.OK
    assert "no-store" in opened["Cache-Control"]
    assert page_client(viewer_user).get(url).status_code == HTTPStatus.OK
    refused = page_client(outsider_user).get(url)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert 'data-testid="error-403"' in refused.content.decode()
    anonymous = page_client(None).get(url)
    assert anonymous.status_code == HTTPStatus.FOUND
    assert anonymous["Location"].startswith("/login/")


def test_an_unknown_channel_is_404(admin_page):
    for url in ("/alerts/nope/", "/alerts/nope/edit/", "/alerts/nope/delete/"):
        assert admin_page.get(url).status_code == HTTPStatus.NOT_FOUND
    assert admin_page.post("/alerts/nope/test/").status_code == HTTPStatus.NOT_FOUND


def test_the_navigation_links_alerts_for_both_roles_only(admin_user, viewer_user, outsider_user):
    link = '<a href="/alerts/"'
    assert link in page_client(admin_user).get("/account/").content.decode()
    assert link in page_client(viewer_user).get("/account/").content.decode()
    assert link not in page_client(outsider_user).get("/account/").content.decode()
    current = page_client(viewer_user).get("/alerts/").content.decode()
    assert '<a href="/alerts/" aria-current="page">Alerts</a>' in current


def test_viewers_read_everything_with_every_control_disabled(viewer_page):
    webhook()
    listing = viewer_page.get("/alerts/").content.decode()
    assert 'disabled title="Viewers cannot change alert channels" data-testid="new-channel"' in listing
    for control in ("toggle-hook", "send-test-hook", "delete-hook"):
        assert f'disabled title="Viewers cannot change alert channels" data-testid="{control}"' in listing
    assert "/alerts/hook/enabled/" not in listing and "/alerts/hook/test/" not in listing
    channel = viewer_page.get("/alerts/hook/").content.decode()
    assert 'data-testid="secret-panel"' in channel  # the state is visible …
    assert '<fieldset disabled title="Viewers cannot change alert channels">' in channel  # … its form locked
    settings = viewer_page.get("/alerts/hook/edit/").content.decode()
    assert "Settings of Hook hook" in settings
    assert 'data-testid="save" disabled title="Viewers cannot change alert channels"' in settings


def test_a_viewer_cannot_post_anything(viewer_page):
    channel = webhook()
    before = AuditEvent.objects.count()
    posts = {
        "/new-alert-channel/": form(),
        "/alerts/hook/edit/": edit_form(channel, name="Renamed"),
        "/alerts/hook/enabled/": {"enabled": "false", "version": "1"},
        "/alerts/hook/test/": {},
        "/alerts/hook/delete/": {"version": "1"},
        "/alerts/hook/secret/": {"action": "set", "value": CANARY},
    }
    for url, data in posts.items():
        response = viewer_page.post(url, data)
        assert response.status_code == HTTPStatus.FORBIDDEN, url
        assert CANARY not in response.content.decode()
    channel.refresh_from_db()
    assert (channel.name, channel.enabled, channel.version) == ("Hook hook", True, 1)
    assert AuditEvent.objects.count() == before
    assert not AlertDelivery.objects.exists()
    assert not services.secret_state(channel)["present"]


# --- Creating and editing -----------------------------------------------------------------------


def test_create_goes_through_the_services_and_is_audited(admin_page, provider_factory):
    provider_factory(id="openai-prod", kind="openai_compatible")
    response = admin_page.post("/new-alert-channel/", form(providers=["openai-prod"], kinds=["ollama"]))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/alerts/ops-hook/"
    channel = AlertChannel.objects.get(pk="ops-hook")
    assert (channel.kind, channel.url, channel.cooldown_s, channel.enabled) == (
        "webhook",
        "https://hooks.example.com/alerts",
        300,
        True,
    )
    assert channel.events == ["provider.unreachable", "provider.degraded"]
    assert (channel.providers, channel.kinds, channel.created_by_name) == (["openai-prod"], ["ollama"], "alice")
    assert AuditEvent.objects.filter(event="alert_channel.created", actor_name="alice").count() == 1
    shown = admin_page.get("/alerts/ops-hook/").content.decode()
    assert "Created the alert channel Ops hook." in shown
    assert "absent" in shown and 'data-testid="no-secret-warning"' in shown  # a webhook with no secret


def test_an_email_channel_takes_one_recipient_per_line(admin_page):
    response = admin_page.post(
        "/new-alert-channel/",
        form(kind="email", id="oncall", url="", email_to="a@example.com\nb@example.com, c@example.com\n"),
    )
    assert response.status_code == HTTPStatus.FOUND
    channel = AlertChannel.objects.get(pk="oncall")
    assert channel.email_to == ["a@example.com", "b@example.com", "c@example.com"]
    row = admin_page.get("/alerts/").content.decode()
    assert "a@example.com, b@example.com, c@example.com" in row
    assert 'data-testid="secret-oncall"><span class="quiet" title="Only webhook channels sign their alerts">— (not a webhook)</span>' in row


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id": "Bad Id"}, "id", "Use 1 to 63 lowercase letters"),
        ({"id": ""}, "id", "Use 1 to 63 lowercase letters"),
        ({"name": "  "}, "name", "This field is required."),
        ({"kind": "pager"}, "kind", "One of: webhook, slack, email."),
        ({"url": ""}, "url", "A webhook channel needs the URL it posts to."),
        ({"url": "ftp://example.com/x"}, "url", "Must be an http:// or https:// URL with a host."),
        ({"url": "https://user:pw@example.com/x"}, "url", "Must not carry a user name or password"),
        ({"kind": "email", "url": "", "email_to": ""}, "email_to", "An email channel needs at least one address."),
        (
            {"kind": "email", "url": "", "email_to": "not-an-address"},
            "email_to",
            "Not an email address: not-an-address.",
        ),
        ({"events": []}, "events", "Choose at least one alert."),
        ({"events": ["alert.test"]}, "events", "Unknown alert &#x27;alert.test&#x27;"),
        ({"providers": ["ghost"]}, "providers", "No provider &#x27;ghost&#x27;."),
        ({"kinds": ["mainframe"]}, "kinds", "Unknown kind &#x27;mainframe&#x27;"),
        ({"cooldown_s": "soon"}, "cooldown_s", "A whole number of seconds from 0 to 86400."),
        ({"cooldown_s": "999999"}, "cooldown_s", "A whole number of seconds from 0 to 86400."),
    ],
)
def test_each_bad_field_is_an_inline_error_and_nothing_is_created(admin_page, overrides, field, message):
    response = admin_page.post("/new-alert-channel/", form(**overrides))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.content.decode()
    start = body.index(f'data-testid="error-{field}"')
    assert message in body[start : start + 400]
    assert not AlertChannel.objects.exists()
    assert not AuditEvent.objects.filter(event="alert_channel.created").exists()


def test_a_taken_id_is_an_inline_error_and_the_form_keeps_what_was_typed(admin_page):
    webhook("ops-hook")
    response = admin_page.post("/new-alert-channel/", form(name="Second try", cooldown_s="42"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.content.decode()
    assert "A channel with id &#x27;ops-hook&#x27; already exists." in body
    assert 'value="Second try"' in body and 'value="42"' in body
    assert 'value="provider.degraded" checked' in body


def test_edit_saves_the_changes_and_is_audited(admin_page):
    channel = webhook()
    response = admin_page.post("/alerts/hook/edit/", edit_form(channel, name="Renamed", cooldown_s="60"))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/alerts/hook/"
    channel.refresh_from_db()
    assert (channel.name, channel.cooldown_s, channel.version) == ("Renamed", 60, 2)
    event = AuditEvent.objects.get(event="alert_channel.updated")
    assert event.payload["changes"]["name"] == {"before": "Hook hook", "after": "Renamed"}


def test_edit_errors_are_inline_and_change_nothing(admin_page):
    channel = webhook()
    response = admin_page.post("/alerts/hook/edit/", edit_form(channel, url="", events=[]))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.content.decode()
    assert 'data-testid="error-url"' in body and 'data-testid="error-events"' in body
    channel.refresh_from_db()
    assert channel.version == 1 and channel.url == "http://127.0.0.1:9/hook"


def test_edit_at_a_stale_version_is_412_showing_theirs_and_yours(admin_page):
    channel = webhook()
    stale = edit_form(channel, name="Mine")
    services.update_channel(channel, {"name": "Theirs"}, expected_version=1)
    response = admin_page.post("/alerts/hook/edit/", stale)
    assert response.status_code == HTTPStatus.PRECONDITION_FAILED
    body = response.content.decode()
    assert 'data-testid="conflict"' in body
    row = body[body.index('<tr data-field="name">') :]
    assert row.index("Theirs") < row.index("Mine")
    assert 'name="version" value="2"' in body  # saving again applies mine on purpose
    assert AlertChannel.objects.get(pk="hook").name == "Theirs"
    again = admin_page.post("/alerts/hook/edit/", {**stale, "version": "2"})
    assert again.status_code == HTTPStatus.FOUND
    assert AlertChannel.objects.get(pk="hook").name == "Mine"


# --- Enable, disable, delete, test ----------------------------------------------------------------


def test_disable_and_enable_from_the_list_return_to_it(admin_page):
    webhook()
    response = admin_page.post("/alerts/hook/enabled/", {"enabled": "false", "version": "1", "next": "/alerts/"})
    assert (response.status_code, response["Location"]) == (HTTPStatus.FOUND, "/alerts/")
    assert AlertChannel.objects.get(pk="hook").enabled is False
    assert "disabled the alert channel" in AuditEvent.objects.get(event="alert_channel.updated").summary
    response = admin_page.post("/alerts/hook/enabled/", {"enabled": "true", "version": "2"})
    assert (response.status_code, response["Location"]) == (HTTPStatus.FOUND, "/alerts/hook/")
    assert AlertChannel.objects.get(pk="hook").enabled is True
    # `next` is only ever an alert page of this site.
    response = admin_page.post(
        "/alerts/hook/enabled/", {"enabled": "false", "version": "3", "next": "https://evil.example/alerts/"}
    )
    assert response["Location"] == "/alerts/hook/"


def test_a_stale_toggle_is_412_and_changes_nothing(admin_page):
    channel = webhook()
    services.update_channel(channel, {"name": "Theirs"}, expected_version=1)
    response = admin_page.post("/alerts/hook/enabled/", {"enabled": "false", "version": "1"})
    assert response.status_code == HTTPStatus.PRECONDITION_FAILED
    assert "Someone else changed Theirs first (now at version 2)" in response.content.decode()
    assert AlertChannel.objects.get(pk="hook").enabled is True
    bad = admin_page.post("/alerts/hook/enabled/", {"enabled": "maybe", "version": "2"})
    assert bad.status_code == HTTPStatus.BAD_REQUEST
    assert "enabled: must be true or false" in bad.content.decode()


def test_delete_asks_first_then_deletes_at_the_version_it_showed(admin_page):
    channel = webhook()
    confirm = admin_page.get("/alerts/hook/delete/").content.decode()
    assert 'data-testid="confirm-delete"' in confirm and 'name="version" value="1"' in confirm
    services.update_channel(channel, {"name": "Theirs"}, expected_version=1)
    stale = admin_page.post("/alerts/hook/delete/", {"version": "1"})
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED
    assert 'data-testid="stale"' in stale.content.decode()
    assert AlertChannel.objects.filter(pk="hook").exists()
    response = admin_page.post("/alerts/hook/delete/", {"version": "2"})
    assert (response.status_code, response["Location"]) == (HTTPStatus.FOUND, "/alerts/")
    assert not AlertChannel.objects.filter(pk="hook").exists()
    assert AuditEvent.objects.filter(event="alert_channel.deleted").count() == 1
    assert "Deleted the alert channel Theirs" in admin_page.get("/alerts/").content.decode()


def test_send_test_queues_one_alert_and_the_history_shows_it_pending_then_sent(admin_page):
    with Receiver(secret=CANARY) as receiver:
        channel = webhook(url=receiver.url)
        services.change_secret(channel, "set", CANARY)
        response = admin_page.post("/alerts/hook/test/", {"next": "/alerts/hook/"}, follow=True)
        assert response.status_code == HTTPStatus.OK
        assert QUEUED in response.content.decode()
        delivery = AlertDelivery.objects.get()
        assert (delivery.alert, delivery.status) == ("alert.test", "pending")
        assert AuditEvent.objects.filter(event="alert.test", actor_name="alice").count() == 1
        region = admin_page.get("/alerts/hook/", HTTP_HX_REQUEST="true")
        assert f'data-testid="delivery-{delivery.pk}" data-delivery="{delivery.pk}" data-status="pending"' in (
            region.content.decode()
        )

        assert deliver_round().sent == 1
        assert len(receiver.accepted()) == 1
    region = admin_page.get("/alerts/hook/", HTTP_HX_REQUEST="true")
    body = region.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="channel-history"')
    assert "HX-Request" in region["Vary"]
    assert f'data-delivery="{delivery.pk}" data-status="sent"' in body
    assert "HTTP 200" in body and " ms · ok" in body
    assert CANARY not in body


# --- The webhook secret -------------------------------------------------------------------------


def test_set_rotate_and_clear_with_a_confirmation_never_render_the_value(admin_page, caplog):
    caplog.set_level(logging.DEBUG)
    webhook()
    seen = []

    def post(data, **kwargs):
        response = admin_page.post("/alerts/hook/secret/", data, **kwargs)
        seen.append(response.content.decode())
        return response

    response = post({"action": "set", "value": CANARY}, follow=True)
    assert "Webhook secret set for Hook hook (version 1)." in seen[-1]
    assert response.status_code == HTTPStatus.OK
    assert services.secret_state(AlertChannel.objects.get(pk="hook"))["present"] is True
    post({"action": "rotate", "value": CANARY + "-2"}, follow=True)
    assert "Webhook secret rotated for Hook hook (version 2)." in seen[-1]

    asked = post({"action": "clear"})
    assert asked.status_code == HTTPStatus.OK and 'data-testid="confirm-clear-step"' in seen[-1]
    assert services.secret_state(AlertChannel.objects.get(pk="hook"))["present"] is True
    post({"action": "clear", "confirm": "clear"}, follow=True)
    assert "Webhook secret cleared for Hook hook." in seen[-1]
    assert services.secret_state(AlertChannel.objects.get(pk="hook"))["present"] is False

    seen += [admin_page.get(url).content.decode() for url in ("/alerts/", "/alerts/hook/", "/alerts/hook/edit/")]
    assert all(CANARY not in body for body in seen)
    assert all(CANARY not in str(event.payload) + event.summary for event in AuditEvent.objects.all())
    assert CANARY not in caplog.text
    assert 'type="password" name="value" autocomplete="off"' in seen[-2]


def test_secret_errors_are_inline_and_never_echo_the_value(admin_page, caplog):
    caplog.set_level(logging.DEBUG)
    webhook()
    services.create_channel(
        {
            "id": "chat",
            "name": "Chat",
            "kind": "slack",
            "url": "https://hooks.slack.test/x",
            "events": ["provider.unreachable"],
        }
    )
    empty = admin_page.post("/alerts/hook/secret/", {"action": "set", "value": ""})
    assert empty.status_code == HTTPStatus.BAD_REQUEST
    assert 'data-testid="secret-error-value">Enter the new value to set the secret.' in empty.content.decode()

    spaced = admin_page.post("/alerts/hook/secret/", {"action": "set", "value": f" {CANARY} "})
    assert spaced.status_code == HTTPStatus.BAD_REQUEST
    assert 'data-testid="secret-error-value"' in spaced.content.decode()
    assert CANARY not in spaced.content.decode()

    none_stored = admin_page.post("/alerts/hook/secret/", {"action": "rotate", "value": CANARY})
    assert none_stored.status_code == HTTPStatus.CONFLICT
    assert 'data-testid="secret-error-action"' in none_stored.content.decode()
    assert CANARY not in none_stored.content.decode()

    slack = admin_page.post("/alerts/chat/secret/", {"action": "set", "value": CANARY})
    assert slack.status_code == HTTPStatus.CONFLICT
    assert "only a webhook channel signs with a secret" in slack.content.decode()
    assert CANARY not in slack.content.decode()
    slack_clear = admin_page.post("/alerts/chat/secret/", {"action": "clear"})
    assert slack_clear.status_code == HTTPStatus.CONFLICT
    assert "only a webhook channel signs with a secret" in slack_clear.content.decode()

    unknown = admin_page.post("/alerts/hook/secret/", {"action": "reveal"})
    assert unknown.status_code == HTTPStatus.BAD_REQUEST
    assert "One of: set, rotate, clear." in unknown.content.decode()
    assert not services.secret_state(AlertChannel.objects.get(pk="hook"))["present"]
    assert CANARY not in caplog.text


# --- The history ----------------------------------------------------------------------------------


def _delivery(channel, status, attempts=0, minutes_ago=0, **fields):
    return AlertDelivery.objects.create(
        channel=channel,
        event_id=1,
        alert="provider.unreachable",
        text=f"{status} {attempts}",
        status=status,
        attempts=attempts,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def _order(body: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-delivery="(\d+)"', body)]


def test_history_puts_failures_first_then_retrying_then_the_rest_newest_first(admin_page):
    a, b = webhook("a"), webhook("b")
    sent_old = _delivery(a, DeliveryStatus.SENT, 1)
    failed_old = _delivery(a, DeliveryStatus.FAILED, 6, last_http_status=500, last_error="http_status: 500")
    retrying = _delivery(b, DeliveryStatus.PENDING, 2)
    pending = _delivery(b, DeliveryStatus.PENDING, 0)
    failed_new = _delivery(b, DeliveryStatus.FAILED, 6)
    sent_new = _delivery(a, DeliveryStatus.SENT, 1)
    body = admin_page.get("/alerts/").content.decode()
    assert _order(body) == [failed_new.pk, failed_old.pk, retrying.pk, sent_new.pk, pending.pk, sent_old.pk]
    assert f'data-delivery="{retrying.pk}" data-status="retrying"' in body

    only_b = admin_page.get("/alerts/?channel=b").content.decode()
    assert _order(only_b) == [failed_new.pk, retrying.pk, pending.pk]
    failed = admin_page.get("/alerts/?status=failed").content.decode()
    assert _order(failed) == [failed_new.pk, failed_old.pk]
    assert _order(admin_page.get("/alerts/?status=retrying&channel=b").content.decode()) == [retrying.pk]

    # A channel's own page: newest first, or failures first when asked.
    assert _order(admin_page.get("/alerts/a/").content.decode()) == [sent_new.pk, failed_old.pk, sent_old.pk]
    assert _order(admin_page.get("/alerts/a/?order=failures").content.decode()) == [
        failed_old.pk,
        sent_new.pk,
        sent_old.pk,
    ]
    # The channel list shows each channel's last delivery.
    row_b = body[body.index('data-testid="channel-b"') :]
    assert 'data-status="failed"' in row_b[: row_b.index("</tr>")]


def test_bad_history_filters_are_400_next_to_their_field(admin_page):
    webhook()
    response = admin_page.get("/alerts/?status=lost&channel=ghost")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    body = response.content.decode()
    assert "Unknown status &#x27;lost&#x27;; one of: failed, retrying, pending, sent." in body
    assert 'data-testid="error-channel">No channel &#x27;ghost&#x27;.' in body
    assert admin_page.get("/alerts/hook/?order=oldest").status_code == HTTPStatus.BAD_REQUEST


def test_history_is_paginated_and_a_channel_lists_each_attempt(admin_page):
    channel = webhook()
    for _ in range(30):
        _delivery(channel, DeliveryStatus.SENT, 1)
    first = admin_page.get("/alerts/").content.decode()
    assert len(_order(first)) == 25 and "page 1 of 2" in first
    assert len(_order(admin_page.get("/alerts/?page=2").content.decode())) == 5
    retried = _delivery(channel, DeliveryStatus.PENDING, 2, next_attempt_at=timezone.now() + timedelta(minutes=1))
    DeliveryAttempt.objects.create(
        delivery=retried,
        number=1,
        ok=False,
        http_status=503,
        latency_ms=12,
        error_code="http_status",
        error="The receiver answered HTTP 503.",
    )
    DeliveryAttempt.objects.create(delivery=retried, number=2, ok=False, latency_ms=5000, error_code="timeout")
    body = admin_page.get("/alerts/hook/").content.decode()
    row = body[body.index(f'data-delivery="{retried.pk}"') :]
    row = row[: row.index("</tr>")]
    assert row.index("<code>timeout</code>") < row.index("HTTP 503")  # newest attempt first
    assert "12 ms" in row and "5000 ms" in row
    assert f'<time datetime="{iso_utc(retried.next_attempt_at)}"' in row  # the next try


def test_the_list_region_answers_alone_for_htmx_with_the_filters_of_the_address(admin_page):
    channel = webhook()
    _delivery(channel, DeliveryStatus.FAILED, 6)
    _delivery(channel, DeliveryStatus.SENT, 1)
    region = admin_page.get("/alerts/?status=sent", HTTP_HX_REQUEST="true")
    body = region.content.decode()
    assert region.status_code == HTTPStatus.OK
    assert body.lstrip().startswith('<div id="delivery-history"')
    assert 'hx-get="/alerts/?status=sent"' in body and 'hx-trigger="every 2s"' in body
    assert len(_order(body)) == 1 and "<html" not in body and "history-filters" not in body
    assert "HX-Request" in region["Vary"]
    assert "no-store" in region["Cache-Control"]


def test_viewers_see_a_channel_url_as_scheme_and_host_only(viewer_page, admin_page):
    url = "https://hooks.slack.test/services/T0/B0/canary-url-token"
    services.create_channel(
        {"id": "chat", "name": "Chat", "kind": "slack", "url": url, "events": ["provider.unreachable"]}
    )
    for page in ("/alerts/", "/alerts/chat/", "/alerts/chat/edit/", "/alerts/chat/delete/"):
        body = viewer_page.get(page).content.decode()
        assert "canary-url-token" not in body, page
        assert "hooks.slack.test" in body or page.endswith("/delete/"), page
    assert url in admin_page.get("/alerts/chat/").content.decode()
    assert f'value="{url}"' in admin_page.get("/alerts/chat/edit/").content.decode()


def test_the_pages_url_names_are_their_own_beside_the_api_s():
    from django.urls import reverse

    names = ("test", "secret", "edit", "enabled", "delete")
    assert [reverse(f"alerts-channel-{name}", args=["x"]) for name in names] == [f"/alerts/x/{n}/" for n in names]
    assert (reverse("alerts-page"), reverse("alerts-channel", args=["x"])) == ("/alerts/", "/alerts/x/")


def test_the_list_page_makes_the_same_queries_at_any_number_of_channels(admin_page):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_page.get("/alerts/").status_code == HTTPStatus.OK
        return len(captured)

    for n in range(2):
        _delivery(webhook(f"c{n}"), DeliveryStatus.FAILED, 6)
    few = queries()
    for n in range(2, 20):
        channel = webhook(f"c{n}")
        services.change_secret(channel, "set", f"s-{n}-value")
        _delivery(channel, DeliveryStatus.SENT, 1)
    assert queries() == few


def test_a_channel_page_drawn_as_a_post_s_answer_links_and_polls_the_channel_s_own_address(admin_page):
    channel = webhook()
    _delivery(channel, DeliveryStatus.SENT, 1)
    answer = admin_page.post("/alerts/hook/secret/?page=1", {"action": "set", "value": ""})
    assert answer.status_code == HTTPStatus.BAD_REQUEST
    body = answer.content.decode()
    assert 'hx-get="/alerts/hook/?page=1"' in body
    assert 'name="next" value="/alerts/hook/"' in body
    assert 'href="/alerts/hook/?order=failures' in body
    assert "/secret/?" not in body.replace('action="/alerts/hook/secret/"', "")
