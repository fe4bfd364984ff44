"""What every HTML page shares: the templates, the signed-in operator, the base context.

Its own module so that pages of every area import it, not web/pages.py (the console's pages),
which imports the API and security modules that themselves render pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fastapi import Request
from fastapi.templating import Jinja2Templates

from helppoint.domain.classification import Classification
from helppoint.domain.model import Operator
from helppoint.services import operators as operator_service
from helppoint.web.deps import SESSION_COOKIE
from helppoint.web.i18n import install as install_gettext
from helppoint.web.map_tiles import map_context

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
install_gettext(templates.env)


def safe_next(value: str) -> str:
    """Only local paths, so the login form cannot be used to redirect elsewhere."""
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def signed_in_operator(request: Request) -> Operator | None:
    """The operator of the request's session cookie, or None (pages redirect to /login)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return operator_service.operator_for_session(request.app.state.uow_factory(), token)


def page_context(request: Request, operator: Operator) -> dict[str, Any]:
    """What every signed-in page's template is given (base.html's menu, the map's tiles)."""
    return {
        "operator": operator,
        **map_context(request),
        "classifications": list(Classification),
        "demo": getattr(request.app.state, "demo_press", None) is not None,
    }
