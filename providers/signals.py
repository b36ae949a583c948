"""How other apps take part in a provider change without `providers` importing them.

`provider_changing` is sent by `services.update_provider` inside its transaction, with the row
locked, the changes applied and validated, and nothing saved yet; and by
`services.check_update` (no transaction, nothing written) so a form can show a refusal before
it saves. Keyword arguments:

- `provider`: the Provider as it will be saved (do not save it);
- `before`: the audited fields as they were (`services.AUDITED_FIELDS` → value);
- `changed`: the names of the audited fields that change;
- `actor`: the user making the change, or None for the system;
- `check_only`: True when nothing may be written.

A receiver refuses the change by raising `ChangeRefused` (403 on the API, a form error on a
page or in the Django admin) or `ChangeConflict` (409). With `check_only` False it may write
its own rows; they commit or roll back with the provider's.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.dispatch import Signal

provider_changing = Signal()


class ChangeRefused(PermissionDenied):
    """The actor may not make this change (HTTP 403); the message says why and what to do."""


class ChangeConflict(Exception):
    """The change cannot be carried out in the current state (HTTP 409); nothing was changed."""
