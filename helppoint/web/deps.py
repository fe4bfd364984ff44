"""Request dependencies: the unit of work, the signed-in operator and role checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status

from helppoint.domain.model import Operator, Permission
from helppoint.services import operators as operator_service
from helppoint.store.uow import UnitOfWork

SESSION_COOKIE = "helppoint_session"


def unit_of_work(request: Request | WebSocket) -> UnitOfWork:
    """A new unit of work on the app's database, for one request's use case."""
    factory: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return factory()


def uow_factory(request: Request | WebSocket) -> Callable[[], UnitOfWork]:
    factory: Callable[[], UnitOfWork] = request.app.state.uow_factory
    return factory


def client_address(request: Request | WebSocket) -> str | None:
    return request.client.host if request.client else None


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of an `Authorization: Bearer …` header (lower-case header names), or ''."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def current_operator(request: Request) -> Operator:
    """The signed-in operator, or the operator of a script's API token; or 401.

    A request with `Authorization: Bearer` is judged by its token alone, never by a session
    cookie it may also carry (web/api_tokens.py).
    """
    from helppoint.services.api_tokens import operator_for_token

    bearer = bearer_token(request.headers)
    if bearer:
        operator = operator_for_token(request.app.state.uow_factory(), bearer)
        if operator is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the API token is unknown, revoked or expired",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return operator
    token = request.cookies.get(SESSION_COOKIE, "")
    operator = operator_service.operator_for_session(request.app.state.uow_factory(), token)
    if operator is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]


def require(permission: Permission) -> Callable[[Operator], Operator]:
    """A dependency that allows only operators whose role has the permission."""

    def check(operator: CurrentOperator) -> Operator:
        if not operator.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"your role ({operator.role.value}) may not {permission.value.replace('_', ' ')}",
            )
        return operator

    return check


Handler = Annotated[Operator, Depends(require(Permission.HANDLE_INCIDENTS))]
HistoryReader = Annotated[Operator, Depends(require(Permission.VIEW_HISTORY))]
