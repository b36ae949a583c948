"""The alert pages of the console (issue 10 §4), in the console's look (templates/alerts/).

- `/alerts/`: the channels (target, alerts taken, enabled, webhook secret, last delivery) and
  the delivery history across channels, failures first, filtered by channel and status. Its
  history region alone answers an htmx request (`HX-Request`), which the page sends every few
  seconds to keep it current.
- `/alerts/<id>/`: one channel's settings, secret state and deliveries with every attempt, its
  history refreshed the same way.
- `/new-alert-channel/`, `/alerts/<id>/edit/`: the channel form (outside `/alerts/<id>/` for a
  new channel, so no channel id is shadowed); `/alerts/<id>/enabled/`, `/alerts/<id>/test/`,
  `/alerts/<id>/delete/` (a confirmation first), `/alerts/<id>/secret/` (set, rotate, clear
  after a confirmation).

Every change goes through `alerts.services` (its validation is `clean_channel`, its audit
events are the API's); a stale version is refused with 412 and nothing changed. Everyone with a
role reads; viewers see every control disabled with a tooltip, and a POST from them is 403.
The webhook secret's value is write-only: no page ever renders it, not even after an error.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from alerts import forms as channel_form
from alerts import history, services
from alerts.formats import LABELS
from alerts.models import AlertChannel, AlertDelivery, ChannelKind
from alerts.serializers import URL_READER_PERMISSION, masked_url
from secrets_vault.api import SecretConflict

VIEW = "alerts.view_alertchannel"
VIEW_DELIVERIES = "alerts.view_alertdelivery"
ADD = "alerts.add_alertchannel"
CHANGE = "alerts.change_alertchannel"
DELETE = "alerts.delete_alertchannel"
VAULT = "secrets_vault.manage_secrets"
VIEWER_TOOLTIP = "Viewers cannot change alert channels"
QUEUED = "Test alert queued for {name}; the deliverer sends it within a few seconds."
# How often an open page asks for its history region again (htmx polling).
POLL_SECONDS = 2


def _require_view(user) -> None:
    if not (user.has_perm(VIEW) and user.has_perm(VIEW_DELIVERIES)):
        raise PermissionDenied("Alerts are open to the admin and viewer roles; your account has neither.")


def _require(user, *perms: str) -> None:
    if not user.has_perms(perms):
        raise PermissionDenied(VIEWER_TOOLTIP + ".")


def _can(user) -> dict[str, bool]:
    return {
        "add": user.has_perm(ADD),
        "change": user.has_perm(CHANGE),
        "delete": user.has_perm(DELETE),
        "secret": user.has_perms((CHANGE, VAULT)),
    }


def target_of(channel: AlertChannel) -> str:
    """Where a channel's alerts go, short: the URL's host, or the recipients."""
    if channel.kind == ChannelKind.EMAIL:
        shown = ", ".join(channel.email_to[:3])
        more = len(channel.email_to) - 3
        return f"{shown} and {more} more" if more > 0 else shown
    parts = urlsplit(channel.url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")


def shown_url(user, channel: AlertChannel) -> str:
    """The channel's URL as this user may read it: a Slack incoming webhook's URL is itself the
    key that posts to it, so readers who cannot change channels get its scheme and host only
    (the API's rule, alerts/serializers.py)."""
    return channel.url if user.has_perm(URL_READER_PERMISSION) else masked_url(channel.url)


def _channels_with_state(channels: list[AlertChannel], user) -> list[AlertChannel]:
    states = services.secret_states(channels) if channels else {}
    for channel in channels:
        channel.secret = states[channel.pk]
        channel.target = target_of(channel)
        channel.shown_url = shown_url(user, channel)
        channel.event_labels = [LABELS.get(e, e) for e in channel.events]
    return channels


def _back(request: HttpRequest, default: str) -> str:
    """Where a button's POST returns to: the alert page it was pressed on, else `default`."""
    target = request.POST.get("next", "")
    if target.startswith("/alerts/") and "//" not in target and "\\" not in target:
        return target
    return default


def _history_response(request, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """The page, or its history region alone for the page's own polling (htmx)."""
    if request.htmx:
        template = context["history_template"]
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_http_methods(["GET"])
def alerts_page(request: HttpRequest) -> HttpResponse:
    _require_view(request.user)
    last = AlertDelivery.objects.filter(channel=OuterRef("pk")).order_by("-id")
    channels = list(
        AlertChannel.objects.annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_attempts=Subquery(last.values("attempts")[:1]),
            last_at=Subquery(last.values("created_at")[:1]),
        )
    )
    query = history.read_query(request.GET, channel_ids={c.pk for c in channels})
    page = None if query.errors else history.history_page(query, request.GET.get("page"))
    context = {
        "channels": _channels_with_state(channels, request.user),
        "history_url": request.get_full_path(),
        "query": query,
        "page": page,
        "statuses": history.SHOWN_STATUSES,
        "labels": LABELS,
        "can": _can(request.user),
        "viewer_tooltip": VIEWER_TOOLTIP,
        "poll_seconds": POLL_SECONDS,
        "history_template": "alerts/_history.html",
    }
    return _history_response(request, "alerts/alerts.html", context, status=400 if query.errors else 200)


def _channel_context(request: HttpRequest, channel: AlertChannel, **extra: Any) -> dict[str, Any]:
    _channels_with_state([channel], request.user)
    query = history.read_query(request.GET)
    page = None if query.errors else history.history_page(query, request.GET.get("page"), channel=channel)
    # A channel page is also the answer to its buttons' POSTs (an error, a 412): its links and
    # its polling go to the channel's own address, never to the URL that was posted to.
    channel_url = reverse("alerts-channel", args=[channel.pk])
    context = {
        "channel": channel,
        "channel_url": channel_url,
        "history_url": channel_url + (f"?{request.GET.urlencode()}" if request.GET else ""),
        "query": query,
        "page": page,
        "labels": LABELS,
        "can": _can(request.user),
        "viewer_tooltip": VIEWER_TOOLTIP,
        "poll_seconds": POLL_SECONDS,
        "history_template": "alerts/_channel_history.html",
        "confirm_clear": False,
        "secret_errors": {},
    }
    context.update(extra)
    return context


@login_required
@require_http_methods(["GET"])
def channel_page(request: HttpRequest, channel_id: str) -> HttpResponse:
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    context = _channel_context(request, channel)
    return _history_response(request, "alerts/channel.html", context, status=400 if context["query"].errors else 200)


def _form_context(
    request,
    *,
    channel: AlertChannel | None,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    can_edit: bool,
    conflict: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "creating": channel is None,
        "values": values,
        "errors": errors,
        "non_field_errors": errors.get("__all__", []),
        "can_edit": can_edit,
        "viewer_tooltip": VIEWER_TOOLTIP,
        "help": channel_form.HELP,
        "kind_choices": channel_form.CHANNEL_KIND_CHOICES,
        "event_choices": channel_form.EVENT_CHOICES,
        "provider_choices": channel_form.provider_choices(),
        "provider_kind_choices": channel_form.PROVIDER_KIND_CHOICES,
        "conflict": conflict,
    }


@login_required
@require_http_methods(["GET", "POST"])
def create_channel(request: HttpRequest) -> HttpResponse:
    _require_view(request.user)
    if request.method == "GET":
        context = _form_context(
            request, channel=None, values=channel_form.initial_values(), errors={}, can_edit=request.user.has_perm(ADD)
        )
        return render(request, "alerts/channel_form.html", context)
    _require(request.user, ADD)
    try:
        channel = services.create_channel(channel_form.channel_data(request.POST, creating=True), actor=request.user)
    except (ValidationError, IntegrityError) as exc:
        # IntegrityError: another request created the same id between the check and the insert.
        errors = (
            exc.message_dict if isinstance(exc, ValidationError) else {"id": ["A channel with this id already exists."]}
        )
        context = _form_context(
            request,
            channel=None,
            values=channel_form.submitted_values(request.POST),
            errors=channel_form.field_errors(errors),
            can_edit=True,
        )
        return render(request, "alerts/channel_form.html", context, status=400)
    messages.success(request, f"Created the alert channel {channel.name}.")
    return redirect("alerts-channel", channel.pk)


def _version(request: HttpRequest) -> int | None:
    text = request.POST.get("version", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _conflict_rows(current: AlertChannel, submitted: dict[str, Any]) -> list[dict[str, str]]:
    """Each field where the saved value (theirs) differs from the submitted one (yours)."""
    theirs = channel_form.initial_values(current)
    rows = []
    for name in ("name", "url", "email_to", "events", "providers", "kinds", "cooldown_s", "enabled"):
        mine, saved = submitted.get(name), theirs.get(name)
        if isinstance(saved, list):
            mine, saved = ", ".join(mine or []), ", ".join(saved)
        elif isinstance(saved, bool):
            mine, saved = "yes" if mine else "no", "yes" if saved else "no"
        if str(mine).strip() != str(saved).strip():
            rows.append({"field": name, "theirs": saved, "yours": mine})
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def edit_channel(request: HttpRequest, channel_id: str) -> HttpResponse:
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    if request.method == "GET":
        values = channel_form.initial_values(channel)
        values["url"] = shown_url(request.user, channel)
        context = _form_context(
            request,
            channel=channel,
            values=values,
            errors={},
            can_edit=request.user.has_perm(CHANGE),
        )
        context["form_version"] = channel.version
        return render(request, "alerts/channel_form.html", context)
    _require(request.user, CHANGE)
    submitted = channel_form.submitted_values(request.POST)
    version = _version(request)
    errors: dict[str, list[str]] = {}
    conflict = None
    status = 400
    if version is None:
        errors = {"__all__": ["version: the form carries no valid version; reload the page."]}
    else:
        try:
            saved = services.update_channel(
                channel,
                channel_form.channel_data(request.POST, creating=False),
                actor=request.user,
                expected_version=version,
            )
        except services.VersionMismatch:
            channel = AlertChannel.objects.get(pk=channel.pk)
            conflict, status = _conflict_rows(channel, submitted), 412
        except ValidationError as exc:
            errors = channel_form.field_errors(exc.message_dict)
        else:
            messages.success(request, f"Saved the alert channel {saved.name} (version {saved.version}).")
            return redirect("alerts-channel", saved.pk)
    context = _form_context(request, channel=channel, values=submitted, errors=errors, can_edit=True, conflict=conflict)
    # After a conflict the form carries the current version: saving again applies yours on purpose.
    context["form_version"] = channel.version if conflict is not None else request.POST.get("version", "")
    return render(request, "alerts/channel_form.html", context, status=status)


def _stale(request: HttpRequest, channel_id: str, exc: services.VersionMismatch) -> HttpResponse:
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    context = _channel_context(
        request,
        channel,
        stale=f"Someone else changed {channel.name} first (now at version "
        f"{exc.current}). Nothing was changed; check it and try again.",
    )
    return render(request, "alerts/channel.html", context, status=412)


@login_required
@require_POST
def set_enabled(request: HttpRequest, channel_id: str) -> HttpResponse:
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    _require(request.user, CHANGE)
    wanted = request.POST.get("enabled", "")
    if wanted not in ("true", "false"):
        context = _channel_context(request, channel, stale="enabled: must be true or false; nothing was changed.")
        return render(request, "alerts/channel.html", context, status=400)
    try:
        saved = services.update_channel(
            channel, {"enabled": wanted == "true"}, actor=request.user, expected_version=_version(request) or -1
        )
    except services.VersionMismatch as exc:
        return _stale(request, channel_id, exc)
    messages.success(request, f"{'Enabled' if saved.enabled else 'Disabled'} the alert channel {saved.name}.")
    return redirect(_back(request, reverse("alerts-channel", args=[saved.pk])))


@login_required
@require_POST
def send_test(request: HttpRequest, channel_id: str) -> HttpResponse:
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    _require(request.user, CHANGE)
    services.send_test(channel, actor=request.user)
    messages.success(request, QUEUED.format(name=channel.name))
    return redirect(_back(request, reverse("alerts-channel", args=[channel.pk])))


@login_required
@require_http_methods(["GET", "POST"])
def delete_channel(request: HttpRequest, channel_id: str) -> HttpResponse:
    """GET: the confirmation; POST: delete at the version the confirmation was shown for."""
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    context = {
        "channel": channel,
        "can_delete": request.user.has_perm(DELETE),
        "viewer_tooltip": VIEWER_TOOLTIP,
        "deliveries": channel.deliveries.count(),
    }
    if request.method == "GET":
        return render(request, "alerts/channel_delete.html", context)
    _require(request.user, DELETE)
    try:
        services.delete_channel(channel, actor=request.user, expected_version=_version(request) or -1)
    except services.VersionMismatch as exc:
        channel.refresh_from_db()
        context["stale"] = (
            f"Someone else changed {channel.name} since this page was drawn (now at version "
            f"{exc.current}). Nothing was deleted; confirm again if you still want to."
        )
        return render(request, "alerts/channel_delete.html", context, status=412)
    messages.success(request, f"Deleted the alert channel {channel.name} and its delivery history.")
    return redirect("alerts-page")


SECRET_DONE = {"set": "set", "rotate": "rotated", "clear": "cleared"}


@sensitive_post_parameters("value")
@login_required
@require_POST
@sensitive_variables("value")
def change_secret(request: HttpRequest, channel_id: str) -> HttpResponse:
    """Set, rotate or clear the webhook secret; clear asks first (`confirm=clear`). The value is
    never rendered back, whatever happens."""
    _require_view(request.user)
    channel = get_object_or_404(AlertChannel, pk=channel_id)
    _require(request.user, CHANGE, VAULT)
    action = request.POST.get("action", "")
    value = request.POST.get("value", "")
    errors: dict[str, str] = {}
    status = 400
    if action not in SECRET_DONE:
        errors["action"] = "One of: set, rotate, clear."
    elif action != "clear" and not value:
        errors["value"] = f"Enter the new value to {action} the secret."
    elif action == "clear" and request.POST.get("confirm") != "clear" and channel.kind == ChannelKind.WEBHOOK:
        return render(request, "alerts/channel.html", _channel_context(request, channel, confirm_clear=True))
    else:
        try:
            state = services.change_secret(channel, action, value or None, actor=request.user)
        except services.NotAWebhook as exc:
            errors["action"], status = str(exc), 409
        except SecretConflict as exc:
            errors["action"], status = str(exc), 409
        except ValidationError as exc:
            errors["value"] = " ".join(exc.messages)
        else:
            version = f" (version {state['version']})" if action != "clear" and state.get("version") else ""
            messages.success(request, f"Webhook secret {SECRET_DONE[action]} for {channel.name}{version}.")
            return redirect("alerts-channel", channel.pk)
    return render(
        request, "alerts/channel.html", _channel_context(request, channel, secret_errors=errors), status=status
    )
