"""One permission class for the whole API (NetBox's pattern).

Safe methods need `view_*`, unsafe ones `add_*` / `change_*` / `delete_*` of the view's model,
unless the view names its own permission with `required_permission(request)`. A global
permission (from the user's groups) is enough everywhere; otherwise a django-guardian object
permission on the object is checked. Objects the user may not even view are 404, not 403.
"""

from __future__ import annotations

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
        user = request.user
        perm = required_permission(request, view)
        if user.has_perm(perm) or has_object_grant(user, perm, obj):
            return True
        view_perm = view_permission_for(obj)
        if not (user.has_perm(view_perm) or has_object_grant(user, view_perm, obj)):
            raise exceptions.NotFound()
        return False
