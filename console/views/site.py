"""What every page shares that is not a template: the icon browsers ask for by themselves."""

from __future__ import annotations

from functools import cache

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe


@cache
def _favicon_bytes() -> bytes | None:
    path = finders.find("favicon.svg")
    if not path:
        return None
    with open(path, "rb") as svg:
        return svg.read()


@require_safe
def favicon(request):
    """`/favicon.ico`, which browsers ask for without reading the page's `<link rel="icon">`:
    the site's SVG icon itself, so it is there even where static files are not served."""
    content = _favicon_bytes()
    if content is None:
        raise Http404("favicon.svg is missing from the static files")
    response = HttpResponse(content, content_type="image/svg+xml")
    # An image, never a document: nothing in it may run or load anything.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
