"""Personal API tokens: make one (the secret shown once), list, revoke, and find the operator
a script's `Authorization: Bearer hp_…` acts as. Made and revoked tokens are audited."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.api_tokens import (
    TOKEN_PREFIX,
    ApiToken,
    check_name,
    check_token_role,
    role_within,
)
from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, Operator, Permission, Role
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

#: Longest life of a token; none by default (revoke it when the script retires).
MAX_DAYS = 3650
#: A token's last use is written at most this often, so using one stays a read.
TOUCH_INTERVAL = timedelta(minutes=1)


def token_hash(token: str) -> str:
    """Tokens are 256-bit random, so one SHA-256 (no slow password hash) is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: the secret is in `token`, shown this once."""

    id: int
    name: str
    role: Role
    token: str


def create_token(
    uow: UnitOfWork,
    operator: Operator,
    name: str,
    role: Role | None = None,
    days: int | None = None,
    address: str | None = None,
    actor: str | None = None,
) -> NewToken:
    """Make a token for the operator's scripts, with their role or a lesser one; `actor`
    (who made it, for the audit trail) is the operator unless an administrator's command."""
    name = check_name(name)
    role = role or operator.role
    check_token_role(operator.role, role)
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"a token lasts 1-{MAX_DAYS} days (or until revoked)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    assert operator.id is not None
    with uow:
        token = ApiToken(
            operator_id=operator.id,
            name=name,
            role=role,
            token_hash=token_hash(secret),
            hint=secret[:7],
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
        )
        uow.api_tokens.add(token)
        uow.flush()
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=actor or operator.username,
                action="token.created",
                detail={
                    "token": token.id,
                    "owner": operator.username,
                    "name": name,
                    "role": role.value,
                    "days": days,
                },
                address=address,
            )
        )
        uow.commit()
        assert token.id is not None
        return NewToken(token.id, name, role, secret)


def tokens_of(uow: UnitOfWork, operator: Operator | None = None) -> list[ApiToken]:
    """An operator's tokens (or, without one, everybody's), newest first."""
    with uow:
        return uow.api_tokens.list(operator.id if operator is not None else None)


def revoke_token(
    uow: UnitOfWork, actor: Operator, token_id: int, address: str | None = None
) -> ApiToken:
    """Revoke a token at once: its owner's own, or any as an administrator."""
    with uow:
        token = uow.api_tokens.get(token_id)
        mine = token is not None and token.operator_id == actor.id
        if token is None or not (mine or actor.can(Permission.ADMINISTER)):
            raise NotFound(f"no API token {token_id} of yours")
        return _revoke(uow, token, actor.username, address)


def revoke_any_token(uow: UnitOfWork, token_id: int, actor: str) -> ApiToken:
    """Revoke any token (the administrator's command line, which has the database itself)."""
    with uow:
        token = uow.api_tokens.get(token_id)
        if token is None:
            raise NotFound(f"no API token {token_id}")
        return _revoke(uow, token, actor, None)


def _revoke(uow: UnitOfWork, token: ApiToken, actor: str, address: str | None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        uow.audit.add(
            AuditEntry(
                at=token.revoked_at,
                actor=actor,
                action="token.revoked",
                detail={"token": token.id, "name": token.name},
                address=address,
            )
        )
    uow.commit()
    return token


def operator_for_token(uow: UnitOfWork, secret: str) -> Operator | None:
    """The operator a bearer token acts as (with the token's role), or None if the token is
    unknown, revoked, expired, or its owner is disabled or no longer has its role's rights."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    now = utcnow()
    with uow:
        token = uow.api_tokens.by_hash(token_hash(secret))
        if token is None or not token.usable_at(now):
            return None
        owner = uow.operators.get(token.operator_id)
        if owner is None or not owner.active or not role_within(owner.role, token.role):
            return None
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
            token.last_used_at = now
            uow.commit()
        # A copy acting with the token's role; never added to a session.
        return dataclasses.replace(owner, role=token.role)


def token_owner_names(uow: UnitOfWork) -> dict[int, str]:
    """Usernames by operator id, for the administrator's list of every token."""
    with uow:
        return {op.id: op.username for op in uow.operators.list() if op.id is not None}


def expires_text(token: ApiToken, now: datetime) -> str:
    """'revoked', 'expired', 'until YYYY-MM-DD' or 'until revoked'."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None:
        return "expired" if now >= token.expires_at else f"until {token.expires_at:%Y-%m-%d}"
    return "until revoked"
