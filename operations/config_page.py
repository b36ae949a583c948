"""`/configuration/`: the configuration as code for admins in the console's look. Download the
export; paste or upload a file to see the dry run (each provider's change, the chain before
and after); Apply it at the version the dry run was made against. Plain forms, no script: the
work is `operations.configfile`'s, as for the commands and the API."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from operations.configfile import (
    Change,
    ChangeNotAllowed,
    ConfigError,
    StaleConfiguration,
    apply,
    check_document,
    current_export,
    dump,
    error_lines,
    parse,
)

# As the API's POST /api/config: a file may create, change and archive.
PAGE_PERMISSIONS = ("providers.add_provider", "providers.change_provider", "providers.delete_provider")
# A pasted or uploaded file larger than this is refused before it is parsed.
MAX_FILE_BYTES = 5 * 1024 * 1024


def _require_admin(request: HttpRequest) -> None:
    if not request.user.has_perms(PAGE_PERMISSIONS):
        raise PermissionDenied


@login_required
@require_GET
def config_download(request: HttpRequest, *, fmt: str) -> HttpResponse:
    _require_admin(request)
    text = dump({"providers": current_export().providers}, fmt)
    content_type = "application/json" if fmt == "json" else "application/yaml"
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="providers.{fmt}"'
    return response


def _shown(value) -> str:
    return "—" if value is None else json.dumps(value, ensure_ascii=False)


def _display(changes: list[Change]) -> list[dict]:
    """Changes with each field's values as JSON text (`"B" → "B prime"`, `["gpt-4o"]`)."""
    return [
        {"provider_id": c.provider_id, "action": c.action,
         "fields": [(name, _shown(before), _shown(after)) for name, (before, after) in c.fields.items()]}
        for c in changes
    ]


def _submitted_text(request: HttpRequest) -> tuple[str, str | None]:
    """The file's text and its name (an upload wins over the text area)."""
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > MAX_FILE_BYTES:
            raise ConfigError({"file": [f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB."]})
        try:
            return upload.read().decode("utf-8"), upload.name
        except UnicodeDecodeError:
            raise ConfigError({"file": ["The file is not UTF-8 text."]}) from None
    text = request.POST.get("text", "")
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ConfigError({"file": [f"The text is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB."]})
    if not text.strip():
        raise ConfigError({"file": ["Paste a file or choose one to upload."]})
    return text, None


@login_required
@require_http_methods(["GET", "POST"])
def config_page(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    context = {"version": current_export().version, "text": "", "prune": False}
    status = 200
    if request.method == "POST":
        applying = request.POST.get("action") == "apply"
        context["prune"] = request.POST.get("prune") == "on"
        try:
            text, filename = _submitted_text(request)
            context["text"] = text
            entries, _, _ = check_document(parse(text, filename))
            # Apply only at the version the dry run was shown for: a change made meanwhile
            # (in the console, by the API, another import) is not overwritten unseen.
            expected = {request.POST.get("version", "")} if applying else None
            result = apply(entries, prune=context["prune"], actor=request.user, dry_run=not applying,
                           expected_versions=expected)
            context.update(result=result, version=result.version_after, changes=_display(result.changes),
                           changed=sum(c.action != "unchanged" for c in result.changes))
        except ConfigError as exc:
            context["errors"], status = error_lines(exc.errors), 400
        except StaleConfiguration as exc:
            context["errors"], status = [f"{exc} Check the changes again before applying."], 409
        except ChangeNotAllowed as exc:
            context["errors"], status = [f"{exc}; nothing was applied."], 409 if exc.conflict else 403
    return render(request, "operations/configuration.html", context, status=status)
