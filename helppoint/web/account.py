"""Two-factor sign-in pages, an operator's own security page, and the admin's security API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import Operator, Permission
from helppoint.services import login_throttle, totp
from helppoint.services import operators as operator_service
from helppoint.services import units as unit_service
from helppoint.web.api import set_session_cookie
from helppoint.web.deps import CurrentOperator, client_address, require, unit_of_work
from helppoint.web.rendering import page_context, safe_next, signed_in_operator, templates
from helppoint.web.security import PENDING_COOKIE, login_options, secure_cookie

router = APIRouter()
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


def _two_factor_page(
    request: Request, next: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = request.cookies.get(PENDING_COOKIE, "")
    try:
        operator = operator_service.pending_operator(unit_of_work(request), token)
        enrolment = None
        if not operator.two_factor_enabled:
            enrolment = operator_service.pending_enrolment(unit_of_work(request), token)
    except operator_service.SignInExpired as exc:
        return _back_to_login(request, str(exc), next)
    return templates.TemplateResponse(
        request,
        "login_2fa.html",
        {"next": safe_next(next), "error": error, "enrolment": enrolment},
        status_code=status_code,
    )


def _back_to_login(request: Request, error: str, next: str) -> Response:
    response = templates.TemplateResponse(
        request, "login.html", {"error": error, "next": safe_next(next)}, status_code=401
    )
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


@router.get("/login/2fa", response_class=HTMLResponse, include_in_schema=False)
def two_factor_page(request: Request, next: str = "/") -> Response:
    """The second sign-in step: a code from the app (or first, enrolling the app)."""
    return _two_factor_page(request, next)


@router.post("/login/2fa", response_class=HTMLResponse, include_in_schema=False)
def two_factor_submit(request: Request, code: str = Form(""), next: str = Form("/")) -> Response:
    settings = request.app.state.settings
    try:
        done = operator_service.complete_sign_in(
            unit_of_work(request),
            request.cookies.get(PENDING_COOKIE, ""),
            code[:32],
            address=client_address(request),
            **login_options(settings),
        )
    except operator_service.SignInExpired as exc:
        return _back_to_login(request, str(exc), next)
    except totp.TwoFactorFailed:
        return _two_factor_page(request, next, "That code is not right. Try the newest one.", 401)
    if done.recovery_codes:
        response: Response = templates.TemplateResponse(
            request,
            "recovery_codes.html",
            {"codes": done.recovery_codes, "next": safe_next(next)},
        )
    else:
        response = RedirectResponse(safe_next(next), status_code=303)
    response.delete_cookie(PENDING_COOKIE, path="/")
    set_session_cookie(
        response, done.signed_in.token, settings.session_lifetime, secure_cookie(request)
    )
    return response


class CodeBody(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class SignedIn(BaseModel):
    """Who is now signed in; after enrolling, the recovery codes (shown this once only)."""

    username: str
    role: str
    recovery_codes: list[str]


@router.post("/api/login/2fa", response_model=SignedIn, tags=["api"])
def two_factor_api(body: CodeBody, request: Request, response: Response) -> dict[str, Any]:
    """Finish a sign-in that answered `two_factor`: a TOTP or recovery code (or, for "enrol",
    the first code from the app; the answer then holds the recovery codes, shown once)."""
    settings = request.app.state.settings
    try:
        done = operator_service.complete_sign_in(
            unit_of_work(request),
            request.cookies.get(PENDING_COOKIE, ""),
            body.code,
            address=client_address(request),
            **login_options(settings),
        )
    except operator_service.SignInExpired as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    except totp.TwoFactorFailed as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    response.delete_cookie(PENDING_COOKIE, path="/")
    set_session_cookie(
        response, done.signed_in.token, settings.session_lifetime, secure_cookie(request)
    )
    op = done.signed_in.operator
    return {"username": op.username, "role": op.role.value, "recovery_codes": done.recovery_codes}


@router.get("/api/login/2fa/enrolment", tags=["api"])
def two_factor_enrolment_api(request: Request) -> dict[str, str]:
    """For a pending sign-in that must enrol: the secret and otpauth:// URI for the app."""
    try:
        enrolment = operator_service.pending_enrolment(
            unit_of_work(request), request.cookies.get(PENDING_COOKIE, "")
        )
    except operator_service.SignInExpired as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    return {"secret": enrolment.secret, "uri": enrolment.uri}


# --- the operator's own two-factor -------------------------------------------------------


@router.get("/account/security", response_class=HTMLResponse, include_in_schema=False)
def security_page(request: Request) -> Response:
    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/account/security", status_code=303)
    return _security_page(request, operator)


