"""Failed sign-ins in the audit log (`auth.login_failed`).

Connected to Django's `user_login_failed` signal, which every refused `authenticate()` sends
(wrong password, unknown user name, or refused by django-axes after too many failures). The
row keeps the user name tried and the client address in its payload (masked for viewers);
Django has already replaced the password in `credentials`, and nothing here reads it.
"""

from __future__ import annotations

from audit.events import record_event

USERNAME_MAX = 150


def record_login_failure(sender, credentials: dict, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:USERNAME_MAX]
    address = getattr(request, "axes_ip_address", None) or (request.META.get("REMOTE_ADDR") if request else None)
    locked_out = bool(getattr(request, "axes_locked_out", False))
    record_event(
        "auth.login_failed",
        actor="anonymous",
        # The summary is read by viewers in clear: the user name and address stay in the payload.
        summary="Sign-in refused: too many failures, locked out" if locked_out else "Sign-in refused",
        payload={"username": username, "address": address, "locked_out": locked_out},
    )
