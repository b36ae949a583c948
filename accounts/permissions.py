"""The one access rule, for the API and the pages (NetBox's pattern, on DRF's object flow).

Safe methods need `view_*`, unsafe ones `add_*` / `change_*` / `delete_*` of the view's model,
unless the view names its own permission with `required_permission(request)`. A global
permission (from the user's groups) is enough everywhere; otherwise a django-guardian object
permission on the object is checked. An object the user may not even view is 404, not 403.

The API enforces it with DRF's object-permission flow, as `DjangoObjectPermissions` does with
guardian: `get_object()` runs `has_object_permission` on every object endpoint, and querysets
are cut down to what the user may view (`viewable`). A user without the global permission is
never let through on trust: on an object endpoint the permission class loads the object itself
(through the view's `get_object()`) before any handler runs, so a view that forgets to ask is
still guarded; a list is open to them only on a view that restricts its queryset
(`ViewableQuerysetMixin`), and every other endpoint needs the global permission.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user
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


def viewable(user, queryset: QuerySet) -> QuerySet:
    """The rows of `queryset` the user may view: all of them with the global view permission,
    otherwise those the user (or one of their groups) holds a guardian view grant on."""
    perm = model_permission(queryset.model, "view")
    if user.has_perm(perm):
        return queryset
    if not user.is_authenticated:
        return queryset.none()
    return get_objects_for_user(user, perm, klass=queryset, accept_global_perms=False)


ALLOW, FORBID, HIDE = "allow", "forbid", "hide"


def object_access(user, perm: str, obj) -> str:
    """HIDE (404) when the user may not even view `obj`; otherwise ALLOW with a global
    permission or an object grant of `perm`, else FORBID (403). The one rule for the API and
    the pages; what `viewable` lets through is exactly what is not hidden here."""
    view_perm = view_permission_for(obj)
    if not (user.has_perm(view_perm) or has_object_grant(user, view_perm, obj)):
        return HIDE
    if perm == view_perm or user.has_perm(perm) or has_object_grant(user, perm, obj):
        return ALLOW
    return FORBID


def require_page_permission(user, perm: str, obj) -> None:
    """`object_access` for a page view: raises Http404 or PermissionDenied."""
    access = object_access(user, perm, obj)
    if access == HIDE:
        raise Http404
    if access == FORBID:
        raise PermissionDenied


class ViewableQuerysetMixin:
    """For generic API views: the queryset is what the user may view, so a list shows a
    delegated user their providers and `get_object()` answers 404 for every other one."""

    lists_viewable_objects = True

    def get_queryset(self):
        return viewable(self.request.user, super().get_queryset())


def object_lookup(view) -> str | None:
    """The URL keyword naming the view's object, when this request addresses one."""
    kwarg = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    return kwarg if kwarg and kwarg in getattr(view, "kwargs", {}) else None


class RolePermission(permissions.DjangoObjectPermissions):
    """`DjangoObjectPermissions` with this project's rule: the permission comes from
    `required_permission` (one per request, not DRF's per-method list), and a global permission
    counts on every object (guardian's backend alone answers for object grants only)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.has_perm(required_permission(request, view)):
            return True  # the object, if any, is still checked by get_object()
        if object_lookup(view) is not None:
            get_object = getattr(view, "get_object", None)
            if get_object is None:
                return False
            # Decided here, before the handler runs: 404 hidden, 403 visible but not allowed.
            get_object()
            return True
        if request.method in permissions.SAFE_METHODS and getattr(view, "lists_viewable_objects", False):
            # A list of the objects delegated to the user; with none at all, they have no access.
            return view.get_queryset().exists()
        return False

    def has_object_permission(self, request, view, obj) -> bool:
        access = object_access(request.user, required_permission(request, view), obj)
        if access == HIDE:
            raise exceptions.NotFound()
        return access == ALLOW
