"""Control-room users: creation, password check (argon2) and browser sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, LoginSession, Operator, Role
from helppoint.domain.security import PendingSignIn
from helppoint.services import login_throttle, totp
from helppoint.services.clock import utcnow
from helppoint.services.login_throttle import LoginLocked, ThrottlePolicies
from helppoint.store.uow import UnitOfWork

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


class LoginFailed(Exception):
    """Wrong username or password (deliberately not saying which)."""


class SignInExpired(Exception):
    """A pending two-factor sign-in is unknown, expired or was given too many wrong codes."""


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
    """A new browser session: the token goes in the cookie and is never stored.

    With `two_factor_pending`, the password was right but the token is a pending sign-in
    (its own cookie): the second factor (services/totp.py) must follow, see `complete_sign_in`.
    """

    token: str
    operator: Operator
    two_factor_pending: bool = False
    #: The operator must first enrol an authenticator (their role requires two-factor).
    must_enrol: bool = False


#: How long a password-checked sign-in waits for its second factor, and how many wrong codes
#: it survives.
PENDING_LIFETIME = timedelta(minutes=5)
PENDING_MAX_FAILURES = 5


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    uow: UnitOfWork,
    operator: Operator,
    lifetime: timedelta,
    address: str | None,
    idle: timedelta | None = None,
) -> str:
    """Inside an open uow: start a browser session for the operator; the cookie token."""
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
            last_seen_at=now,
            idle_timeout=int(idle.total_seconds()) if idle else 0,
        )
    )
    return token


def login(
    uow: UnitOfWork,
    username: str,
    password: str,
    lifetime: timedelta,
    address: str | None,
    idle: timedelta | None = None,
    throttle: ThrottlePolicies | None = None,
) -> SignedIn:
    """Check the password and open a session; LoginFailed if wrong, LoginLocked if throttled.

    When the operator uses two-factor (or their role requires it) the result is a pending
    sign-in instead, to be completed with `complete_sign_in`.
    """
    username = username.strip().lower()
    with uow:
        now = utcnow()
        if throttle is not None:
            login_throttle.check(uow, username, address, now)
        operator = uow.operators.by_username(username)
        try:
            _hasher.verify(operator.password_hash if operator else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            uow.audit.add(
                AuditEntry(
                    at=now,
                    actor=username[:64] or "?",
                    action="user.login_failed",
                    address=address,
                )
            )
            locked = (
                login_throttle.record_failure(uow, username, address, now, throttle)
                if throttle is not None
                else None
            )
            uow.commit()
            if locked is not None:
                raise LoginLocked(locked) from None
            raise LoginFailed(username) from None
        if operator is None or not operator.active:
            raise LoginFailed(username)
        if throttle is not None:
            login_throttle.record_success(uow, username)
        if _hasher.check_needs_rehash(operator.password_hash):
            operator.password_hash = _hasher.hash(password)
        if operator.two_factor_enabled or totp.role_requires(uow, operator.role):
            token = secrets.token_urlsafe(32)
            assert operator.id is not None
            uow.two_factor.add_pending(
                PendingSignIn(
                    token_hash=_token_hash(token),
                    operator_id=operator.id,
                    created_at=now,
                    expires_at=now + PENDING_LIFETIME,
                    address=address,
                )
            )
            uow.audit.add(
                AuditEntry(
                    at=now, actor=operator.username, action="user.password_ok", address=address
                )
            )
            uow.commit()
            return SignedIn(token, operator, True, not operator.two_factor_enabled)
        token = open_session(uow, operator, lifetime, address, idle)
        uow.audit.add(
            AuditEntry(at=now, actor=operator.username, action="user.login", address=address)
        )
        uow.commit()
        return SignedIn(token=token, operator=operator)


def _pending(uow: UnitOfWork, token: str, now: datetime) -> tuple[PendingSignIn, Operator]:
    pending = uow.two_factor.pending(_token_hash(token)) if token else None
    if pending is None or now >= pending.expires_at:
        raise SignInExpired("the sign-in has expired; enter your password again")
    operator = uow.operators.get(pending.operator_id)
    if operator is None or not operator.active:
        raise SignInExpired("the sign-in has expired; enter your password again")
    return pending, operator


def pending_operator(uow: UnitOfWork, token: str) -> Operator:
    """The operator of a pending sign-in (SignInExpired if there is none)."""
    with uow:
        return _pending(uow, token, utcnow())[1]


def pending_enrolment(uow: UnitOfWork, token: str) -> totp.Enrolment:
    """For a pending sign-in whose role requires two-factor: the secret to enrol (kept)."""
    with uow:
        _, operator = _pending(uow, token, utcnow())
        if operator.two_factor_enabled:
            raise InvalidInput("two-factor sign-in is already on")
        if not operator.two_factor_secret:
            operator.two_factor_secret = totp.new_secret()
        enrolment = totp.enrolment_for(operator)
        uow.commit()
        return enrolment


@dataclass(frozen=True)
class SecondFactorDone:
    """The session opened after the second factor; recovery codes when just enrolled."""

    signed_in: SignedIn
    recovery_codes: list[str]


def complete_sign_in(
    uow: UnitOfWork,
    token: str,
    code: str,
    lifetime: timedelta,
    address: str | None,
    idle: timedelta | None = None,
    throttle: ThrottlePolicies | None = None,
) -> SecondFactorDone:
    """Finish a pending sign-in with a TOTP or recovery code (or confirm a first enrolment)."""
    with uow:
        now = utcnow()
        pending, operator = _pending(uow, token, now)
        enrolling = not operator.two_factor_enabled
        try:
            if enrolling:
                codes = totp.confirm_enrolment_in(uow, operator, code, now, address)
                how = "enrolled"
            else:
                how = totp.check_second_factor(uow, operator, code, now)
                codes = []
        except totp.TwoFactorFailed:
            pending.failures += 1
            uow.audit.add(
                AuditEntry(
                    at=now, actor=operator.username, action="user.2fa_failed", address=address
                )
            )
            if throttle is not None:
                login_throttle.record_failure(uow, operator.username, address, now, throttle)
            if pending.failures >= PENDING_MAX_FAILURES:
                uow.two_factor.delete_pending(pending)
                uow.commit()
                raise SignInExpired("too many wrong codes; enter your password again") from None
            uow.commit()
            raise
        uow.two_factor.delete_pending(pending)
        session_token = open_session(uow, operator, lifetime, address, idle)
        uow.audit.add(
            AuditEntry(
                at=now,
                actor=operator.username,
                action="user.login",
                detail={"second_factor": how},
                address=address,
            )
        )
        uow.commit()
        return SecondFactorDone(SignedIn(session_token, operator), codes)


#: A session is marked as used at most this often, so reading it stays a read.
TOUCH_INTERVAL = timedelta(seconds=30)


def operator_for_session(uow: UnitOfWork, token: str) -> Operator | None:
    """The signed-in user for a session token, or None if unknown, expired, idle or disabled.

    Using a session keeps it alive: its last-used time moves on (at most every 30 s).
    """
    if not token:
        return None
    with uow:
        login_session = uow.logins.get(_token_hash(token))
        now = utcnow()
        if login_session is None or not login_session.valid_at(now):
            return None
        operator = uow.operators.get(login_session.operator_id)
        if operator is None or not operator.active:
            return None
        last = login_session.last_seen_at
        if login_session.idle_timeout and (last is None or now - last >= TOUCH_INTERVAL):
            login_session.last_seen_at = now
            uow.commit()
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


def change_user(
    uow: UnitOfWork,
    username: str,
    actor: str,
    role: Role | None = None,
    active: bool | None = None,
    display_name: str | None = None,
    address: str | None = None,
) -> Operator:
    """An administrator changes a user's role, display name, or disables/enables them; a
    disabled user's sessions end at their next request. An admin cannot demote or disable
    themselves (the scheme must keep an administrator); audited with what changed."""
    with uow:
        operator = uow.operators.by_username(username.strip().lower())
        if operator is None:
            raise NotFound(f"no user {username!r}")
        if operator.username == actor and (
            (role is not None and role is not operator.role) or active is False
        ):
            raise InvalidInput("you cannot change your own role or disable yourself")
        changed: dict[str, Any] = {}
        if role is not None and role is not operator.role:
            changed["role"] = {"from": operator.role.value, "to": role.value}
            operator.role = role
        if active is not None and active != operator.active:
            changed["active"] = {"from": operator.active, "to": active}
            operator.active = active
        if display_name is not None and display_name.strip() != operator.display_name:
            name = display_name.strip()[:200] or operator.username
            changed["display_name"] = {"from": operator.display_name, "to": name}
            operator.display_name = name
        if changed:
            uow.audit.add(
                AuditEntry(
                    at=utcnow(),
                    actor=actor,
                    action="user.changed",
                    detail={"user": operator.username, "changed": changed},
                    address=address,
                )
            )
        uow.commit()
        return operator


@dataclass(frozen=True)
class UserRow:
    """A user as the admin page and `user list` show them."""

    username: str
    display_name: str
    role: Role
    active: bool
    two_factor: bool
    two_factor_required: bool
    locked_until: datetime | None


def user_rows(uow: UnitOfWork) -> list[UserRow]:
    """Every user with their two-factor state and any sign-in lock in force now."""
    now = utcnow()
    with uow:
        required = {role: totp.role_requires(uow, role) for role in Role}
        rows = []
        for op in uow.operators.list():
            lock = uow.login_throttles.get(login_throttle.account_key(op.username))
            until = lock.locked_until if lock is not None and lock.locked_at(now) else None
            rows.append(
                UserRow(
                    op.username,
                    op.display_name,
                    op.role,
                    op.active,
                    op.two_factor_enabled,
                    required[op.role],
                    until,
                )
            )
        return rows
