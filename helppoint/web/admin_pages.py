"""The administration pages (issue #24): overview, users and zones, as plain HTML forms.

Every change is a POST of a form carrying the CSRF token (web/security.py checks it), goes
through the same service as the CLI and API, and is audited there. A page answers the result
of its own form (a message, or the error and the form as it was sent), so nothing depends on
script and every control is reachable by keyboard. Units are in admin_units.py; maintainers,
self-tests, SIA accounts and notification channels in admin_contacts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from helppoint.domain.errors import DomainError, NotFound
from helppoint.domain.model import Operator, Permission, Role
from helppoint.i18n import N_
from helppoint.services import login_throttle, totp
from helppoint.services import operators as operator_service
from helppoint.services import zones as zone_service
from helppoint.web.deps import client_address
from helppoint.web.forbidden import forbidden_page
from helppoint.web.rendering import page_context, signed_in_operator, templates

router = APIRouter(include_in_schema=False, tags=["admin pages"])

#: The admin section's pages, in the order of its menu: (path, label).
SECTIONS = [
    ("/admin", N_("Overview")),
    ("/admin/users", N_("Users")),
    ("/admin/zones", N_("Zones")),
    ("/admin/units", N_("Units")),
    ("/admin/plans", N_("Trigger plans")),
    ("/admin/maintainers", N_("Maintainers")),
    ("/admin/self-tests", N_("Self-tests")),
    ("/admin/sia", N_("SIA accounts")),
    ("/admin/channels", N_("Notification channels")),
    ("/admin/routes", N_("Safer routes")),
    ("/admin/prompts", N_("Unit messages")),
]


def admin_or_response(request: Request) -> Operator | Response:
    """The signed-in administrator, or the response to send instead (sign in, or 403)."""
    operator = signed_in_operator(request)
    if operator is None:
        path = request.url.path if request.method == "GET" else "/admin"
        return RedirectResponse(f"/login?next={path}", status_code=303)
    if not operator.can(Permission.ADMINISTER):
        return forbidden_page(request, operator, "Only administrators may use this page.")
    return operator


def render(
    request: Request,
    operator: Operator,
    template: str,
    section: str,
    status_code: int = 200,
    **values: Any,
) -> Response:
    """An admin page with its menu; `message` and `error` say how the last form went."""
    context = page_context(request, operator) | {
        "demo": False,
        "sections": SECTIONS,
        "section": section,
        "message": values.pop("message", ""),
        "error": values.pop("error", ""),
    }
    response = templates.TemplateResponse(
        request, template, context | values, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def error_status(exc: DomainError) -> int:
    return 404 if isinstance(exc, NotFound) else 400


def admin_action(
    request: Request,
    page: Callable[..., Response],
    action: Callable[[Operator], str],
) -> Response:
    """Run one form's change as the signed-in admin and answer its page with the outcome."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        message = action(operator)
    except DomainError as exc:
        return page(request, operator, error=str(exc), status_code=error_status(exc))
    return page(request, operator, message=message)


# ---- overview ------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    """What there is to set up, with counts and links (signs and leaflet included)."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    from helppoint.services.unit_admin import unit_rows

    uow = request.app.state.uow_factory
    units = unit_rows(uow(), include_retired=False)
    states: dict[str, int] = {}
    for unit in units:
        states[unit.state_label] = states.get(unit.state_label, 0) + 1
    return render(
        request,
        operator,
        "admin_overview.html",
        "/admin",
        users=len(operator_service.user_rows(uow())),
        zones=len(zone_service.list_zones(uow())),
        units=len(units),
        states=sorted(states.items()),
    )


# ---- users ---------------------------------------------------------------------------------


