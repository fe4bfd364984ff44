"""HTML pages: login, console, history."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from helppoint.domain.model import Permission
from helppoint.services import operators as operator_service
from helppoint.services.login_throttle import LoginLocked
from helppoint.services.sla import scheme_targets
from helppoint.web.api import set_session_cookie
from helppoint.web.deps import SESSION_COOKIE, client_address
from helppoint.web.rendering import page_context, safe_next, signed_in_operator, templates
from helppoint.web.security import login_options, secure_cookie, set_pending_cookie
from helppoint.web.triage import console_config

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"error": None, "next": safe_next(next)}
    )


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    settings = request.app.state.settings
    try:
        signed_in = operator_service.login(
            request.app.state.uow_factory(),
            username[:64],
            password[:1000],
            address=client_address(request),
            **login_options(settings),
        )
    except (operator_service.LoginFailed, LoginLocked) as exc:
        locked = isinstance(exc, LoginLocked)
        return templates.TemplateResponse(
            request,
            "login.html",
            {
                "error": str(exc) if locked else "Wrong username or password.",
                "next": safe_next(next),
                "username": username[:64],
            },
            status_code=429 if locked else 401,
        )
    if signed_in.two_factor_pending:
        response = RedirectResponse(f"/login/2fa?next={quote(safe_next(next))}", status_code=303)
        set_pending_cookie(response, signed_in.token, secure_cookie(request))
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, signed_in.token, settings.session_lifetime, secure_cookie(request))
    return response


@router.post("/logout")
def logout_submit(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        operator_service.logout(request.app.state.uow_factory(), token, client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def console(request: Request) -> Response:
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/", status_code=303)
    if not operator.can(Permission.HANDLE_INCIDENTS) and operator.can(Permission.READ_AUDIT):
        return RedirectResponse("/audit", status_code=303)  # an auditor's home is the trail
    if not operator.can(Permission.HANDLE_INCIDENTS) and operator.can(Permission.POLICE_RESPONSE):
        return RedirectResponse("/police", status_code=303)
    context = page_context(request, operator) | {
        "console_config": console_config(scheme_targets(request.app.state.settings))
    }
    return templates.TemplateResponse(request, "console.html", context)


@router.get("/history", response_class=HTMLResponse)
def history(request: Request) -> Response:
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/history", status_code=303)
    if not operator.can(Permission.VIEW_HISTORY):
        from helppoint.web.forbidden import forbidden_page

        return forbidden_page(request, operator, "Your role may not view the incident history.")
    context = page_context(request, operator) | {"demo": False}
    return templates.TemplateResponse(request, "history.html", context)


@router.get("/healthz")
def health(request: Request) -> dict[str, Any]:
    """Liveness for load balancers and scripts: this process, its units and its jobs."""
    state = request.app.state
    cluster = getattr(state, "cluster", None)
    elector = getattr(state, "elector", None)
    return {
        "ok": True,
        "units_connected": state.device_link.link_count,
        "process": cluster.process_id if cluster is not None else None,
        "jobs": elector.running if elector is not None else [],
        "gc_pauses": state.gc_pauses.summary(),
        "ingest": {
            "writer": state.ingest.writer.status(),
            "batches": state.ingest.batches,
            "events": state.ingest.events,
        },
    }
