"""System check: the site does not start without a usable key ring.

Runs with every `manage.py` command that performs system checks (`runserver`, `migrate`,
`check`, …). With `DEBUG` off and `VAULT_KEYS` unset, or with a malformed `VAULT_KEYS`, it is
an Error, so `manage.py runserver` exits before serving. With `DEBUG` on and `VAULT_KEYS`
unset it creates (once) the development key file.
"""

from __future__ import annotations

from django.core.checks import Error, register

from secrets_vault.crypto import KeyRingError, get_key_ring

VAULT_TAG = "vault"


@register(VAULT_TAG)
def check_key_ring(app_configs=None, **kwargs) -> list[Error]:
    try:
        get_key_ring()
    except KeyRingError as exc:
        return [Error(str(exc), hint="See docs/vault.md, 'Configuring the key ring'.", id="secrets_vault.E001")]
    return []
