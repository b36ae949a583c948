"""The Secret panel (spec §4.3): apart from the provider's settings, as a page of its own and as
the body of a dialog on the provider list.

Admin only (the vault permission). The value field is write-only: never rendered back, not
even after an error, and `sensitive_post_parameters` keeps it out of error reports. A provider
whose policy is `none` refuses every action ("No secret required", 409); a stored value that
cannot be decrypted is shown inline (409) with the key id and what to do; an action that does
not fit the secret's state (rotate with none stored, restore the current version) is a 409
too, as in the API; bad input is a 400 with the field and the reason.

Two ways in:

- the page, `/providers/<id>/secret/`: forms post back to it; after an action it redirects to
  a safe `next` (the page it came from) or the provider's page, with a message;
- the dialog: the list's script (`static/js/secret_panel.js`) asks with `HX-Request: true` and
  gets the panel's body alone (`_secret_panel_body.html`); a post answers JSON on success
  (`{"message": ..., "version": ..., "security_html": the card's new Security section,
  "last_error_html": its last check error as it reads now}`) and the body with its inline
  errors otherwise.

Clear asks first: a `clear` without `confirm=clear` changes nothing and answers the panel with
the confirmation step ("Yes, clear the secret"), on the page and in the dialog alike.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.generic import TemplateView

from accounts.permissions import require_page_permission
from console import cards as card_html
from console.pageurls import ProviderUrls
from health import metrics
from providers.models import Provider, SecretPolicy
from secrets_vault import crypto, services
from secrets_vault.api import projection
from secrets_vault.models import PRIMARY_FIELD, SecretAction, SecretVersion

VAULT_PERMISSION = "secrets_vault.manage_secrets"
DONE = {
    SecretAction.SET: "Secret set",
    SecretAction.ROTATE: "Secret rotated",
    SecretAction.CLEAR: "Secret cleared",
    SecretAction.RESTORE: "Secret restored",
}
CONFIRM_CLEAR = "clear"
# How many versions the panel lists (newest first); older ones stay in the API's history.
RECENT_VERSIONS = 20


class SecretForm(forms.Form):
    action = forms.ChoiceField(choices=SecretAction.choices)
    value = forms.CharField(
        required=False,
        strip=False,  # the vault rejects surrounding whitespace rather than silently trimming it
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Never shown again, not even here.",
    )
    secret_id_hint = forms.CharField(
        required=False, max_length=services.HINT_MAX_LENGTH, label="Label",
        help_text="A name to recognise this secret by, e.g. prod-key-feb. Never the value.",
    )
    version = forms.IntegerField(required=False, min_value=1, help_text="For restore: the version to bring back.")

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in (SecretAction.SET, SecretAction.ROTATE) and not data.get("value"):
            self.add_error("value", f"Enter the new value to {action} the secret.")
        if action == SecretAction.RESTORE and not data.get("version"):
            self.add_error("version", "Pick the version to restore.")
        return data


def restorable(version: SecretVersion, now) -> bool:
    """Whether `restore` would accept this version (the vault's own rules, checked again there)."""
    if not version.holds_value or version.is_current or version.is_purged:
        return False
    return version.superseded_at is None or version.superseded_at >= now - services.retention()


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class SecretPanelPage(LoginRequiredMixin, TemplateView):
    template_name = "console/secret_panel.html"
    fragment_template_name = "console/_secret_panel_body.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.provider = get_object_or_404(Provider, pk=kwargs["provider_id"])
        require_page_permission(request.user, VAULT_PERMISSION, self.provider)
        return super().dispatch(request, *args, **kwargs)

    @property
    def fragment(self) -> bool:
        return bool(getattr(self.request, "htmx", False))

    def get_template_names(self):
        return [self.fragment_template_name if self.fragment else self.template_name]

    def safe_next(self) -> str:
        """Where to go after an action: the `next` given, if it is a path on this site."""
        candidate = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ) and candidate.startswith("/") and not candidate.startswith("//"):
            return candidate
        return ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        provider = self.provider
        now = timezone.now()
        versions = list(SecretVersion.objects.history(provider.pk, PRIMARY_FIELD)[:RECENT_VERSIONS])
        for version in versions:
            version.restorable = restorable(version, now)
        secret = projection(provider)
        context.update(
            provider=provider,
            secret=secret,
            no_secret=provider.secret_policy == SecretPolicy.NONE,
            versions=versions,
            fragment=self.fragment,
            next=self.safe_next(),
            panel_url=reverse("provider-secret-page", args=[provider.pk]),
            value_action=SecretAction.ROTATE if secret["secret_present"] else SecretAction.SET,
        )
        # A rotate keeps the label unless the operator changes it (the label is no secret).
        context.setdefault("form", SecretForm(initial={"secret_id_hint": secret["secret_id_hint"] or ""}))
        context.setdefault("confirm_clear", False)
        return context

    @method_decorator(sensitive_variables("data"))
    def post(self, request, provider_id: str):
        if self.provider.secret_policy == SecretPolicy.NONE:
            # The panel says "No secret required"; nothing posted is looked at or rendered back.
            return self.render_to_response(self.get_context_data(), status=409)
        form = SecretForm(request.POST)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            if data["action"] == SecretAction.CLEAR and request.POST.get("confirm") != CONFIRM_CLEAR:
                # The confirmation step: nothing changes until the operator says yes.
                return self.render_to_response(self.get_context_data(confirm_clear=True))
            try:
                row = services.apply_action(
                    self.provider,
                    data["action"],
                    value=data.get("value") or None,
                    hint=data.get("secret_id_hint") or None,
                    version=data.get("version"),
                    actor=request.user,
                )
            except (services.SecretConflict, crypto.VaultError) as exc:
                form.add_error(None, str(exc))
                status = 409
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return self.done(row)
        if "secret_id_hint" in form.errors:
            # A rejected label may be the value pasted in the wrong box: never render it back.
            form.data = form.data.copy()
            form.data["secret_id_hint"] = ""
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def card_security(self) -> str:
        """The card's Security section as the list renders it, for the dialog to swap in at once
        (the list's own refresh follows with the chain and the rest of the card)."""
        provider = self.provider
        card = {"provider": provider, "secret": projection(provider), "urls": ProviderUrls()(provider.pk)}
        can = {"secrets": self.request.user.has_perm(VAULT_PERMISSION)}  # as the list works it out
        return card_html.security_section(card, can)

    def last_error(self) -> str:
        """The card's last check error as it reads now (a `missing_secret` older than the stored
        secret says so), or "" when the last check did not fail."""
        health = metrics.for_provider(self.provider.pk)
        if not health.get("last_error_code"):
            return ""
        return card_html.last_error(health, projection(self.provider))

    def done(self, row: SecretVersion):
        text = f"{DONE[row.action]} for {self.provider.name} (version {row.version})."
        if self.fragment:
            return JsonResponse({"message": text, "action": row.action, "version": row.version,
                                 "provider_id": self.provider.pk, "security_html": self.card_security(),
                                 "last_error_html": self.last_error()})
        messages.success(self.request, text)
        return redirect(self.safe_next() or reverse("provider-detail", args=[self.provider.pk]))