def _security_page(
    request: Request,
    operator: Operator,
    enrolment: totp.Enrolment | None = None,
    codes: list[str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = page_context(request, operator) | {
        "demo": False,
        "active_page": "account",
        "enrolment": enrolment,
        "codes": codes,
        "error": error,
        "remaining": totp.remaining_recovery_codes(unit_of_work(request), operator.username)
        if operator.two_factor_enabled
        else 0,
    }
    return templates.TemplateResponse(
        request, "account_security.html", context, status_code=status_code
    )


@router.post("/account/2fa/start", response_class=HTMLResponse, include_in_schema=False)
def start_enrolment(request: Request, operator: CurrentOperator) -> Response:
    try:
        enrolment = totp.begin_enrolment(unit_of_work(request), operator.username)
    except InvalidInput as exc:
        return _security_page(request, operator, error=str(exc), status_code=409)
    return _security_page(request, operator, enrolment=enrolment)


@router.post("/account/2fa/confirm", response_class=HTMLResponse, include_in_schema=False)
def confirm_enrolment(
    request: Request, operator: CurrentOperator, code: str = Form("")
) -> Response:
    try:
        codes = totp.confirm_enrolment(
            unit_of_work(request), operator.username, code[:32], client_address(request)
        )
    except totp.TwoFactorFailed as exc:
        with unit_of_work(request) as uow:
            fresh = uow.operators.by_username(operator.username)
            enrolment = totp.enrolment_for(fresh) if fresh and fresh.two_factor_secret else None
        return _security_page(request, operator, enrolment, error=str(exc), status_code=400)
    except InvalidInput as exc:
        return _security_page(request, operator, error=str(exc), status_code=409)
    with unit_of_work(request) as uow:
        updated = uow.operators.by_username(operator.username) or operator
    return _security_page(request, updated, codes=codes)


# --- administration ----------------------------------------------------------------------


class UnlockBody(BaseModel):
    username: str | None = Field(default=None, min_length=1, max_length=64)
    address: str | None = Field(default=None, min_length=1, max_length=64)


class RolePolicyBody(BaseModel):
    require_two_factor: bool


class Lockout(BaseModel):
    """A sign-in lockout: of a user ("user:NAME") or a client address ("ip:ADDRESS")."""

    key: str
    locked_until: str


class SecurityOverview(BaseModel):
    """Which roles must use two-factor, and which accounts/addresses are locked out now."""

    #: Role name → whether its users must use two-factor sign-in.
    roles: dict[str, bool]
    locked: list[Lockout]


class RotatedKey(BaseModel):
    """A unit's new key, shown in this answer only, and whether its live link was closed."""

    unit_id: str
    key: str
    link_closed: bool


class RevokedUnit(BaseModel):
    """A unit taken out of service, and whether its live link was closed."""

    unit_id: str
    revoked: bool
    link_closed: bool


@router.get("/api/admin/security", response_model=SecurityOverview, tags=["admin"])
def security_overview(request: Request, admin: Admin) -> dict[str, Any]:
    """Which roles must use two-factor, and which accounts/addresses are locked out now."""
    return {
        "roles": totp.role_policies(unit_of_work(request)),
        "locked": login_throttle.locked_keys(unit_of_work(request)),
    }


@router.post("/api/admin/unlock", tags=["admin"])
def unlock(body: UnlockBody, request: Request, admin: Admin) -> dict[str, bool]:
    """Lift a sign-in lockout of a user or a client address (audited)."""
    was_locked = login_throttle.unlock(
        unit_of_work(request),
        username=body.username,
        address=body.address,
        actor=admin.username,
        client=client_address(request),
    )
    return {"was_locked": was_locked}


@router.post("/api/admin/users/{username}/2fa/reset", tags=["admin"])
def reset_two_factor(username: str, request: Request, admin: Admin) -> dict[str, bool]:
    """Turn a user's two-factor off (lost phone); they enrol again at next sign-in if required."""
    totp.reset(unit_of_work(request), username, admin.username, client_address(request))
    return {"ok": True}


@router.put("/api/admin/roles/{role}/two-factor", tags=["admin"])
def role_two_factor(
    role: str, body: RolePolicyBody, request: Request, admin: Admin
) -> dict[str, bool]:
    """Require (or stop requiring) two-factor sign-in for every user of a role."""
    totp.set_role_policy(
        unit_of_work(request),
        operator_service.parse_role(role),
        body.require_two_factor,
        admin.username,
        client_address(request),
    )
    return {"require_two_factor": body.require_two_factor}


class RotateKeyBody(BaseModel):
    #: Seconds the old key keeps working (0: refused at once and the live link is closed).
    overlap_seconds: int = Field(
        default=0, ge=0, le=int(unit_service.MAX_KEY_OVERLAP.total_seconds())
    )


@router.post("/api/admin/units/{unit_id}/rotate-key", response_model=RotatedKey, tags=["admin"])
async def rotate_unit_key(
    unit_id: str, body: RotateKeyBody, request: Request, admin: Admin
) -> dict[str, Any]:
    """Give a unit a new key, shown only in this answer; audited (docs/security.md)."""
    overlap = timedelta(seconds=body.overlap_seconds)
    provisioned = await run_in_threadpool(
        unit_service.rotate_unit_key,
        unit_of_work(request),
        unit_id,
        overlap,
        admin.username,
        client_address(request),
    )
    closed = False
    if not overlap:
        closed = await request.app.state.device_link.disconnect(unit_id, "key rotated")
    return {"unit_id": unit_id, "key": provisioned.key, "link_closed": closed}


@router.post("/api/admin/units/{unit_id}/revoke", response_model=RevokedUnit, tags=["admin"])
async def revoke_unit(unit_id: str, request: Request, admin: Admin) -> dict[str, Any]:
    """Take a unit out of service: its key stops working and its live link is closed."""
    await run_in_threadpool(
        unit_service.revoke_unit,
        unit_of_work(request),
        unit_id,
        admin.username,
        client_address(request),
    )
    closed = await request.app.state.device_link.disconnect(unit_id, "unit revoked")
    return {"unit_id": unit_id, "revoked": True, "link_closed": closed}
