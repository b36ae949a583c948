"""The provider list's live region (docs/console.md): the same URL asked with
`X-Console-Fragment: list` answers only the chain, the count and the cards, with the page's
filters, access rules and no-store; relative times; the "Recent events" panel."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.template import Context, Template

from audit.events import record_event
from audit.models import AuditEvent
from console.templatetags.reltime import relative_text, reltime
from health.models import HealthCheck
from providers.models import SecretPolicy, Status

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_CONSOLE_FRAGMENT": "list"}


def _card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="card[^"]*"[^>]*data-provider="([^"]+)"', html)


def _chain_ids(html: str) -> list[str]:
    return re.findall(r'<li class="node state-\w+" data-provider="([^"]+)"', html)


@pytest.fixture
def three(provider_factory):
    provider_factory(id="cloud-a", priority=10, secret_policy=SecretPolicy.NONE)
    provider_factory(id="local-b", priority=20, kind="ollama", secret_policy=SecretPolicy.NONE)
    provider_factory(id="local-c", priority=30, kind="ollama", secret_policy=SecretPolicy.NONE)


def test_the_fragment_is_the_live_region_only(client, admin_user, three):
    client.force_login(admin_user)
    page = client.get("/")
    fragment = client.get("/", **FRAGMENT)
    assert page.status_code == fragment.status_code == HTTPStatus.OK
    html = fragment.content.decode()
    # The region: chain, count, cards; the same cards and chain as the page.
    assert html.lstrip().startswith('<div id="provider-list-live" data-live-region>')
    assert 'data-live-part="chain"' in html and 'data-live-part="matches"' in html
    assert 'data-testid="routing-chain"' in html and 'data-testid="match-count"' in html
    assert _card_ids(html) == _card_ids(page.content.decode()) == ["cloud-a", "local-b", "local-c"]
    assert _chain_ids(html) == _chain_ids(page.content.decode())
    # Not the page around it: no document, no top bar, no header buttons, no filter form, no
    # Run all, no recent events, no scripts.
    for absent in ("<html", "data-testid=\"topbar\"", "data-testid=\"new-provider\"", "data-testid=\"list-filters\"",
                   "data-testid=\"run-all-checks\"", "data-testid=\"recent-events\"", "<script"):
        assert absent not in html, absent
    # The same no-store as the page, and a cache told that the header makes another answer.
    assert fragment["Cache-Control"] == page["Cache-Control"] == "no-store"
    assert "X-Console-Fragment" in fragment["Vary"] and "X-Console-Fragment" in page["Vary"]


def test_the_page_marks_its_live_parts_and_loads_the_script(client, viewer_user, three):
    client.force_login(viewer_user)
    html = client.get("/").content.decode()
    assert 'id="provider-list-live"' in html and "data-live-list" in html and "data-live-stream" in html
    assert html.count('data-live-part="chain"') == 1 and html.count('data-live-part="matches"') == 1
    for script in ("js/events.js", "js/provider_list.js", "js/toasts.js", "js/reltime.js"):
        assert f'src="/static/{script}"' in html, script
    # The filter form and the header buttons are outside the parts that are swapped.
    chain_part = html.split('data-live-part="chain"')[1].split("</section>")[0]
    matches_part = html.split('data-live-part="matches"')[1].split("</section>")[0]
    assert "routing-chain" in chain_part and "match-count" in matches_part
    for part in (chain_part, matches_part):
        for outside in ("list-filters", "new-provider", "run-all-checks"):
            assert outside not in part, outside
    # No inline script bodies, no inline handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_the_fragment_keeps_the_filters_of_the_url(client, viewer_user, three):
    client.force_login(viewer_user)
    html = client.get("/?kind=ollama&ordering=-priority", **FRAGMENT).content.decode()
    assert _card_ids(html) == ["local-c", "local-b"]
    assert "2 of 3 providers match" in html
    # The chain is the whole chain, filters or not (it is how requests route).
    assert _chain_ids(html) == ["cloud-a", "local-b", "local-c"]

    html = client.get("/?search=nothing-like-this", **FRAGMENT).content.decode()
    assert _card_ids(html) == [] and "0 of 3 providers match" in html
    assert "No provider matches these filters." in html


def test_a_bad_filter_in_the_fragment_is_a_400_with_every_card(client, viewer_user, three):
    client.force_login(viewer_user)
    response = client.get("/?health=sideways", **FRAGMENT)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _card_ids(response.content.decode()) == ["cloud-a", "local-b", "local-c"]


def test_the_fragment_has_the_page_access_rules(client, outsider_user, three):
    # Signed out: the sign-in redirect, as the page.
    response = client.get("/", **FRAGMENT)
    assert response.status_code == HTTPStatus.FOUND and "/login/" in response["Location"]
    # No role and nothing delegated: 403, as the page.
    client.force_login(outsider_user)
    assert client.get("/", **FRAGMENT).status_code == HTTPStatus.FORBIDDEN
    assert client.get("/").status_code == HTTPStatus.FORBIDDEN


def test_a_delegated_user_gets_their_cards_only_and_no_chain(client, outsider_user, three):
    call_command("delegate", outsider_user.username, "local-b", "--perm", "view", stdout=io.StringIO())
    client.force_login(outsider_user)
    html = client.get("/", **FRAGMENT).content.decode()
    assert _card_ids(html) == ["local-b"]
    assert "routing-chain" not in html and _chain_ids(html) == []
    page = client.get("/").content.decode()
    # The page has no stream for them (the audit log is closed to them) and no recent events.
    assert "data-live-stream" not in page and "recent-events" not in page


def test_the_fragment_follows_changes(client, viewer_user, three, provider_factory):
    client.force_login(viewer_user)
    before = client.get("/", **FRAGMENT).content.decode()
    from providers.models import Provider
    from providers.services import update_provider

    # Through the service, as every change is made: it bumps the row's version, which the
    # routing chain is kept under (console/chaincache.py).
    update_provider(Provider.objects.get(pk="local-c"), {"priority": 1})
    after = client.get("/", **FRAGMENT).content.decode()
    assert _chain_ids(before)[0] == "cloud-a" and _chain_ids(after)[0] == "local-c"
    assert _card_ids(after)[0] == "local-c"


def test_recent_events_are_the_last_ten_masked_for_viewers(client, viewer_user, admin_user, three):
    for i in range(12):
        record_event("provider.updated", provider_id="cloud-a", summary=f"update {i}",
                     payload={"changes": {"metadata": {"before": {}, "after": {"note": f"secret-ish-{i}"}}}})
    newest = AuditEvent.objects.order_by("-id").first()
    client.force_login(viewer_user)
    html = client.get("/").content.decode()
    panel = html.split('data-testid="recent-events"')[1]
    ids = re.findall(r'data-event-id="(\d+)"', panel)
    assert len(ids) == 10 and int(ids[0]) == newest.id
    assert f'data-latest-id="{newest.id}"' in panel and 'data-size="10"' in panel
    assert "update 11" in panel and "update 1<" not in panel
    assert "secret-ish" not in html and "(values masked)" in panel
    assert 'href="/events/"' in panel

    client.force_login(admin_user)
    panel = client.get("/").content.decode().split('data-testid="recent-events"')[1]
    assert "secret-ish-11" in panel and "(values masked)" not in panel


def test_viewers_see_the_list_controls_locked(client, viewer_user, three):
    client.force_login(viewer_user)
    html = client.get("/").content.decode()
    new = re.search(r'<[^>]*data-testid="new-provider"[^>]*>', html).group(0)
    assert new.startswith("<button") and "disabled" in new and 'title="Viewers cannot change providers"' in new
    edit = re.search(r'<a [^>]*data-testid="edit-cloud-a"[^>]*>([^<]*)<', html)
    assert edit.group(1) == "View settings" and 'title="Viewers cannot change providers"' in edit.group(0)


# --- relative times ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "just now"), (0.9, "just now"), (1, "1 s ago"), (12.7, "12 s ago"), (59, "59 s ago"), (60, "1 min ago"),
     (3599, "59 min ago"), (3600, "1 h ago"), (86399, "23 h ago"), (86400, "1 d ago"), (10 * 86400, "10 d ago"),
     (-0.5, "just now"), (-5, "in 5 s"), (-120, "in 2 min")],
)
def test_relative_text(seconds, text):
    assert relative_text(seconds) == text


def test_the_reltime_tag_renders_a_time_with_the_exact_utc_time_on_hover():
    now = datetime(2026, 2, 18, 10, 0, 12, 500000, tzinfo=UTC)
    moment = datetime(2026, 2, 18, 10, 0, 0, tzinfo=UTC)
    assert reltime(moment, "checked", now=now) == (
        '<time datetime="2026-02-18T10:00:00.000000Z" title="2026-02-18 10:00:00 UTC" data-relative '
        'data-prefix="checked">checked 12 s ago</time>'
    )
    assert reltime(None, "checked") == ""
    # Through a template, with the clock of the moment.
    html = Template('{% load reltime %}{% reltime moment "checked" %}').render(
        Context({"moment": datetime.now(UTC) - timedelta(minutes=3, seconds=5)})
    )
    assert re.fullmatch(r'<time datetime="[^"]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC" data-relative '
                        r'data-prefix="checked">checked 3 min ago</time>', html), html


def test_cards_and_chain_say_how_long_ago_a_provider_was_checked(client, viewer_user, provider_factory):
    down = provider_factory(id="down", priority=10, secret_policy=SecretPolicy.NONE, status=Status.UNREACHABLE)
    provider_factory(id="up", priority=20, secret_policy=SecretPolicy.NONE)
    checked = datetime.now(UTC) - timedelta(seconds=42)
    HealthCheck.objects.create(provider=down, checked_at=checked, ok=False, error_code="timeout",
                               error_message="no answer in 300 ms", provider_status="unreachable")
    client.force_login(viewer_user)
    html = client.get("/").content.decode()
    card = html.split('data-provider="down"', 2)[2].split("</article>")[0]
    stamp = checked.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert re.search(rf'<time datetime="[^"]+" title="{stamp}" data-relative data-prefix="checked">checked 4[2-5] s ago</time>', card)
    node = html.split('<li class="node state-skipped" data-provider="down">')[1].split("</li>")[0]
    assert re.search(r'data-prefix="last checked">last checked 4[2-5] s ago</time>', node)
    # A healthy node carries no time; a never-checked card says so.
    up_node = html.split('data-provider="up">')[1].split("</li>")[0]
    assert "<time" not in up_node
    assert "never checked" in html.split('<article class="card" id="provider-up"')[1].split("</article>")[0]
