"""ASGI entry point served by daphne: HTTP through Django, the event websocket through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models.
django.setup(set_prefix=False)

from core.handler import OneHopASGIHandler  # noqa: E402

# The middleware and the view in one thread hop per request (core/handler.py).
django_asgi_app = OneHopASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from audit.origin import SameOriginValidator  # noqa: E402
from audit.routing import websocket_urlpatterns  # noqa: E402
from audit.wsauth import SessionUserMiddleware  # noqa: E402
from core.accesslog import WebsocketAccessLog  # noqa: E402
from secrets_vault.crypto import get_key_ring  # noqa: E402

# A server started straight on this module (daphne config.asgi:application) runs no system
# checks, so the vault's own rule is applied here: no key ring, no site (with DEBUG on this
# creates the development key file instead).
get_key_ring()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # An access line per handshake and per close (core/accesslog.py), then same origin only
        # (scheme, host and port; or CSRF_TRUSTED_ORIGINS), then the session's user (read for all
        # waiting handshakes at once: audit/wsauth.py), then the route.
        "websocket": WebsocketAccessLog(SameOriginValidator(SessionUserMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)
