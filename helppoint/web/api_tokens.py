"""Personal API tokens over HTTP: the JSON API, the account page, and reading a script's
`Authorization: Bearer hp_…` header (docs/api-scripts.md).

A request with a bearer token carries no cookie authority: web/deps.py then acts as the
token's operator, never as a session cookie the same client might also send, and the CSRF
check (web/security.py) does not apply, because a page on another site cannot make a browser
send an Authorization header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from helppoint.domain.api_tokens import ApiToken
from helppoint.domain.errors import DomainError
from helppoint.domain.model import Operator, Permission
from helppoint.services import api_tokens as token_service
from helppoint.services.clock import utcnow
from helppoint.services.operators import parse_role
from helppoint.web.deps import CurrentOperator, client_address, require
from helppoint.web.rendering import page_context, signed_in_operator, templates

router = APIRouter(tags=["API tokens"])
Admin = Annotated[Operator, Depends(require(Permission.ADMINISTER))]


class TokenView(BaseModel):
    """A token as listed: never its secret."""

    id: int
    name: str
    role: str
    hint: str = Field(description="the first characters of the token, to tell it apart")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    owner: str | None = None


class NewTokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the token is for")
    role: str | None = Field(
        default=None, max_length=32, description="your role (default) or one with fewer rights"
    )
    days: int | None = Field(default=None, ge=1, le=token_service.MAX_DAYS)


class NewTokenView(BaseModel):
    """A token just made; `token` is shown this once."""

    id: int
    name: str
    role: str
    token: str


def _view(token: ApiToken, owner: str | None = None) -> TokenView:
    assert token.id is not None
    return TokenView(
        id=token.id,
        name=token.name,
        role=token.role.value,
        hint=token.hint,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        owner=owner,
    )


@router.get("/api/tokens", response_model=list[TokenView])
def my_tokens(request: Request, operator: CurrentOperator) -> list[TokenView]:
    """Your API tokens (never their secrets)."""
    return [_view(t) for t in token_service.tokens_of(request.app.state.uow_factory(), operator)]


@router.post("/api/tokens", response_model=NewTokenView, status_code=status.HTTP_201_CREATED)
def make_token(body: NewTokenBody, request: Request, operator: CurrentOperator) -> NewTokenView:
    """Make a token for a script: it acts as you, with your role or a lesser one."""
    made = token_service.create_token(
        request.app.state.uow_factory(),
        operator,
        body.name,
        parse_role(body.role) if body.role else None,
        body.days,
        client_address(request),
    )
    return NewTokenView(id=made.id, name=made.name, role=made.role.value, token=made.token)


@router.delete("/api/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke(token_id: int, request: Request, operator: CurrentOperator) -> Response:
    """Revoke one of your tokens (an administrator: anyone's) at once."""
    token_service.revoke_token(
        request.app.state.uow_factory(), operator, token_id, client_address(request)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/admin/tokens", response_model=list[TokenView], tags=["admin"])
def all_tokens(request: Request, admin: Admin) -> list[TokenView]:
    """Every user's tokens, for an administrator to review and revoke."""
    uow = request.app.state.uow_factory
    owners = token_service.token_owner_names(uow())
    return [_view(t, owners.get(t.operator_id)) for t in token_service.tokens_of(uow())]


# ---- the account page ----------------------------------------------------------------------


def _page(
    request: Request, operator: Operator, status_code: int = 200, **values: object
) -> Response:
    from helppoint.domain.api_tokens import role_within
    from helppoint.domain.model import Role

    tokens = token_service.tokens_of(request.app.state.uow_factory(), operator)
    now = utcnow()
    context = page_context(request, operator) | {
        "demo": False,
        "tokens": [(t, token_service.expires_text(t, now)) for t in tokens],
        "roles": [r for r in Role if role_within(operator.role, r)],
        "message": "",
        "error": "",
        "made": None,
    }
    response = templates.TemplateResponse(
        request, "account_tokens.html", context | values, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in_or_login(request: Request) -> Operator | Response:

    operator = signed_in_operator(request)
    if operator is None:
        return RedirectResponse("/login?next=/account/tokens", status_code=303)
    return operator


@router.get("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def tokens_page(request: Request) -> Response:
    """Make, list and revoke your API tokens."""
    operator = _signed_in_or_login(request)
    if not isinstance(operator, Operator):
        return operator
    return _page(request, operator)


@router.post("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def make_token_form(
    request: Request, name: str = Form(""), role: str = Form(""), days: str = Form("")
) -> Response:
    operator = _signed_in_or_login(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        made = token_service.create_token(
            request.app.state.uow_factory(),
            operator,
            name[:200],
            parse_role(role[:32]) if role else None,
            int(days) if days.strip().isdigit() and len(days) < 6 else None,
            client_address(request),
        )
    except DomainError as exc:
        return _page(request, operator, 400, error=str(exc))
    return _page(request, operator, made=made)


@router.post(
    "/account/tokens/{token_id}/revoke", response_class=HTMLResponse, include_in_schema=False
)
def revoke_form(request: Request, token_id: int) -> Response:
    operator = _signed_in_or_login(request)
    if not isinstance(operator, Operator):
        return operator
    try:
        token = token_service.revoke_token(
            request.app.state.uow_factory(), operator, token_id, client_address(request)
        )
    except DomainError as exc:
        return _page(request, operator, 404, error=str(exc))
    return _page(request, operator, message=f"Token {token.name} revoked.")
