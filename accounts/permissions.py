"""One permission class for the whole API (NetBox's pattern).

Safe methods need `view_*`, unsafe ones `add_*` / `change_*` / `delete_*` of the view's model,
unless the view names its own permission with `required_permission(request)`. A global
permission (from the user's groups) is enough everywhere; otherwise a django-guardian object
permission on the object is checked. Objects the user may not even view are 404, not 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, permissions

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def model_permission(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def method_permission(model, method: str) -> str:
    """`view_*` for safe methods, `add_*` / `change_*` / `delete_*` for unsafe ones."""
    return model_permission(model, METHOD_ACTIONS.get(method, "change"))


def required_permission(request, view) -> str:
    custom = getattr(view, "required_permission", None)
    if custom is not None:
        return custom(request)
    return method_permission(view.get_queryset().model, request.method)


def view_permission_for(obj) -> str:
    return model_permission(type(obj), "view")


def has_object_grant(user, perm: str, obj) -> bool:
    """A django-guardian grant of `perm` on `obj`.

    Guardian stores object permissions of the object's own app only (it raises WrongAppError
    for e.g. `secrets_vault.manage_secrets` on a provider), so no such grant can exist.
    """
    if perm.split(".", 1)[0] != obj._meta.app_label:
        return False
    return user.has_perm(perm, obj)


ALLOW, FORBID, HIDE = "allow", "forbid", "hide"


def object_access(user, perm: str, obj) -> str:
    """ALLOW with a global permission or an object grant; otherwise HIDE (404) when the user may
    not even view `obj`, else FORBID (403). The one rule for the API and the pages."""
    if user.has_perm(perm) or has_object_grant(user, perm, obj):
        return ALLOW
    view_perm = view_permission_for(obj)
    if not (user.has_perm(view_perm) or has_object_grant(user, view_perm, obj)):
        return HIDE
    return FORBID


def require_page_permission(user, perm: str, obj) -> None:
    """`object_access` for a page view: raises Http404 or PermissionDenied."""
    access = object_access(user, perm, obj)
    if access == HIDE:
        raise Http404
    if access == FORBID:
        raise PermissionDenied


class RolePermission(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.has_perm(required_permission(request, view)):
            return True
        # Without a global permission, an object endpoint may still be allowed by an object
        # permission; has_object_permission decides once the object is loaded.
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        return bool(lookup and lookup in view.kwargs)

    def has_object_permission(self, request, view, obj) -> bool:
        access = object_access(request.user, required_permission(request, view), obj)
        if access == HIDE:
            raise exceptions.NotFound()
        return access == ALLOW
