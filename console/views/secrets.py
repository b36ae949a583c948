"""The Secret panel (spec §4.3): a page of its own, apart from the provider's settings.

Admin only (the vault permission). The value field is write-only: never rendered back, not
even after an error, and `sensitive_post_parameters` keeps it out of error reports. A provider
whose policy is `none` refuses every action ("No secret required", 409); a stored value that
cannot be decrypted is shown inline (409) with the key id and what to do.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.generic import TemplateView

from accounts.permissions import require_page_permission
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


class SecretForm(forms.Form):
    action = forms.ChoiceField(choices=SecretAction.choices, widget=forms.RadioSelect)
    value = forms.CharField(
        required=False,
        strip=False,  # the vault rejects surrounding whitespace rather than silently trimming it
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="For set and rotate. Never shown again.",
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


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class SecretPanelPage(LoginRequiredMixin, TemplateView):
    template_name = "console/secret_panel.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.provider = get_object_or_404(Provider, pk=kwargs["provider_id"])
        require_page_permission(request.user, VAULT_PERMISSION, self.provider)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        provider = self.provider
        context.update(
            provider=provider,
            secret=projection(provider),
            no_secret=provider.secret_policy == SecretPolicy.NONE,
            versions=SecretVersion.objects.history(provider.pk, PRIMARY_FIELD),
        )
        context.setdefault("form", SecretForm())
        return context

    @method_decorator(sensitive_variables("data"))
    def post(self, request, provider_id: str):
        if self.provider.secret_policy == SecretPolicy.NONE:
            # The page says "No secret required"; nothing posted is looked at or rendered back.
            return self.render_to_response(self.get_context_data(), status=409)
        form = SecretForm(request.POST)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = services.apply_action(
                    self.provider,
                    data["action"],
                    value=data.get("value") or None,
                    hint=data.get("secret_id_hint") or None,
                    version=data.get("version"),
                    actor=request.user,
                )
            except services.SecretConflict as exc:
                form.add_error(None, str(exc))
            except crypto.VaultError as exc:
                form.add_error(None, str(exc))
                status = 409
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"{DONE[row.action]} for {self.provider.name} (version {row.version}).")
                return redirect("provider-detail", provider_id=self.provider.pk)
        if "secret_id_hint" in form.errors:
            # A rejected label may be the value pasted in the wrong box: never render it back.
            form.data = form.data.copy()
            form.data["secret_id_hint"] = ""
        return self.render_to_response(self.get_context_data(form=form), status=status)
