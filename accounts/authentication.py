from __future__ import annotations

from datetime import timedelta
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.sql import Query
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, digest_token
from accounts.permsets import load_permissions

# Touching last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@cache
def _token_query(vendor: str) -> tuple[str, list, list]:
    """The SQL of `ApiToken.objects.active().select_related("user").filter(digest=...)`, and the
    token's and the user's fields in its columns' order."""
    user_model = get_user_model()
    token_fields, user_fields = list(ApiToken._meta.concrete_fields), list(user_model._meta.concrete_fields)
    quote = connection.ops.quote_name

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    selected = [f"t.{quote(f.column)}" for f in token_fields] + [f"u.{quote(f.column)}" for f in user_fields]
    sql = (
        f"SELECT {', '.join(selected)} FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(user_model._meta.db_table)} u ON u.{quote(user_model._meta.pk.column)} = t.{column(ApiToken, 'user')} "
        f"WHERE t.{column(ApiToken, 'digest')} = %s AND t.{column(ApiToken, 'revoked_at')} IS NULL"
    )
    return sql, token_fields, user_fields


def active_token(digest: str) -> ApiToken | None:
    """The unrevoked token with this digest, its user loaded with it; None when there is none.

    Every API request asks this. The ORM built and compiled the same query each time (about
    1-2 ms of Python, most of an API request's database cost); here the SQL is written once per
    process and the rows go through the database's own converters (dates on SQLite, time zones)
    into the same model objects the ORM gives."""
    sql, token_fields, user_fields = _token_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    compiler = Query(ApiToken).get_compiler(connection=connection)
    converters = compiler.get_converters([f.get_col("t") for f in token_fields] + [f.get_col("u") for f in user_fields])
    if converters:
        row = next(iter(compiler.apply_converters([row], converters)))
    split = len(token_fields)
    token = ApiToken.from_db(connection.alias, [f.attname for f in token_fields], row[:split])
    token.user = get_user_model().from_db(connection.alias, [f.attname for f in user_fields], row[split:])
    return token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`, looked up by digest."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = active_token(digest_token(raw))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # Every API request asks what the user may do: one query instead of ModelBackend's two.
        load_permissions(token.user)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
