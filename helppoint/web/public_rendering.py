"""What every public page shares (no sign-in): its address, its language, its caching, its
inline stylesheet and the CSP that allows it.

Used by web/public.py and by the public pages it includes (web/survey.py, web/open_data.py),
which are imported by it and so cannot import it back.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup

from helppoint.web.i18n import public_context, vary_by_language
from helppoint.web.rendering import templates
from helppoint.web.security import content_security_policy, tile_source

#: Public pages change rarely; a short cache keeps them fast on a phone without going stale.
PUBLIC_CACHE = "public, max-age=60"


def public_base(request: Request) -> str:
    """The address printed on signs: the configured public URL, else this request's."""
    configured: str = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def unit_url(base: str, unit_id: str) -> str:
    """The short URL of a unit's public page, as encoded in its QR code."""
    return f"{base}/p/{unit_id}"


def publicly_cached(response: Response) -> Response:
    """The response, marked for shared caches to keep briefly (PUBLIC_CACHE)."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


STATIC = Path(__file__).parent / "static"
#: The public pages' stylesheet, put in the page itself: on a slow mobile link a stylesheet
#: fetched apart holds the first paint back by a whole round trip (docs/performance.md). The
#: page's CSP allows exactly this text by its hash, and nothing else inline.
PUBLIC_CSS = (STATIC / "public.css").read_text(encoding="utf-8")
PUBLIC_CSS_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(PUBLIC_CSS.encode()).digest()).decode()
)


def page_policy(request: Request) -> str:
    """The app's CSP (web/security.py) with the public stylesheet's hash added to style-src."""
    settings = request.app.state.settings
    local = getattr(request.app.state, "map_tiles", None) is not None
    tiles = "" if local else tile_source(settings.map_tiles_url)
    host = request.headers.get("host", "localhost")
    policy = content_security_policy(host, request.url.scheme == "https", tiles)
    return policy.replace("style-src 'self'", f"style-src 'self' '{PUBLIC_CSS_HASH}'", 1)


def public_page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A public HTML page in the visitor's language (web/i18n.py), cached briefly."""
    page = public_context(request) | {"open_data": open_data_published(request)} | context
    page["public_css"] = Markup(PUBLIC_CSS)
    csrf_token = getattr(request.state, "csrf_token", "")
    page["csrf_token"] = csrf_token
    response: Response = templates.TemplateResponse(
        request, template, page, status_code=status_code
    )
    if status_code == 200:
        publicly_cached(response)
    response = vary_by_language(request, response, page["lang"])
    response.headers["Content-Security-Policy"] = page_policy(request)
    if csrf_token or status_code != 200:
        # A page for a signed-in browser carries its CSRF token (in the survey's form): never
        # for a shared cache. Nor is a page answering a refused survey.
        response.headers["Cache-Control"] = "private, no-store"
    return response


def open_data_published(request: Request) -> bool:
    """Whether the scheme publishes its open data at /open-data (a setting)."""
    return bool(request.app.state.settings.open_data_public)
