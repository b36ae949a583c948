"""The user's own page: who they are, their role, and their API tokens (issue and revoke)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect, render
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
        return context

    def post(self, request, *args, **kwargs):
        form = TokenForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        _, raw = ApiToken.issue(request.user, name=form.cleaned_data["name"])
        # Shown once, in the answer to this POST only: never put in the session or a message,
        # which would keep it server-side (or in a cookie) until the next page is read.
        return self.render_to_response(self.get_context_data(new_token=raw))


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a user name has failed too often from this address: the sign-in
    page again, with what happened and what to do, as 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"locked_out": True, "cooloff_minutes": minutes, "form": AuthenticationForm(request)}
    return render(request, "accounts/login.html", context, status=429)


class RevokeTokenView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        if token.revoked_at is None:
            token.revoke()
            messages.success(request, f"Token {token.prefix}… revoked.")
        return redirect("account")
