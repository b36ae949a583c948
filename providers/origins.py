"""The origin of an endpoint: scheme, host and port, the unit a credential is bound to.

`https://API.example.com/v1` and `https://api.example.com:443/v2` share the origin
`https://api.example.com:443`; `http://api.example.com/v1` and `https://api.example.com:8443/v1`
do not. A stored secret is sent only to the origin it was set for (docs/vault.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_origin(url: str) -> str:
    """`scheme://host:port` with the default port written out; "" when `url` has no usable origin."""
    try:
        parts = urlsplit(url or "")
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # an out-of-range or non-numeric port
        return ""
    if not scheme or not host or port is None:
        return ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"
