"""A user's model permissions, their own and their groups', read in one query.

Django's ModelBackend reads them in two (the user's permissions, then their groups'), each
built by the ORM, on every request: the user object is loaded afresh for each one, and the
permissions are kept on it only for that request. An API request with a token needs them at
once (the access rule, then who may see metadata), so the token authentication reads them
here, in one plain query, and leaves them where ModelBackend looks first (`_perm_cache`, the
set `get_all_permissions` keeps on the user; the same strings, "app_label.codename"). Nothing
is kept past the request: a role or permission changed a moment ago is in the next request's
set. Superusers and inactive users are left to ModelBackend (every permission; none).
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection


@cache
def _query() -> str:
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta
    member = user_model.groups.through._meta
    granted = Group.permissions.through._meta

    def column(meta, field: str) -> str:
        return connection.ops.quote_name(meta.get_field(field).column)

    def table(meta) -> str:
        return connection.ops.quote_name(meta.db_table)

    return (
        f"SELECT ct.{connection.ops.quote_name('app_label')}, p.{connection.ops.quote_name('codename')} "
        f"FROM {table(Permission._meta)} p JOIN {table(ContentType._meta)} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN ("
        f"SELECT {column(own, 'permission')} FROM {table(own)} WHERE {column(own, 'user')} = %s "
        f"UNION SELECT g.{column(granted, 'permission')} FROM {table(granted)} g "
        f"JOIN {table(member)} m ON m.{column(member, 'group')} = g.{column(granted, 'group')} "
        f"WHERE m.{column(member, 'user')} = %s)"
    )


def permissions_of(user) -> set[str]:
    """Every "app_label.codename" the user holds directly or through a group (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(_query(), [user.pk, user.pk])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


def load_permissions(user) -> None:
    """Reads the user's permissions now, in one query, for the rest of this request."""
    if user.is_active and not user.is_superuser and not hasattr(user, "_perm_cache"):
        user._perm_cache = permissions_of(user)
