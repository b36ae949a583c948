"""The URLs of each provider's pages, for pages that list many providers.

`{% url %}` costs one `reverse()` a link (tens of microseconds); the list page has four links a
card and one a chain node, so at 1,000 providers reversing was most of the page's time. Here each
name is reversed once per request, with a placeholder id, and each provider's URL is the
placeholder replaced: the same URL `reverse()` gives, since a provider id is only lowercase
letters, digits, '-' and '_' (`providers.validators.validate_provider_id`), which need no quoting.
`console/tests/test_list_page_queries.py` checks both agree.
"""

from __future__ import annotations

from django.urls import reverse

# key in a card's `urls` → URL name (console/urls.py)
PROVIDER_PAGES = {
    "detail": "provider-detail",
    "edit": "console-provider-edit",
    "test": "provider-test-page",
    "secret": "provider-secret-page",
}
PLACEHOLDER = "provider-id-placeholder"


class ProviderUrls:
    """`ProviderUrls()(provider_id)` → {"detail": "/providers/<id>/", "edit": …, "test": …, "secret": …,
    "secret_from_list": the secret panel with `?next=` the list}."""

    def __init__(self) -> None:
        self._patterns = {key: reverse(name, args=[PLACEHOLDER]) for key, name in PROVIDER_PAGES.items()}
        # The secret panel opened from the list comes back to it.
        self._patterns["secret_from_list"] = f"{self._patterns['secret']}?next={reverse('provider-list')}"

    def __call__(self, provider_id: str) -> dict[str, str]:
        return {key: pattern.replace(PLACEHOLDER, provider_id) for key, pattern in self._patterns.items()}

    def detail(self, provider_id: str) -> str:
        return self._patterns["detail"].replace(PLACEHOLDER, provider_id)
