"""The alerts REST API through the real client (API.md, "Alerts"): channels, the webhook secret,
the test alert and the deliveries, as an admin, a viewer, an outsider and anonymous."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import AlertChannel, AlertDelivery, DeliveryAttempt
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

CANARY = "whsec-api-CANARY-41c7d0e9"
HOOK = {
    "id": "ops-hook", "name": "Ops hook", "kind": "webhook", "url": "https://hooks.example.com/alerts/t0k3n",
    "events": ["provider.unreachable", "provider.recovered"],
}
SLACK = {
    "id": "team-slack", "name": "Team Slack", "kind": "slack",
    "url": "https://hooks.slack.com/services/T000/B000/XXXXSECRETPATH", "events": ["chain.serving_changed"],
}
EMAIL = {"id": "on-call", "name": "On call", "kind": "email", "email_to": ["oncall@example.com"],
         "events": ["checks.failed"]}


def events_of(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind).order_by("id"))


def make_channel(admin_user, **fields) -> AlertChannel:
    return services.create_channel({**HOOK, **fields}, actor=admin_user)


# --- create, read, edit, delete ------------------------------------------------------------------


def test_an_admin_creates_reads_edits_and_deletes_a_channel(admin_client, provider_factory):
    provider_factory(id="p1")
    created = admin_client.post("/api/alert-channels", {**HOOK, "providers": ["p1"], "kinds": ["ollama"]},
                                format="json")
    assert created.status_code == HTTPStatus.CREATED, created.content
    assert created["ETag"] == '"1"' and created["Cache-Control"] == "no-store"
    body = created.json()
    assert {k: body[k] for k in HOOK} == HOOK
    assert body | {"created_at": None, "updated_at": None} == {
        **HOOK, "email_to": [], "providers": ["p1"], "kinds": ["ollama"], "enabled": True, "cooldown_s": 300,
        "webhook_secret_present": False, "webhook_secret_version": None, "webhook_secret_touched_at": None,
        "webhook_secret_touched_by": None, "last_delivery": None, "failing": 0, "version": 1,
        "created_at": None, "updated_at": None,
    }
    assert events_of("alert_channel.created")[0].payload["channel_id"] == "ops-hook"

    detail = admin_client.get("/api/alert-channels/ops-hook")
    assert detail.status_code == HTTPStatus.OK and detail.json() == body and detail["ETag"] == '"1"'
    listed = admin_client.get("/api/alert-channels").json()
    assert listed["count"] == 1 and listed["results"] == [body]

    edited = admin_client.patch("/api/alert-channels/ops-hook", {"name": "Ops", "cooldown_s": 60}, format="json",
                                HTTP_IF_MATCH='"1"')
    assert edited.status_code == HTTPStatus.OK, edited.content
    assert edited["ETag"] == '"2"'
    assert {k: edited.json()[k] for k in ("name", "cooldown_s", "version", "url")} == {
        "name": "Ops", "cooldown_s": 60, "version": 2, "url": HOOK["url"],
    }
    (updated,) = events_of("alert_channel.updated")
    assert updated.payload["changes"] == {"name": {"before": "Ops hook", "after": "Ops"},
                                          "cooldown_s": {"before": 300, "after": 60}}

    disabled = admin_client.patch("/api/alert-channels/ops-hook", {"enabled": False}, format="json")
    assert disabled.json()["enabled"] is False and "disabled" in events_of("alert_channel.updated")[-1].summary

    deleted = admin_client.delete("/api/alert-channels/ops-hook", HTTP_IF_MATCH='"3"')
    assert deleted.status_code == HTTPStatus.NO_CONTENT, deleted.content
    assert not AlertChannel.objects.exists()
    assert events_of("alert_channel.deleted")[0].payload["fields"]["name"] == "Ops"
    assert admin_client.get("/api/alert-channels/ops-hook").status_code == HTTPStatus.NOT_FOUND


def test_slack_and_email_channels_are_created_with_their_own_fields(admin_client):
    slack = admin_client.post("/api/alert-channels", SLACK, format="json")
    email = admin_client.post("/api/alert-channels", {**EMAIL, "url": ""}, format="json")
    assert slack.status_code == email.status_code == HTTPStatus.CREATED, (slack.content, email.content)
    assert slack.json()["url"] == SLACK["url"]
    assert email.json()["email_to"] == ["oncall@example.com"] and email.json()["url"] == ""


def test_a_patch_without_a_change_keeps_the_version_and_writes_no_event(admin_client, admin_user):
    make_channel(admin_user)
    response = admin_client.patch("/api/alert-channels/ops-hook", {"name": "Ops hook"}, format="json")
    assert response.status_code == HTTPStatus.OK and response.json()["version"] == 1
    assert not events_of("alert_channel.updated")


def test_an_unknown_channel_is_404(admin_client, viewer_client):
    for response in (
        viewer_client.get("/api/alert-channels/ghost"),
        viewer_client.get("/api/alert-channels/ghost/deliveries"),
        admin_client.patch("/api/alert-channels/ghost", {"name": "x"}, format="json"),
        admin_client.delete("/api/alert-channels/ghost"),
        admin_client.post("/api/alert-channels/ghost/test"),
        admin_client.post("/api/alert-channels/ghost/secret", {"action": "clear"}, format="json"),
        viewer_client.get("/api/alert-channels/NOT-AN-ID"),
    ):
        assert response.status_code == HTTPStatus.NOT_FOUND, response.request["PATH_INFO"]
        assert list(response.json()) == ["detail"]


# --- validation: every rule of clean_channel, through the API --------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id": "Not An Id"}, "id"),
        ({"id": 7}, "id"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"kind": "pager"}, "kind"),
        ({"url": ""}, "url"),
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2000}, "url"),
        ({"url": 5}, "url"),
        ({"events": []}, "events"),
        ({"events": ["provider.exploded"]}, "events"),
        ({"events": ["alert.test"]}, "events"),
        ({"events": "provider.unreachable"}, "events"),
        ({"providers": ["ghost"]}, "providers"),
        ({"providers": [1]}, "providers"),
        ({"kinds": ["teapot"]}, "kinds"),
        ({"enabled": "yes"}, "enabled"),
        ({"cooldown_s": -1}, "cooldown_s"),
        ({"cooldown_s": 86_401}, "cooldown_s"),
        ({"cooldown_s": "300"}, "cooldown_s"),
        ({"cooldown_s": True}, "cooldown_s"),
        ({"email_to": "a@example.com"}, "email_to"),
        ({"bogus": 1}, "bogus"),
        ({"version": 3}, "version"),
        ({"webhook_secret_present": True}, "webhook_secret_present"),
    ],
)
def test_every_rule_of_a_new_channel_is_a_400_naming_its_field(admin_client, change, field):
    response = admin_client.post("/api/alert-channels", {**HOOK, **change}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert field in response.json(), response.json()
    assert not AlertChannel.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"email_to": []}, "email_to"),
        ({"email_to": ["not-an-address"]}, "email_to"),
        ({"email_to": [f"u{i}@example.com" for i in range(21)]}, "email_to"),
    ],
)
def test_every_rule_of_an_email_channel_is_a_400_naming_its_field(admin_client, change, field):
    response = admin_client.post("/api/alert-channels", {**EMAIL, **change}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST and field in response.json(), response.content
    assert not AlertChannel.objects.exists()


def test_a_missing_required_field_and_a_body_that_is_not_an_object_are_400(admin_client):
    missing = admin_client.post("/api/alert-channels", {"id": "x"}, format="json").json()
    assert {"name", "kind", "events"} <= set(missing)
    assert admin_client.post("/api/alert-channels", [1], format="json").status_code == HTTPStatus.BAD_REQUEST
    broken = admin_client.post("/api/alert-channels", "{nope", content_type="application/json")
    assert broken.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id": "other"}, "id"),
        ({"kind": "slack"}, "kind"),
        ({"url": "not a url"}, "url"),
        ({"events": []}, "events"),
        ({"cooldown_s": 10**9}, "cooldown_s"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"nope": 1}, "nope"),
    ],
)
def test_a_bad_patch_is_a_400_naming_its_field_and_changes_nothing(admin_client, admin_user, change, field):
    make_channel(admin_user)
    response = admin_client.patch("/api/alert-channels/ops-hook", {"name": "Renamed", **change}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST and field in response.json(), response.content
    channel = AlertChannel.objects.get()
    assert (channel.name, channel.version) == ("Ops hook", 1)
    assert not events_of("alert_channel.updated")


def test_a_duplicate_id_is_409_as_for_providers(admin_client, admin_user):
    make_channel(admin_user)
    response = admin_client.post("/api/alert-channels", {**HOOK, "name": "Another"}, format="json")
    assert response.status_code == HTTPStatus.CONFLICT and list(response.json()) == ["id"]
    assert AlertChannel.objects.get().name == "Ops hook"


# --- If-Match ------------------------------------------------------------------------------------


def test_a_stale_if_match_is_412_with_the_current_version_and_nothing_changes(admin_client, admin_user):
    make_channel(admin_user)
    assert admin_client.patch("/api/alert-channels/ops-hook", {"name": "Second"}, format="json").status_code == 200
    for response in (
        admin_client.patch("/api/alert-channels/ops-hook", {"name": "Third"}, format="json", HTTP_IF_MATCH='"1"'),
        admin_client.patch("/api/alert-channels/ops-hook", {"name": "Third"}, format="json", HTTP_IF_MATCH='"x"'),
        admin_client.delete("/api/alert-channels/ops-hook", HTTP_IF_MATCH='W/"1"'),
    ):
        assert response.status_code == HTTPStatus.PRECONDITION_FAILED, response.content
        assert "version 2" in response.json()["detail"]
    channel = AlertChannel.objects.get()
    assert (channel.name, channel.version) == ("Second", 2)
    assert len(events_of("alert_channel.updated")) == 1 and not events_of("alert_channel.deleted")
    current = admin_client.patch("/api/alert-channels/ops-hook", {"name": "Third"}, format="json",
                                 HTTP_IF_MATCH='"2"')
    assert current.status_code == HTTPStatus.OK and current["ETag"] == '"3"'


# --- who may do what ------------------------------------------------------------------------------


def test_a_viewer_reads_everything_but_full_urls_and_changes_nothing(viewer_client, admin_user):
    make_channel(admin_user)
    services.create_channel(SLACK, actor=admin_user)
    services.send_test(AlertChannel.objects.get(pk="ops-hook"), actor=admin_user)
    listed = viewer_client.get("/api/alert-channels")
    assert listed.status_code == HTTPStatus.OK and listed.json()["count"] == 2
    urls = {c["id"]: c["url"] for c in listed.json()["results"]}
    # The Slack URL is the credential that posts to the channel: scheme and host only.
    assert urls == {"ops-hook": "https://hooks.example.com/***", "team-slack": "https://hooks.slack.com/***"}
    assert "XXXXSECRETPATH" not in listed.content.decode() and "t0k3n" not in listed.content.decode()
    assert viewer_client.get("/api/alert-channels/team-slack").json()["url"] == "https://hooks.slack.com/***"
    assert viewer_client.get("/api/alert-channels/ops-hook/deliveries").json()["count"] == 1

    before = AuditEvent.objects.count()
    for response in (
        viewer_client.post("/api/alert-channels", {**HOOK, "id": "mine"}, format="json"),
        viewer_client.patch("/api/alert-channels/ops-hook", {"name": "x"}, format="json"),
        viewer_client.delete("/api/alert-channels/ops-hook"),
        viewer_client.post("/api/alert-channels/ops-hook/test"),
        viewer_client.post("/api/alert-channels/ops-hook/secret", {"action": "set", "value": CANARY}, format="json"),
    ):
        assert response.status_code == HTTPStatus.FORBIDDEN, (response.request["PATH_INFO"], response.content)
        assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.count() == before and AlertChannel.objects.count() == 2
    assert AlertDelivery.objects.count() == 1


def test_an_outsider_is_treated_as_for_providers_and_anonymous_is_401(outsider_client, anon_client, admin_user):
    make_channel(admin_user)
    assert outsider_client.get("/api/alert-channels").status_code == HTTPStatus.FORBIDDEN
    assert outsider_client.post("/api/alert-channels", {**HOOK, "id": "x"}, format="json").status_code == 403
    for response in (
        outsider_client.get("/api/alert-channels/ops-hook"),
        outsider_client.patch("/api/alert-channels/ops-hook", {"name": "x"}, format="json"),
        outsider_client.delete("/api/alert-channels/ops-hook"),
        outsider_client.post("/api/alert-channels/ops-hook/test"),
        outsider_client.post("/api/alert-channels/ops-hook/secret", {"action": "clear"}, format="json"),
        outsider_client.get("/api/alert-channels/ops-hook/deliveries"),
    ):
        assert response.status_code == HTTPStatus.NOT_FOUND, response.request["PATH_INFO"]
    for response in (
        anon_client.get("/api/alert-channels"),
        anon_client.get("/api/alert-channels/ops-hook"),
        anon_client.post("/api/alert-channels/ops-hook/test"),
    ):
        assert response.status_code == HTTPStatus.UNAUTHORIZED and response.has_header("WWW-Authenticate")
    assert AlertChannel.objects.get().version == 1 and not AlertDelivery.objects.exists()


def test_a_user_given_view_on_one_channel_sees_that_one(outsider_user, outsider_client, admin_user):
    from guardian.shortcuts import assign_perm

    mine = make_channel(admin_user)
    make_channel(admin_user, id="theirs")
    assign_perm("alerts.view_alertchannel", outsider_user, mine)
    listed = outsider_client.get("/api/alert-channels").json()
    assert [c["id"] for c in listed["results"]] == ["ops-hook"]
    assert outsider_client.get("/api/alert-channels/theirs").status_code == HTTPStatus.NOT_FOUND
    assert outsider_client.patch("/api/alert-channels/ops-hook", {"name": "x"}, format="json").status_code == 403


# --- the webhook secret --------------------------------------------------------------------------


def test_the_secret_is_set_rotated_and_cleared_and_never_shown(admin_client, viewer_client, admin_user, caplog):
    caplog.set_level(logging.DEBUG)
    make_channel(admin_user)
    url = "/api/alert-channels/ops-hook/secret"
    answers = []

    def post(body, expected=HTTPStatus.OK):
        response = admin_client.post(url, body, format="json")
        assert response.status_code == expected, response.content
        assert response["Cache-Control"] == "no-store"
        answers.append(response)
        return response.json()

    rotated_with_none = post({"action": "rotate", "value": CANARY}, HTTPStatus.CONFLICT)
    assert list(rotated_with_none) == ["detail"]
    post({"action": "clear"}, HTTPStatus.CONFLICT)
    first = post({"action": "set", "value": CANARY})
    assert first | {"webhook_secret_touched_at": None} == {
        "channel_id": "ops-hook", "action": "set", "webhook_secret_present": True, "webhook_secret_version": 1,
        "webhook_secret_touched_at": None, "webhook_secret_touched_by": "alice",
    }
    assert first["webhook_secret_touched_at"].endswith("Z")
    post({"action": "set", "value": CANARY + "-again"}, HTTPStatus.CONFLICT)  # set over a stored one
    assert post({"action": "rotate", "value": CANARY + "-2"})["webhook_secret_version"] == 2
    assert post({"action": "clear"})["webhook_secret_present"] is False

    # Bad bodies: a 400 naming the field, nothing written.
    assert "value" in post({"action": "set"}, HTTPStatus.BAD_REQUEST)
    assert "value" in post({"action": "set", "value": ""}, HTTPStatus.BAD_REQUEST)
    assert "value" in post({"action": "set", "value": 12345678}, HTTPStatus.BAD_REQUEST)
    assert "value" in post({"action": "clear", "value": CANARY}, HTTPStatus.BAD_REQUEST)
    assert "action" in post({"action": "restore"}, HTTPStatus.BAD_REQUEST)
    assert "extra" in post({"action": "clear", "extra": 1}, HTTPStatus.BAD_REQUEST)

    channel = viewer_client.get("/api/alert-channels/ops-hook").json()
    assert (channel["webhook_secret_present"], channel["webhook_secret_version"]) == (False, 3)
    assert channel["webhook_secret_touched_by"] == "alice"
    answers += [viewer_client.get("/api/alert-channels"), admin_client.get("/api/events?page_size=100")]

    kinds = [e.event for e in AuditEvent.objects.order_by("id")]
    assert kinds == ["alert_channel.created", "alert_channel.secret_updated", "alert_channel.secret_updated",
                     "alert_channel.secret_cleared"]
    stored_events = json.dumps([[e.summary, e.payload] for e in AuditEvent.objects.all()])
    for text in [r.content.decode() for r in answers] + [stored_events, caplog.text]:
        assert CANARY not in text


def test_a_slack_channel_has_no_secret(admin_client, admin_user):
    services.create_channel(SLACK, actor=admin_user)
    response = admin_client.post("/api/alert-channels/team-slack/secret", {"action": "set", "value": CANARY},
                                 format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST and "webhook" in response.json()["detail"]
    assert CANARY not in response.content.decode()
    assert admin_client.get("/api/alert-channels/team-slack").json()["webhook_secret_present"] is False
    assert not events_of("alert_channel.secret_updated")


# --- the test alert ------------------------------------------------------------------------------


def test_a_test_alert_is_202_and_queues_exactly_one_delivery_with_its_event(admin_client, admin_user):
    make_channel(admin_user, enabled=False)  # a test checks the wiring of a disabled channel too
    response = admin_client.post("/api/alert-channels/ops-hook/test")
    assert response.status_code == HTTPStatus.ACCEPTED, response.content
    (delivery,) = AlertDelivery.objects.all()
    (event,) = events_of("alert.test")
    assert (delivery.alert, delivery.status, delivery.event_id) == ("alert.test", "pending", event.id)
    body = response.json()
    assert body["id"] == delivery.id and body["status"] == "pending" and body["attempts"] == 0
    assert body["event"]["id"] == event.id and body["event"]["masked"] is True
    assert body["attempts_detail"] == []


# --- deliveries ----------------------------------------------------------------------------------


def add_deliveries(channel: AlertChannel, count: int, *, admin_user) -> list[AlertDelivery]:
    """`count` test deliveries, each with two attempts (one failed, one sent)."""
    rows = [services.send_test(channel, actor=admin_user) for _ in range(count)]
    now = timezone.now()
    for row in rows:
        DeliveryAttempt.objects.create(delivery=row, number=1, ok=False, http_status=503, latency_ms=12,
                                       error_code="http_error", error="The receiver answered 503.",
                                       attempted_at=now - timedelta(seconds=30))
        DeliveryAttempt.objects.create(delivery=row, number=2, ok=True, http_status=204, latency_ms=8,
                                       attempted_at=now)
    AlertDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(
        status="sent", attempts=2, last_http_status=204, sent_at=now
    )
    return rows


def test_deliveries_are_newest_first_with_the_fields_of_api_md(viewer_client, admin_user):
    channel = make_channel(admin_user)
    older, newer = add_deliveries(channel, 2, admin_user=admin_user)
    failed = services.send_test(channel, actor=admin_user)
    AlertDelivery.objects.filter(pk=failed.pk).update(status="failed", attempts=5, last_http_status=500,
                                                      last_error="The receiver answered 500.")
    retrying = services.send_test(channel, actor=admin_user)
    AlertDelivery.objects.filter(pk=retrying.pk).update(attempts=1, last_error="timeout")

    page = viewer_client.get("/api/alert-channels/ops-hook/deliveries").json()
    assert page["count"] == 4
    assert [d["id"] for d in page["results"]] == [retrying.id, failed.id, newer.id, older.id]
    first = page["results"][2]
    assert set(first) >= {"id", "event_id", "event", "status", "attempts", "last_http_status", "last_error",
                          "next_attempt_at", "sent_at"}
    assert (first["status"], first["attempts"], first["last_http_status"]) == ("sent", 2, 204)
    assert first["next_attempt_at"] is None and first["sent_at"].endswith("Z")
    assert [(a["number"], a["ok"], a["http_status"], a["error_code"]) for a in first["attempts_detail"]] == [
        (1, False, 503, "http_error"), (2, True, 204, ""),
    ]
    assert page["results"][0]["next_attempt_at"].endswith("Z")

    only_failed = viewer_client.get("/api/alert-channels/ops-hook/deliveries", {"status": "failed"}).json()
    assert [d["id"] for d in only_failed["results"]] == [failed.id]
    bad = viewer_client.get("/api/alert-channels/ops-hook/deliveries", {"status": "lost"})
    assert bad.status_code == HTTPStatus.BAD_REQUEST and list(bad.json()) == ["status"]

    summary = viewer_client.get("/api/alert-channels/ops-hook").json()
    assert summary["failing"] == 2  # failed for good, and tried and waiting
    assert summary["last_delivery"]["status"] == "pending" and summary["last_delivery"]["sent_at"] is None


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [2, 20])
def test_the_channel_list_takes_the_same_queries_at_2_and_20_rows(admin_client, admin_user, rows,
                                                                    django_assert_num_queries):
    for i in range(rows):
        channel = make_channel(admin_user, id=f"hook-{i:02d}")
        services.change_secret(channel, "set", CANARY, actor=admin_user)
        services.send_test(channel, actor=admin_user)
    admin_client.get("/api/alert-channels")  # the user's permissions, cached on the user from here
    # The page count, the page with its delivery summary (subqueries), the secrets' states.
    with django_assert_num_queries(3):
        response = admin_client.get("/api/alert-channels")
    assert response.json()["count"] == rows
    assert all(c["webhook_secret_present"] and c["last_delivery"] for c in response.json()["results"])


@pytest.mark.parametrize("rows", [2, 20])
def test_the_delivery_list_takes_the_same_queries_at_2_and_20_rows(viewer_client, admin_user, rows,
                                                                     django_assert_num_queries):
    channel = make_channel(admin_user)
    add_deliveries(channel, rows, admin_user=admin_user)
    viewer_client.get("/api/alert-channels/ops-hook/deliveries")
    # The channel, the count, the page, the page's attempts.
    with django_assert_num_queries(4):
        response = viewer_client.get("/api/alert-channels/ops-hook/deliveries")
    assert response.json()["count"] == rows
    assert all(len(d["attempts_detail"]) == 2 for d in response.json()["results"])


def test_the_api_root_links_the_channels(viewer_client):
    root = viewer_client.get("/api/").json()
    assert root["alert-channels"].endswith("/api/alert-channels")


def test_every_alerts_page_of_the_browsable_api_renders(admin_client, viewer_client, admin_user):
    channel = make_channel(admin_user)
    services.send_test(channel, actor=admin_user)
    paths = ["/api/alert-channels", "/api/alert-channels/ops-hook", "/api/alert-channels/ops-hook/deliveries",
             "/api/alert-channels/ops-hook/secret", "/api/alert-channels/ops-hook/test"]
    for client, expected in ((admin_client, [200, 200, 200, 405, 405]), (viewer_client, [200, 200, 200, 403, 403])):
        codes = [client.get(path, HTTP_ACCEPT="text/html").status_code for path in paths]
        assert codes == expected
    # The HTML form's fields post as a form, not JSON.
    form = {"id": "by-form", "name": "By form", "kind": "email", "email_to": "a@example.com", "events": "checks.failed"}
    created = admin_client.post("/api/alert-channels", form, HTTP_ACCEPT="application/json")
    assert created.status_code == HTTPStatus.CREATED, created.content
    assert created.json()["email_to"] == ["a@example.com"] and created.json()["events"] == ["checks.failed"]
