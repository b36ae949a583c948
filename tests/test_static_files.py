"""Static files served by the site itself (WhiteNoise), as daphne runs it with DEBUG off.

Production (`STATIC_MANIFEST` on, the default with DEBUG off): `collectstatic` writes hashed
names and gzip copies, pages link the hashed names, and those are cached for a year and sent
compressed to a client that asks. The tests' own sites (`STATIC_MANIFEST=false`) serve the
apps' files as they are, with nothing collected.
"""

from __future__ import annotations

import gzip
import re
from http import HTTPStatus

import pytest
import requests

from tests.site_process import site_process

HASHED_SITE_CSS = re.compile(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"')


def get(url: str, **headers: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, headers=headers, timeout=10, stream=True)


@pytest.fixture(scope="module")
def production_site():
    with site_process(start=False, env={"STATIC_MANIFEST": "true"}) as site:
        site.manage("collectstatic", "--noinput", timeout=300)
        yield site.start()


def test_collectstatic_writes_hashed_names_and_gzip_copies(production_site):
    css = production_site.var_dir / "static" / "css"
    hashed = [path.name for path in css.glob("site.*.css")]
    assert hashed and all(re.fullmatch(r"site\.[0-9a-f]{12}\.css", name) for name in hashed), hashed
    assert (css / f"{hashed[0]}.gz").is_file()
    assert (production_site.var_dir / "static" / "staticfiles.json").is_file()


def test_a_page_links_the_hashed_name_served_for_a_year_and_gzipped_on_request(production_site):
    page = get(production_site.url + "/login/")
    assert page.status_code == HTTPStatus.OK
    html = page.text
    assert 'href="/static/css/site.css"' not in html
    path = HASHED_SITE_CSS.search(html).group(1)

    compressed = get(production_site.url + path, **{"Accept-Encoding": "gzip"})
    assert compressed.status_code == HTTPStatus.OK
    assert compressed.headers["Content-Encoding"] == "gzip"
    cache_control = compressed.headers["Cache-Control"]
    assert "immutable" in cache_control and "max-age=315360000" in cache_control
    assert "no-store" not in cache_control
    body = gzip.decompress(compressed.raw.read())
    assert b"{" in body  # CSS, decompressed

    plain = get(production_site.url + path, **{"Accept-Encoding": "identity"})
    assert plain.status_code == HTTPStatus.OK
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Content-Type"].startswith("text/css")


def test_every_static_link_on_a_page_resolves(production_site):
    html = get(production_site.url + "/login/").text
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert links
    for link in links:
        assert get(production_site.url + link).status_code == HTTPStatus.OK, link


def test_the_tests_sites_serve_the_apps_static_files_without_collecting():
    with site_process() as site:
        assert not (site.var_dir / "static").exists()
        html = get(site.url + "/login/").text
        assert 'href="/static/css/site.css"' in html
        css = get(site.url + "/static/css/site.css")
        assert css.status_code == HTTPStatus.OK
        assert css.headers["Content-Type"].startswith("text/css")
        assert get(site.url + "/static/js/events.js").status_code == HTTPStatus.OK
        assert get(site.url + "/static/no-such-file.js").status_code == HTTPStatus.NOT_FOUND
