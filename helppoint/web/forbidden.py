"""Where a browser lands on a page its role may not use, or on no page at all: an HTML 403 or
404 page, not raw JSON.

The API (/api/…) keeps answering JSON; a browser's page request (it accepts text/html) to
anything else gets a page saying why, with the navigation of its role (or, signed out, the
public site's, with the emergency number).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from helppoint.domain.model import Operator
from helppoint.web.public_rendering import public_page
from helppoint.web.rendering import page_context, signed_in_operator, templates


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, not a script)."""
    if request.url.path.startswith("/api/") or request.method != "GET":
        return False
    return "text/html" in request.headers.get("accept", "")


def forbidden_page(request: Request, operator: Operator, reason: str) -> Response:
    """The HTML 403 page, with the operator's own navigation."""

    context = page_context(request, operator) | {"demo": False, "reason": reason}
    return templates.TemplateResponse(request, "forbidden.html", context, status_code=403)


def not_found_page(request: Request) -> Response:
    """The HTML 404 page: the staff's, with their navigation, or the public site's."""
    operator = signed_in_operator(request)
    if operator is None:
        return public_page(request, "public_page_not_found.html", {}, status_code=404)
    context = page_context(request, operator) | {"demo": False, "path": request.url.path[:200]}
    return templates.TemplateResponse(request, "not_found.html", context, status_code=404)


async def html_errors(request: Request, exc: Exception) -> Response:
    """401, 403 and 404 as a browser should see them; everything else as FastAPI answers it."""
    assert isinstance(exc, HTTPException)
    if wants_html(request) and exc.status_code == 404:
        return not_found_page(request)
    if wants_html(request) and exc.status_code in (401, 403):
        if exc.status_code == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

        operator = signed_in_operator(request)
        if operator is not None:
            return forbidden_page(request, operator, str(exc.detail))
    return await http_exception_handler(request, exc)
