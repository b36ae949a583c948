"""The edit and create forms opened in the list page's dialog (`?dialog=1`): a save answers
204 with an `HX-Trigger` the list page acts on (toast, card re-rendered in place) and queues no
message for a later page; errors and conflicts re-render the form, still in dialog mode."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from console.tests.test_editing import edit_form, form
from providers.models import Provider
from providers.tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_page(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_dialog_form_carries_dialog_mode_back(admin_page):
    provider = ProviderFactory()
    page = admin_page.get(f"/providers/{provider.id}/edit/?dialog=1").content.decode()
    assert '<input type="hidden" name="dialog" value="1">' in page
    assert 'id="edit-host"' in page
    plain = admin_page.get(f"/providers/{provider.id}/edit/").content.decode()
    assert 'name="dialog"' not in plain


def test_saving_in_the_dialog_answers_204_with_the_trigger_and_no_queued_message(admin_page):
    provider = ProviderFactory(priority=10)
    response = admin_page.post(f"/providers/{provider.id}/edit/", edit_form(provider, priority="33", dialog="1"), **HTMX)
    assert response.status_code == HTTPStatus.NO_CONTENT
    trigger = json.loads(response["HX-Trigger"])["console:provider-saved"]
    assert trigger == {"message": f"Saved {Provider.objects.get(pk=provider.id)} (version 2).", "provider_id": provider.id}
    assert Provider.objects.get(pk=provider.id).priority == 33
    assert list(get_messages(response.wsgi_request)) == []


def test_creating_in_the_dialog_answers_204_with_the_new_id(admin_page):
    response = admin_page.post("/new-provider/", form(dialog="1"), **HTMX)
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert json.loads(response["HX-Trigger"])["console:provider-saved"]["provider_id"] == "ollama-local"


def test_an_error_in_the_dialog_re_renders_the_form_in_dialog_mode(admin_page):
    provider = ProviderFactory()
    response = admin_page.post(f"/providers/{provider.id}/edit/", edit_form(provider, priority="-4", dialog="1"), **HTMX)
    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK  # htmx swaps 200; the errors are inline
    assert 'data-testid="error-priority"' in page
    assert '<input type="hidden" name="dialog" value="1">' in page


def test_a_plain_save_still_redirects_with_a_message(admin_page):
    provider = ProviderFactory()
    response = admin_page.post(f"/providers/{provider.id}/edit/", edit_form(provider, priority="44"))
    assert response.status_code == HTTPStatus.FOUND
    assert [str(m) for m in get_messages(response.wsgi_request)][0].startswith("Saved ")
