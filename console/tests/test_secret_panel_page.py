"""The Secret panel: admin-only, write-only value, inline errors, nothing echoed; its body as a
fragment for the list's dialog (JSON on success, the body with errors otherwise), clear only
after an explicit confirmation, and the card's Security section with the Secret action."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from http import HTTPStatus

import pytest

from audit.models import AuditEvent
from health.runner import run_checks
from secrets_vault import api as vault

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_HX_REQUEST": "true"}


class Canary(str):
    """A secret value whose repr never shows it, so no failing assertion prints it."""

    def __repr__(self) -> str:
        return "<canary>"


@pytest.fixture
def canary() -> Canary:
    return Canary("canary-" + secrets.token_hex(12))


def leaked(canary: str, response) -> bool:
    """Whether the canary is in the response; pass the response (its repr is safe), not its text."""
    return canary in response.content.decode() or any(canary in value for _, value in response.items())


def digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def password_inputs(text: str) -> list[str]:
    return re.findall(r"<input[^>]*name=\"value\"[^>]*>", text)


def test_admin_sets_then_rotates_through_the_form_and_never_sees_the_value(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1")
    client.force_login(admin_user)
    page = client.get("/providers/p1/secret/")
    assert page.status_code == HTTPStatus.OK
    response = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "prod-key"}, follow=True)
    assert "Secret set for p1 (version 1)" in response.content.decode()
    assert not leaked(canary, response)
    assert vault.projection(provider)["secret_present"] is True
    assert digest(vault.get_credential(provider)) == digest(canary)

    rotated = Canary("rotated-" + canary)
    response = client.post("/providers/p1/secret/", {"action": "rotate", "value": rotated}, follow=True)
    assert "Secret rotated for p1 (version 2)" in response.content.decode()
    assert digest(vault.get_credential(provider)) == digest(rotated)
    panel = client.get("/providers/p1/secret/")
    assert not leaked(canary, panel)
    assert 'data-testid="versions"' in panel.content.decode() and "prod-key" in panel.content.decode()
    assert list(AuditEvent.objects.values_list("event", flat=True).order_by("id")) == ["secret.updated", "secret.updated"]


def test_the_value_box_is_a_password_input_never_filled_in(client, admin_user, provider_factory, canary):
    provider_factory(id="p1")
    client.force_login(admin_user)
    for response in (client.get("/providers/p1/secret/"), client.get("/providers/p1/secret/", **FRAGMENT),
                     client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "x" * 65}),
                     client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "x" * 65}, **FRAGMENT)):
        [box] = password_inputs(response.content.decode())
        assert 'type="password"' in box and 'autocomplete="off"' in box and "value=" not in box
        assert not leaked(canary, response)


def test_errors_are_inline_and_the_value_is_not_rendered_back(client, admin_user, provider_factory, canary):
    provider_factory(id="p1")
    client.force_login(admin_user)
    missing = client.post("/providers/p1/secret/", {"action": "rotate", "value": canary})
    # A state conflict is a 409, as in the API, shown inline.
    assert missing.status_code == HTTPStatus.CONFLICT
    assert "No secret is set" in missing.content.decode() and 'role="alert"' in missing.content.decode()
    assert not leaked(canary, missing)
    empty = client.post("/providers/p1/secret/", {"action": "set"})
    assert empty.status_code == HTTPStatus.BAD_REQUEST
    assert 'data-testid="error-value"' in empty.content.decode()
    spaced = client.post("/providers/p1/secret/", {"action": "set", "value": f" {canary} "})
    assert spaced.status_code == HTTPStatus.BAD_REQUEST
    assert "whitespace" in spaced.content.decode()
    assert not leaked(canary, spaced)
    hint = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": canary})
    assert 'data-testid="error-secret_id_hint"' in hint.content.decode()
    assert not leaked(canary, hint)
    bogus = client.post("/providers/p1/secret/", {"action": "bogus"})
    assert bogus.status_code == HTTPStatus.BAD_REQUEST and 'data-testid="error-action"' in bogus.content.decode()
    no_version = client.post("/providers/p1/secret/", {"action": "restore"})
    assert no_version.status_code == HTTPStatus.BAD_REQUEST
    assert "Pick the version to restore" in no_version.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_fragment_is_the_panel_body_alone(client, admin_user, provider_factory):
    provider_factory(id="p1", display_name="Prod one")
    client.force_login(admin_user)
    response = client.get("/providers/p1/secret/", **FRAGMENT)
    text = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "<html" not in text and 'data-testid="role-badge"' not in text
    assert 'data-secret-panel="/providers/p1/secret/"' in text and 'id="secret-panel-title"' in text
    assert 'data-testid="secret-submit"' in text and ">Set secret<" in text
    assert 'data-testid="secret-clear"' not in text  # nothing to clear yet
    page = client.get("/providers/p1/secret/").content.decode()
    assert "<html" in page and "<h1>Secret of Prod one</h1>" in page


def test_the_fragment_answers_json_on_success_and_the_body_with_errors(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1")
    client.force_login(admin_user)
    responses = []

    done = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "feb"}, **FRAGMENT)
    responses.append(done)
    assert done.status_code == HTTPStatus.OK and done["Content-Type"] == "application/json"
    answer = json.loads(done.content)
    security = answer.pop("security_html")
    assert answer.pop("last_error_html") == ""  # never checked: no error to restate
    assert answer == {"message": "Secret set for p1 (version 1).", "action": "set", "version": 1, "provider_id": "p1"}
    # The card's new Security section, as the list renders it, for the dialog to swap in at once.
    assert security.strip().startswith('<div class="security" data-testid="security-p1">')
    assert 'data-secret-state="present"' in security and "feb" in security and "v1" in security
    assert 'data-secret-open="/providers/p1/secret/"' in security
    listed = client.get("/").content.decode()
    start = listed.index('<div class="security" data-testid="security-p1">')
    assert listed[start:listed.index("</div>", start) + len("</div>")] == security.strip()

    again = client.post("/providers/p1/secret/", {"action": "set", "value": canary}, **FRAGMENT)
    responses.append(again)
    assert again.status_code == HTTPStatus.CONFLICT and again["Content-Type"].startswith("text/html")
    assert "A secret is already set" in again.content.decode() and "<html" not in again.content.decode()

    bad = client.post("/providers/p1/secret/", {"action": "rotate", "value": canary[:9] + "\n" + canary[9:]}, **FRAGMENT)
    responses.append(bad)
    assert bad.status_code == HTTPStatus.BAD_REQUEST and 'data-testid="error-value"' in bad.content.decode()
    assert "a line break" in bad.content.decode()

    rotated = Canary("r-" + canary)
    done = client.post("/providers/p1/secret/", {"action": "rotate", "value": rotated}, **FRAGMENT)
    responses.append(done)
    assert json.loads(done.content)["message"] == "Secret rotated for p1 (version 2)."
    assert digest(vault.get_credential(provider)) == digest(rotated)
    responses.append(client.get("/providers/p1/secret/", **FRAGMENT))
    responses.append(client.get("/"))
    responses.append(client.get("/providers/p1/"))
    responses.append(client.get("/api/events"))
    assert not any(leaked(canary, r) or leaked(rotated, r) for r in responses)
    # After a rotate the panel offers version 1 back.
    assert 'data-testid="restore-1"' in responses[4].content.decode()
    assert ">Rotate secret<" in responses[4].content.decode()


def test_clear_asks_for_confirmation_first(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1", display_name="Prod one")
    client.force_login(admin_user)
    client.post("/providers/p1/secret/", {"action": "set", "value": canary})
    for extra in ({}, FRAGMENT):
        step = client.post("/providers/p1/secret/", {"action": "clear"}, **extra)
        text = step.content.decode()
        assert step.status_code == HTTPStatus.OK
        assert 'data-testid="confirm-clear-step"' in text and "Clear the secret of Prod one?" in text
        assert 'name="confirm" value="clear"' in text and "Yes, clear the secret" in text
        assert vault.projection(provider)["secret_present"] is True
    assert client.post("/providers/p1/secret/", {"action": "clear", "confirm": "yes please"}).status_code == HTTPStatus.OK
    assert vault.projection(provider)["secret_present"] is True
    done = client.post("/providers/p1/secret/", {"action": "clear", "confirm": "clear"}, **FRAGMENT)
    assert json.loads(done.content)["message"] == "Secret cleared for p1 (version 2)."
    assert vault.get_credential(provider) is None


def test_policy_none_shows_disabled_actions_with_an_inline_message(client, admin_user, provider_factory):
    provider_factory(id="local", kind="ollama")
    client.force_login(admin_user)
    page = client.get("/providers/local/secret/").content.decode()
    assert 'data-testid="no-secret"' in page and "No secret required" in page
    assert "<fieldset disabled" in page and 'name="value"' not in page
    response = client.post("/providers/local/secret/", {"action": "set", "value": "x-value-1"})
    assert response.status_code == HTTPStatus.CONFLICT
    assert "No secret required" in response.content.decode()
    # Whatever else is wrong with the form: the policy answers first, in the dialog too.
    for body in ({"action": "bogus"}, {}, {"action": "set", "value": " spaced\r\n"}, {"action": "clear", "confirm": "clear"}):
        for extra in ({}, FRAGMENT):
            response = client.post("/providers/local/secret/", body, **extra)
            assert response.status_code == HTTPStatus.CONFLICT
            assert "No secret required" in response.content.decode()
    detail = client.get("/providers/local/").content.decode()
    assert "No secret required" in detail and 'data-testid="manage-secret"' not in detail
    card = client.get("/").content.decode()
    button = re.search(r"<button[^>]*data-testid=\"secret-local\"[^>]*>", card).group(0)
    assert "disabled" in button and 'title="No secret required"' in button


def test_viewers_and_strangers_cannot_reach_the_panel(client, viewer_user, outsider_user, provider_factory):
    provider_factory(id="p1")
    assert client.get("/providers/p1/secret/")["Location"].startswith("/login/")
    client.force_login(viewer_user)
    assert client.get("/providers/p1/secret/").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/providers/p1/secret/", **FRAGMENT).status_code == HTTPStatus.FORBIDDEN
    assert client.post("/providers/p1/secret/", {"action": "set", "value": "v-123"}).status_code == HTTPStatus.FORBIDDEN
    assert client.post("/providers/p1/secret/", {"action": "set", "value": "v-123"}, **FRAGMENT).status_code == HTTPStatus.FORBIDDEN
    assert 'data-testid="manage-secret"' not in client.get("/providers/p1/").content.decode()
    # The card's Secret action is there, locked, with the reason.
    card = client.get("/").content.decode()
    button = re.search(r"<button[^>]*data-testid=\"secret-p1\"[^>]*>", card).group(0)
    assert "disabled" in button and 'title="Viewers cannot change providers"' in button
    assert "data-secret-open" not in card
    client.force_login(outsider_user)
    assert client.get("/providers/p1/secret/").status_code == HTTPStatus.NOT_FOUND
    assert not AuditEvent.objects.exists()


def test_restore_an_earlier_version_from_the_panel(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1")
    client.force_login(admin_user)
    client.post("/providers/p1/secret/", {"action": "set", "value": canary})
    client.post("/providers/p1/secret/", {"action": "clear", "confirm": "clear"})
    assert vault.get_credential(provider) is None
    panel = client.get("/providers/p1/secret/").content.decode()
    assert 'data-testid="restore-1"' in panel and 'data-testid="restore-2"' not in panel  # a clear holds no value
    response = client.post("/providers/p1/secret/", {"action": "restore", "version": "1"}, follow=True)
    assert "Secret restored for p1 (version 3)" in response.content.decode()
    assert digest(vault.get_credential(provider)) == digest(canary)
    current = client.post("/providers/p1/secret/", {"action": "restore", "version": "3"})
    assert current.status_code == HTTPStatus.CONFLICT and "already the current secret" in current.content.decode()


def test_after_an_action_the_page_goes_back_to_a_safe_next_only(client, admin_user, provider_factory, canary):
    provider_factory(id="p1")
    client.force_login(admin_user)
    page = client.get("/providers/p1/secret/?next=/%3Fkind%3Dopenai_compatible").content.decode()
    assert 'name="next" value="/?kind=openai_compatible"' in page
    done = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "next": "/?kind=openai_compatible"})
    assert done.status_code == HTTPStatus.FOUND and done["Location"] == "/?kind=openai_compatible"
    for unsafe in ("https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)", "http://testserver/"):
        done = client.post("/providers/p1/secret/", {"action": "rotate", "value": canary + "x", "next": unsafe})
        assert done.status_code == HTTPStatus.FOUND and done["Location"] == "/providers/p1/", unsafe
        assert unsafe not in client.get(f"/providers/p1/secret/?next={unsafe}").content.decode()


def test_the_card_shows_the_secret_state_and_the_secret_action(client, admin_user, provider_factory, canary):
    provider_factory(id="p1", secret_policy="required")
    provider_factory(id="p2", secret_policy="optional")
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert 'data-secret-state="missing"' in page and 'data-secret-state="absent"' in page
    assert 'data-secret-open="/providers/p1/secret/"' in page and 'data-testid="secret-p1"' in page
    assert "js/secret_panel.js" in page
    client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "prod-key-feb"})
    section = client.get("/").content.decode().split('data-testid="security-p1"')[1].split("</div>")[0]
    assert 'data-secret-state="present"' in section and "prod-key-feb" in section and "v1" in section
    # A relative time like the card's other times: right when drawn, then kept fresh by reltime.js.
    assert re.search(r'<time datetime="[^"]+Z" title="[^"]+ UTC" data-relative data-prefix="rotated">rotated (just now|\d+ s ago)</time>', section)


def test_a_stale_missing_secret_error_says_a_secret_was_stored_since(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1", secret_policy="required", endpoint="http://127.0.0.1:9/v1")
    [check] = run_checks([provider]).checks
    assert check.error_code == "missing_secret"
    client.force_login(admin_user)

    def last_errors() -> list[str]:
        """The card's status section and the provider page's last check (event rows aside)."""
        card = client.get("/").content.decode().split('id="provider-p1"')[1].split("</article>")[0]
        detail = client.get("/providers/p1/").content.decode().split('data-testid="health"')[1].split("</dl>")[0]
        return [card, detail]

    for text in last_errors():
        assert "none is stored" in text and 'data-testid="stale-error"' not in text
    done = client.post("/providers/p1/secret/", {"action": "set", "value": canary}, **FRAGMENT)
    # The dialog gets the error as it reads now, to swap into the card at once.
    last_error = json.loads(done.content)["last_error_html"]
    assert 'data-testid="stale-error"' in last_error and "none is stored" not in last_error
    assert not leaked(canary, done)
    for text in last_errors():
        assert "none is stored" not in text
        assert 'data-testid="stale-error"' in text and "after this check" in text and "the next Test will use it" in text