def users_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    uow = request.app.state.uow_factory
    return render(
        request,
        operator,
        "admin_users.html",
        "/admin/users",
        status_code,
        users=operator_service.user_rows(uow()),
        roles=list(Role),
        policies=totp.role_policies(uow()),
        locked=login_throttle.locked_keys(uow()),
        **values,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request) -> Response:
    """Users, their roles, two-factor state and locks; the two-factor policy per role."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return users_page(request, operator)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    username: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("operator"),
    password: str = Form(""),
) -> Response:
    def act(admin: Operator) -> str:
        added = operator_service.add_operator(
            request.app.state.uow_factory(),
            username[:64],
            password[:1000],
            operator_service.parse_role(role[:32]),
            display_name=display_name[:200],
            actor=admin.username,
        )
        return f"User {added.username} ({added.role.value}) added."

    return admin_action(request, users_page, act)


@router.post("/admin/users/{username}", response_class=HTMLResponse)
def change_user(
    request: Request,
    username: str,
    role: str = Form(""),
    display_name: str = Form(""),
    active: str = Form(""),
) -> Response:
    def act(admin: Operator) -> str:
        changed = operator_service.change_user(
            request.app.state.uow_factory(),
            username,
            admin.username,
            role=operator_service.parse_role(role[:32]) if role else None,
            display_name=display_name[:200] or None,
            active={"yes": True, "no": False}.get(active),
            address=client_address(request),
        )
        state = "" if changed.active else ", disabled"
        return f"User {changed.username}: {changed.role.value}{state}."

    return admin_action(request, users_page, act)


@router.post("/admin/users/{username}/2fa-reset", response_class=HTMLResponse)
def reset_two_factor(request: Request, username: str) -> Response:
    def act(admin: Operator) -> str:
        totp.reset(
            request.app.state.uow_factory(), username, admin.username, client_address(request)
        )
        return f"Two-factor sign-in of {username} reset: they enrol again if their role needs it."

    return admin_action(request, users_page, act)


@router.post("/admin/users/{username}/unlock", response_class=HTMLResponse)
def unlock_user(request: Request, username: str) -> Response:
    def act(admin: Operator) -> str:
        was = login_throttle.unlock(
            request.app.state.uow_factory(),
            username=username,
            actor=admin.username,
            client=client_address(request),
        )
        return f"{username} unlocked." if was else f"{username} was not locked (failures cleared)."

    return admin_action(request, users_page, act)


@router.post("/admin/roles/two-factor", response_class=HTMLResponse)
async def role_two_factor(request: Request) -> Response:
    """Which roles must sign in with two-factor: one checkbox per role."""
    form = await request.form()
    required = {str(value) for value in form.getlist("require")}

    def act(admin: Operator) -> str:
        uow = request.app.state.uow_factory
        current = totp.role_policies(uow())
        for role in Role:
            wanted = role.value in required
            if current.get(role.value) != wanted:
                totp.set_role_policy(uow(), role, wanted, admin.username, client_address(request))
        names = ", ".join(r.value for r in Role if r.value in required) or "no role"
        return f"Two-factor sign-in is now required for: {names}."

    return await run_in_threadpool(admin_action, request, users_page, act)


# ---- zones ---------------------------------------------------------------------------------


def zones_page(
    request: Request, operator: Operator, status_code: int = 200, **values: Any
) -> Response:
    return render(
        request,
        operator,
        "admin_zones.html",
        "/admin/zones",
        status_code,
        zones=zone_service.list_zones(request.app.state.uow_factory()),
        **values,
    )


@router.get("/admin/zones", response_class=HTMLResponse)
def zones(request: Request) -> Response:
    """Zones: add one, rename one."""
    operator = admin_or_response(request)
    if not isinstance(operator, Operator):
        return operator
    return zones_page(request, operator)


@router.post("/admin/zones", response_class=HTMLResponse)
def add_zone(
    request: Request,
    zone_id: str = Form(""),
    name: str = Form(""),
    description: str = Form(""),
) -> Response:
    def act(admin: Operator) -> str:
        zone = zone_service.add_zone(
            request.app.state.uow_factory(),
            zone_id[:64],
            name[:400],
            description[:4000],
            admin.username,
            client_address(request),
        )
        return f"Zone {zone.id} ({zone.name}) added."

    return admin_action(request, zones_page, act)


@router.post("/admin/zones/{zone_id}", response_class=HTMLResponse)
def change_zone(
    request: Request, zone_id: str, name: str = Form(""), description: str = Form("")
) -> Response:
    def act(admin: Operator) -> str:
        zone = zone_service.rename_zone(
            request.app.state.uow_factory(),
            zone_id,
            name[:400],
            description[:4000],
            admin.username,
            client_address(request),
        )
        return f"Zone {zone.id} is now named {zone.name}."

    return admin_action(request, zones_page, act)
