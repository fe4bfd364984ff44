"""Control-room users: creation, password check (argon2) and browser sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import AuditEntry, LoginSession, Operator, Role
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


class LoginFailed(Exception):
    """Wrong username or password (deliberately not saying which)."""


def parse_role(value: str) -> Role:
    """The Role for a name, listing the valid names in the error."""
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {value!r}; use one of: {roles}") from None


def add_operator(
    uow: UnitOfWork,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    actor: str = "system",
    replace_password: bool = False,
) -> Operator:
    """Create a user (or, with replace_password, reset an existing user's password and role)."""
    username = username.strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise InvalidInput("username must be 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    with uow:
        existing = uow.operators.by_username(username)
        if existing is not None and not replace_password:
            raise InvalidInput(f"user {username!r} already exists")
        if existing is not None:
            existing.password_hash = _hasher.hash(password)
            existing.role = role
            existing.active = True
            if display_name:
                existing.display_name = display_name
            operator = existing
            action = "user.password_reset"
        else:
            operator = Operator(
                username=username,
                display_name=display_name.strip() or username,
                role=role,
                password_hash=_hasher.hash(password),
                created_at=utcnow(),
            )
            uow.operators.add(operator)
            action = "user.added"
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action=action,
                detail={"user": username, "role": role.value},
            )
        )
        uow.commit()
        return operator


@dataclass(frozen=True)
class SignedIn:
    """A new browser session: the token goes in the cookie and is never stored."""

    token: str
    operator: Operator


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    uow: UnitOfWork, username: str, password: str, lifetime: timedelta, address: str | None
) -> SignedIn:
    """Check the password and open a session; LoginFailed if wrong."""
    username = username.strip().lower()
    with uow:
        operator = uow.operators.by_username(username)
        try:
            _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            uow.audit.add(
                AuditEntry(
                    at=utcnow(),
                    actor=username[:64] or "?",
                    action="user.login_failed",
                    address=address,
                )
            )
            uow.commit()
            raise LoginFailed(username) from None
        if operator is None or not operator.active:
            raise LoginFailed(username)
        if _hasher.check_needs_rehash(operator.password_hash):
            operator.password_hash = _hasher.hash(password)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        assert operator.id is not None
        uow.logins.add(
            LoginSession(
                token_hash=_token_hash(token),
                operator_id=operator.id,
                created_at=now,
                expires_at=now + lifetime,
                address=address,
            )
        )
        uow.audit.add(
            AuditEntry(at=now, actor=operator.username, action="user.login", address=address)
        )
        uow.commit()
        return SignedIn(token=token, operator=operator)


def operator_for_session(uow: UnitOfWork, token: str) -> Operator | None:
    """The signed-in user for a session token, or None if unknown, expired or disabled."""
    if not token:
        return None
    with uow:
        login_session = uow.logins.get(_token_hash(token))
        if login_session is None or not login_session.valid_at(utcnow()):
            return None
        operator = uow.operators.get(login_session.operator_id)
        if operator is None or not operator.active:
            return None
        return operator


def logout(uow: UnitOfWork, token: str, address: str | None = None) -> None:
    """End a browser session."""
    with uow:
        login_session = uow.logins.get(_token_hash(token))
        if login_session is None:
            return
        operator = uow.operators.get(login_session.operator_id)
        uow.logins.delete(login_session)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=operator.username if operator else "?",
                action="user.logout",
                address=address,
            )
        )
        uow.commit()
