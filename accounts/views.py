"""The user's own page: who they are, their role, and their API tokens (issue and revoke)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from accounts.models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="A label to tell tokens apart, e.g. 'ci'.")


class AccountPage(LoginRequiredMixin, TemplateView):
    template_name = "accounts/account.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tokens"] = ApiToken.objects.filter(user=self.request.user)
        context.setdefault("form", TokenForm())
        # A token just issued is shown once, from the session, then forgotten.
        context["new_token"] = self.request.session.pop("new_api_token", None)
        return context

    def post(self, request, *args, **kwargs):
        form = TokenForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        token, raw = ApiToken.issue(request.user, name=form.cleaned_data["name"])
        request.session["new_api_token"] = raw
        messages.success(request, f"Token {token.prefix}… issued. Copy it now: it is not shown again.")
        return redirect("account")


class RevokeTokenView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        if token.revoked_at is None:
            token.revoke()
            messages.success(request, f"Token {token.prefix}… revoked.")
        return redirect("account")
