"""The browsable API at /api/, made usable with a session (API.md: "the DRF browsable API").

DRF prefills the raw-data form with the whole representation of the object, read-only fields
and all, which the strict body check then refuses. Here the prefilled JSON holds only what the
endpoint accepts: writable fields, no null where null is refused, no value outside a field's
choices (a provider that health made `degraded` is not offered `"status": "degraded"`), and a
password field always empty. After a POST the HTML form is the request's form again, never one
built from the response's serializer. What a failed form shows again is the serializer's
`get_initial()` (the vault's serializer leaves the value out of it); the form fields' `initial`
values are the defaults a create form offers.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import renderers, serializers
from rest_framework.request import override_method


def is_password(field: serializers.Field) -> bool:
    return field.style.get("input_type") == "password"


def editable_body(data: dict[str, Any], fields: dict[str, serializers.Field]) -> dict[str, Any]:
    """`data` (a representation or a serializer's initial values) cut to what may be sent back."""
    body: dict[str, Any] = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None or field.read_only or isinstance(field, serializers.HiddenField):
            continue
        if is_password(field):
            body[name] = ""
            continue
        if value is None and not field.allow_null and not field.required:
            continue
        if isinstance(field, serializers.ChoiceField) and value not in (None, "") and str(value) not in field.choices:
            continue
        body[name] = value
    return body


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            # DRF's page templates carry a few style attributes (the filter button, nested
            # fieldsets). The site's policy refuses them; on these pages alone they are allowed
            # (style-src-attr), never inline scripts (docs/configuration.md).
            response._csp_update = {"style-src-attr": ["'unsafe-inline'"]}
        return super().render(data, accepted_media_type, renderer_context)

    def show_form_for_method(self, view, method, request, obj):
        # DRF offers the serializer's instance for the object permission check; for a response
        # built from a plain dict (the secret projection) that is no model object to check.
        if obj is not None and not hasattr(obj, "_meta"):
            obj = None
        return super().show_form_for_method(view, method, request, obj)

    def get_rendered_html_form(self, data, view, method, request):
        # After a POST, DRF re-renders the form from the serializer that made the response.
        # When that is not the view's request serializer (the secret projection answering a
        # secret action) the form would show the response's fields: show the request form.
        serializer = getattr(data, "serializer", None)
        request_class = getattr(view, "serializer_class", None)
        if serializer is not None and request_class is not None and not isinstance(serializer, request_class):
            data = None
        return super().get_rendered_html_form(data, view, method, request)

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        if form is None or not hasattr(view, "get_serializer") or "_content" not in form.fields:
            return form
        content = form.fields["_content"].initial
        try:
            prefilled = json.loads(content) if content else None
        except ValueError:
            return form
        if not isinstance(prefilled, dict):
            return form
        with override_method(view, request, method):
            fields = view.get_serializer().fields
        form.fields["_content"].initial = json.dumps(editable_body(prefilled, fields), indent=4, ensure_ascii=False)
        return form
