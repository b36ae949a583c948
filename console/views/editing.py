"""Pages that change providers: create, edit (with the chain preview beside the form, model
discovery and "Test before save"), archive with confirmation and Undo, the archived list.

Everything an operator submits goes through the API's validation (`console.provider_form`)
and the provider services, so a page saves exactly what the API would, with the same audit
events. Viewers see the same pages with every control disabled; a POST from them is 403.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException, ValidationError

from accounts.permissions import ALLOW, object_access, require_page_permission
from console import provider_form as pf
from console.preview import preview_chain
from console.unsaved_probe import discover_models, test_unsaved
from providers import services
from providers.access import metadata_masker
from providers.models import Provider
from providers.serializers import MASK
from providers.signals import ChangeConflict, ChangeRefused

VIEWER_TOOLTIP = "Viewers cannot change providers"


def _can(user, perm: str, provider: Provider | None = None) -> bool:
    if provider is None:
        return user.has_perm(perm)
    return object_access(user, perm, provider) == ALLOW


def _require(user, perm: str, provider: Provider | None = None) -> None:
    if provider is None:
        if not user.has_perm(perm):
            raise PermissionDenied(VIEWER_TOOLTIP + ".")
    else:
        require_page_permission(user, perm, provider)


def _form_context(request, *, provider, values, errors, can_edit, status=200, conflict=None):
    return {
        "provider": provider,
        "creating": provider is None,
        "values": values,
        "errors": errors,
        "non_field_errors": errors.get(pf.NON_FIELD, []),
        "can_edit": can_edit,
        "viewer_tooltip": VIEWER_TOOLTIP,
        "help": pf.HELP,
        "kind_choices": pf.KIND_CHOICES,
        "status_choices": pf.STATUS_CHOICES,
        "policy_choices": pf.POLICY_CHOICES,
        "kind_defaults": json.dumps(pf.KIND_DEFAULT_POLICY),
        "conflict": conflict,
        "in_dialog": _in_dialog(request),
    }


def _render_form(request, context, status=200):
    template = "console/provider_form.html"
    return render(request, template, context, status=status)


def _in_dialog(request) -> bool:
    """The form was opened in the list page's edit dialog (`static/js/edit_dialog.js`), which
    asks with `?dialog=1`; the form carries it back as a hidden field."""
    return request.GET.get("dialog") == "1" or request.POST.get("dialog") == "1"


def _saved(request, provider: Provider, text: str) -> HttpResponse:
    if request.htmx and _in_dialog(request):
        # The list page stays where it is: the dialog closes, the page shows the toast and
        # re-renders the card and the chain in place (no message is queued for a next page).
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({"console:provider-saved": {"message": text, "provider_id": provider.id}})
        return response
    messages.success(request, text)
    target = reverse("provider-list") + f"#provider-{provider.id}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def create_provider(request):
    user = request.user
    if not (user.has_perm("providers.view_provider") or user.has_perm("providers.add_provider")):
        raise PermissionDenied("You have no role that may see providers.")
    can_edit = user.has_perm("providers.add_provider")
    if request.method == "GET":
        values = pf.initial_values(kind=request.GET.get("kind"))
        return _render_form(request, _form_context(request, provider=None, values=values, errors={}, can_edit=can_edit))
    _require(user, "providers.add_provider")
    body, errors = pf.parse_form(request.POST, creating=True)
    data, serializer_errors = pf.validate(body, None, request)
    errors = {**serializer_errors, **errors}
    if data is not None and not errors:
        clash = Provider.objects.filter(Q(id=data["id"]) | Q(name=data["name"])).values_list("id", "name").first()
        if clash is not None:
            field = "id" if clash[0] == data["id"] else "name"
            errors = {field: [f"A provider with this {field} already exists (archived ones count)."]}
        else:
            try:
                provider = services.create_provider(data, actor=user)
            except IntegrityError:
                errors = {"id": ["A provider with this id or name already exists."]}
            else:
                return _saved(request, provider, f"Created {provider}.")
    context = _form_context(request, provider=None, values=pf.submitted_values(request.POST), errors=errors, can_edit=True)
    return _render_form(request, context, status=200 if request.htmx else 400)


@login_required
@require_http_methods(["GET", "POST"])
def edit_provider(request, provider_id: str):
    user = request.user
    provider = get_object_or_404(Provider, pk=provider_id)
    require_page_permission(user, "providers.view_provider", provider)
    can_edit = _can(user, "providers.change_provider", provider) and provider.archived_at is None
    if request.method == "GET":
        values = pf.initial_values(provider)
        if metadata_masker(user)(provider):  # viewers read metadata keys only, as on the API
            values["metadata"] = json.dumps({key: MASK for key in provider.metadata or {}}, indent=2) if provider.metadata else ""
        return _render_form(request, _form_context(request, provider=provider, values=values, errors={}, can_edit=can_edit))
    _require(user, "providers.change_provider", provider)
    if provider.archived_at is not None:
        raise PermissionDenied("This provider is archived: restore it before changing it.")
    body, errors = pf.parse_form(request.POST, creating=False)
    pf.drop_unchanged_status(body, provider)
    data, serializer_errors = pf.validate(body, provider, request)
    errors = {**serializer_errors, **errors}
    version = request.POST.get("version", "")
    if not (version.isascii() and version.isdigit() and len(version) <= 18):
        errors.setdefault(pf.NON_FIELD, []).append("version: the form carries no valid version; reload the page.")
    submitted = pf.submitted_values(request.POST)
    status = 200
    conflict = None
    if data is not None and not errors:
        new_name = data.get("name")
        if new_name and new_name != provider.name and Provider.objects.filter(name=new_name).exists():
            errors = {"name": ["A provider with this name already exists."]}
        else:
            try:
                saved = services.update_provider(provider, data, actor=user, expected_version=int(version))
            except services.VersionMismatch:
                current = Provider.objects.get(pk=provider.pk)
                conflict = _conflict_rows(current, submitted)
                status = 412
                provider = current
            except IntegrityError:
                errors = {"name": ["A provider with this name already exists."]}
            except (ChangeConflict, ChangeRefused) as exc:
                errors = {pf.NON_FIELD: [str(exc)]}
            else:
                return _saved(request, saved, f"Saved {saved} (version {saved.version}).")
    if errors:
        status = 400
    context = _form_context(request, provider=provider, values=submitted, errors=errors, can_edit=True, conflict=conflict)
    context["form_version"] = version if conflict is None else str(provider.version)
    return _render_form(request, context, status=200 if request.htmx and status == 400 else status)


def _conflict_rows(current: Provider, submitted: dict[str, str]) -> list[dict[str, str]]:
    """Each field where what is saved now (theirs) differs from what the operator sent (yours)."""
    theirs = pf.initial_values(current)
    rows = []
    for name, yours in submitted.items():
        if name == "id":
            continue
        if _normal(theirs.get(name, "")) != _normal(yours):
            rows.append({"field": name, "theirs": theirs.get(name, ""), "yours": yours})
    return rows


def _normal(text: str) -> str:
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except (ValueError, RecursionError):
        return "\n".join(line.strip() for line in text.strip().splitlines())


@login_required
@require_POST
def preview(request):
    """The chain as if the form were saved, beside the form (the preview endpoint's computation),
    with what would change marked: nodes that move and a new serving provider."""
    user = request.user
    if not user.has_perm("providers.view_provider"):
        raise PermissionDenied("You may not see the routing chain.")
    provider_id = request.POST.get("provider_id", "")
    creating = not provider_id
    body, errors = pf.parse_form(request.POST, creating=creating)
    if creating:
        request_body = {"provider": body}
    else:
        stored = Provider.objects.filter(pk=provider_id).first()
        if stored is not None:
            pf.drop_unchanged_status(body, stored)
        fields = {k: v for k, v in body.items() if k in pf.ROUTING_FIELDS}
        request_body = {"provider_id": provider_id, "changes": fields}
    context = {"errors": errors, "creating": creating}
    if not errors:
        try:
            chain, proposed = preview_chain(request_body, request)
        except Http404:
            raise
        except ValidationError as exc:
            context["errors"] = pf.flatten_errors(next(iter(exc.detail.values())) if isinstance(exc.detail, dict) else exc.detail)
        except APIException as exc:
            context["errors"] = {pf.NON_FIELD: pf.flatten_errors(exc.detail).get(pf.NON_FIELD) or [str(exc.detail)]}
        else:
            context.update(_compare(chain, proposed, provider_id or body.get("id", "")))
    return render(request, "console/chain_preview.html", context)


def _compare(chain, proposed, subject: str) -> dict:
    before = {n.provider_id: n.position for n in chain.nodes}
    nodes = []
    for node in proposed.nodes:
        old = before.get(node.provider_id)
        item = {
            "node": node,
            "was": old,
            "moved": old is not None and old != node.position,
            "new": old is None,
            "subject": node.provider_id == subject,
        }
        item["html"] = _preview_node_html(item)
        nodes.append(item)
    after_ids = {n.provider_id for n in proposed.nodes}
    return {
        "chain": proposed,
        "nodes": nodes,
        "left": [n for n in chain.nodes if n.provider_id not in after_ids],
        "serving_changed": chain.active_provider_id != proposed.active_provider_id,
        "serving_before": chain.active_provider_id,
        "changed": chain.signature() != proposed.signature(),
    }


def _preview_node_html(item: dict) -> str:
    """One node of the chain preview (`console/chain_preview.html`), built here rather than in
    the template: the preview redraws on every change of the form and lists every provider, and
    a template's per-node lookups cost most of its time at 1,000 providers."""
    node = item["node"]
    classes = "node state-" + node.state
    classes += " moved" if item["moved"] else ""
    classes += " added" if item["new"] else ""
    classes += " subject" if item["subject"] else ""
    state = {"active": '<span class="badge serving">serving</span>', "skipped": '<span class="badge skipped">skipped</span>'}
    if item["moved"]:
        change = format_html('<span class="badge moved" data-testid="moved-{}">moved from {}</span>', node.provider_id, item["was"])
    elif item["new"]:
        change = mark_safe('<span class="badge added">joins the chain</span>')
    else:
        change = ""
    return format_html(
        '<li class="{}" data-provider="{}"><span class="position">{}</span> <strong>{}</strong> {} {} <small>{}</small></li>',
        classes, node.provider_id, node.position, node.display_name or node.name,
        mark_safe(state.get(node.state, "")), change, node.reason,
    )


def _candidate(request, *, need_model: bool) -> tuple[Provider | None, Provider | None, dict[str, list[str]]]:
    """(the unsaved provider the form describes, the stored one when editing, errors of the
    fields a probe needs), validated by the API's serializer."""
    provider_id = request.POST.get("provider_id", "")
    stored = None
    if provider_id:
        stored = get_object_or_404(Provider, pk=provider_id)
        _require(request.user, "providers.change_provider", stored)
    else:
        _require(request.user, "providers.add_provider")
    names = ["kind", "endpoint", "secret_policy", "timeout_ms", "retries"]
    if need_model:
        names.append("default_model")
    post = {k: request.POST[k] for k in names if k in request.POST}
    body, errors = pf.parse_form(post, creating=stored is None)
    if stored is None:
        body = {"id": "unsaved", "name": "unsaved", "default_model": "unsaved", **body}
    data, serializer_errors = pf.validate(body, stored, request)
    errors = {**serializer_errors, **errors}
    if data is None or errors:
        return None, stored, errors
    candidate = Provider.objects.get(pk=stored.pk) if stored else Provider(id="unsaved", name="unsaved")
    for name in ("kind", "endpoint", "default_model", "secret_policy", "timeout_ms", "retries"):
        if name in data:
            setattr(candidate, name, data[name])
    candidate.fill_defaults()
    return candidate, stored, {}


@login_required
@require_POST
def discover(request):
    """The models the (unsaved) endpoint lists, as buttons that fill default / fallback models."""
    candidate, stored, errors = _candidate(request, need_model=False)
    result = discover_models(candidate, stored) if candidate is not None else None
    return render(request, "console/discovery.html", {"result": result, "errors": errors})


@login_required
@require_POST
def test_before_save(request):
    """One check of the unsaved settings: pass/fail, latency and the actionable reason."""
    candidate, stored, errors = _candidate(request, need_model=True)
    result = test_unsaved(candidate, stored) if candidate is not None else None
    return render(request, "console/probe_result.html", {"result": result, "errors": errors})


@login_required
@require_http_methods(["GET", "POST"])
def archive_provider(request, provider_id: str):
    """GET: the confirmation; POST: archive, back to the list with an Undo toast."""
    provider = get_object_or_404(Provider, pk=provider_id)
    require_page_permission(request.user, "providers.view_provider", provider)
    can_archive = _can(request.user, "providers.delete_provider", provider)
    if request.method == "GET":
        context = {"provider": provider, "can_archive": can_archive, "viewer_tooltip": VIEWER_TOOLTIP}
        return render(request, "console/archive_confirm.html", context)
    _require(request.user, "providers.delete_provider", provider)
    archived = services.archive_provider(provider, actor=request.user)
    messages.success(request, f"Archived {archived}.", extra_tags=f"undo:{archived.id}")
    return redirect("provider-list")


@login_required
@require_POST
def restore_provider(request, provider_id: str):
    provider = get_object_or_404(Provider, pk=provider_id)
    _require(request.user, "providers.change_provider", provider)
    if provider.name and Provider.objects.live().filter(name=provider.name).exclude(pk=provider.pk).exists():
        messages.error(request, f"Cannot restore {provider}: another provider now uses the name {provider.name}; rename it first.")
        return redirect("console-archived-providers")
    restored = services.restore_provider(provider, actor=request.user)
    messages.success(request, f"Restored {restored}.")
    return redirect(reverse("provider-list") + f"#provider-{restored.id}")


@login_required
@require_http_methods(["GET"])
def archived_providers(request):
    """The "Archived" filter: archived providers, newest first, each with Restore."""
    user = request.user
    if not user.has_perm("providers.view_provider"):
        raise PermissionDenied("You may not list providers.")
    archived = Provider.objects.filter(archived_at__isnull=False).order_by("-archived_at", "name")
    context = {
        "archived": archived,
        "can_restore": user.has_perm("providers.change_provider"),
        "viewer_tooltip": VIEWER_TOOLTIP,
    }
    return render(request, "console/archived.html", context)
