"""Operator two-factor sign-in: TOTP (RFC 6238, any authenticator app) and recovery codes.

Enrolment stores a new secret, shows it as a QR code, and switches two-factor on only once
the operator has typed a code from the app. Recovery codes are shown once and stored as argon2
hashes, like passwords. An administrator can require two-factor per role and reset an
operator's two-factor; both are audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry, Operator, Role
from helppoint.domain.security import RecoveryCode, RolePolicy
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

ISSUER = "helppoint"
RECOVERY_CODE_COUNT = 10
#: Unambiguous characters for recovery codes (no 0/O, 1/l/I).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
#: Recovery codes are 10 random characters of 31 (about 49 bits): nobody guesses one, so their
#: hash only has to make a copied table useless, not slow down guesses at a weak secret as a
#: password's must. One pass over 8 MiB of argon2id does that for a fraction of the password
#: hasher's cost (3 passes over 64 MiB on 4 lanes): ten are made at enrolment and a typed code
#: is checked against up to ten, which took over 10 s per request on a busy 2-core server.
_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class TwoFactorFailed(Exception):
    """The code was wrong, expired or already used."""


@dataclass(frozen=True)
class Enrolment:
    """What the operator needs to add helppoint to an authenticator app."""

    secret: str
    uri: str
    qr_svg_data_uri: str


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret)


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normalise(code: str) -> str:
    return "".join(code.split()).lower()


def _operator(uow: UnitOfWork, username: str) -> Operator:
    operator = uow.operators.by_username(username.strip().lower())
    if operator is None:
        raise NotFound(f"no user {username!r}")
    return operator


def new_secret() -> str:
    """A fresh random TOTP secret (160 bits, base32)."""
    return pyotp.random_base32(32)


def begin_enrolment(uow: UnitOfWork, username: str) -> Enrolment:
    """Give the operator a new secret to scan (two-factor stays off until confirmed)."""
    with uow:
        operator = _operator(uow, username)
        if operator.two_factor_enabled:
            raise InvalidInput("two-factor sign-in is already on; an administrator can reset it")
        operator.two_factor_secret = new_secret()
        enrolment = enrolment_for(operator)
        uow.commit()
        return enrolment


def enrolment_for(operator: Operator) -> Enrolment:
    """The QR code and URI for the operator's current (unconfirmed) secret."""
    uri = _totp(operator.two_factor_secret).provisioning_uri(
        name=operator.username, issuer_name=ISSUER
    )
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return Enrolment(operator.two_factor_secret, uri, qr)


def _accept_totp(operator: Operator, code: str, at: datetime) -> bool:
    """Check a TOTP code (±1 step for clock drift), refusing a step used before."""
    code = _normalise(code)
    if not operator.two_factor_secret or not (code.isdigit() and len(code) == 6):
        return False
    totp = _totp(operator.two_factor_secret)
    now_step = int(at.timestamp()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if step <= operator.two_factor_last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            operator.two_factor_last_step = step
            return True
    return False


def _use_recovery_code(uow: UnitOfWork, operator: Operator, code: str, at: datetime) -> bool:
    code = _normalise(code)
    if len(code) != 11:
        return False
    for stored in uow.two_factor.unused_codes(operator.id):
        try:
            _hasher.verify(stored.code_hash, code)
        except (VerificationError, InvalidHashError):
            continue
        stored.used_at = at
        return True
    return False


def check_second_factor(uow: UnitOfWork, operator: Operator, code: str, at: datetime) -> str:
    """Inside an open uow: 'totp' or 'recovery' for a good code, else TwoFactorFailed."""
    if _accept_totp(operator, code, at):
        return "totp"
    if _use_recovery_code(uow, operator, code, at):
        return "recovery"
    raise TwoFactorFailed("wrong or expired code")


def confirm_enrolment_in(
    uow: UnitOfWork, operator: Operator, code: str, at: datetime, address: str | None
) -> list[str]:
    """Inside an open uow: switch two-factor on if the code matches; new recovery codes."""
    if operator.two_factor_enabled:
        raise InvalidInput("two-factor sign-in is already on")
    if not _accept_totp(operator, code, at):
        raise TwoFactorFailed("that code does not match; check the app and the device clock")
    operator.two_factor_enabled = True
    codes = _replace_recovery_codes(uow, operator, at)
    uow.audit.add(
        AuditEntry(at=at, actor=operator.username, action="user.2fa_enabled", address=address)
    )
    return codes


def confirm_enrolment(
    uow: UnitOfWork, username: str, code: str, address: str | None = None
) -> list[str]:
    """Switch two-factor on once the operator typed a code from the app; recovery codes."""
    with uow:
        operator = _operator(uow, username)
        codes = confirm_enrolment_in(uow, operator, code, utcnow(), address)
        uow.commit()
        return codes


def _replace_recovery_codes(uow: UnitOfWork, operator: Operator, at: datetime) -> list[str]:
    uow.two_factor.delete_codes(operator.id)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    assert operator.id is not None
    uow.two_factor.add_codes([RecoveryCode(operator.id, _hasher.hash(code), at) for code in codes])
    return codes


def reset(
    uow: UnitOfWork, username: str, actor: str = "system", address: str | None = None
) -> None:
    """An administrator turns an operator's two-factor off (a lost phone); audited."""
    with uow:
        operator = _operator(uow, username)
        was_on = operator.two_factor_enabled
        operator.two_factor_enabled = False
        operator.two_factor_secret = ""
        operator.two_factor_last_step = 0
        uow.two_factor.delete_codes(operator.id)
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="user.2fa_reset",
                detail={"user": operator.username, "was_on": was_on},
                address=address,
            )
        )
        uow.commit()


def remaining_recovery_codes(uow: UnitOfWork, username: str) -> int:
    """How many unused recovery codes the operator has left."""
    with uow:
        operator = _operator(uow, username)
        return uow.two_factor.count_unused_codes(operator.id)


def role_requires(uow: UnitOfWork, role: Role) -> bool:
    """Inside an open uow: whether the role must sign in with two-factor."""
    policy = uow.two_factor.role_policy(role)
    return policy is not None and policy.require_two_factor


def set_role_policy(
    uow: UnitOfWork,
    role: Role,
    require_two_factor: bool,
    actor: str = "system",
    address: str | None = None,
) -> None:
    """An administrator requires (or stops requiring) two-factor for a role; audited."""
    with uow:
        policy = uow.two_factor.role_policy(role)
        if policy is None:
            policy = RolePolicy(role, require_two_factor)
            uow.two_factor.add_role_policy(policy)
        policy.require_two_factor = require_two_factor
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="role.2fa_required" if require_two_factor else "role.2fa_optional",
                detail={"role": role.value},
                address=address,
            )
        )
        uow.commit()


def role_policies(uow: UnitOfWork) -> dict[str, bool]:
    """Every role and whether it must use two-factor."""
    with uow:
        return {role.value: role_requires(uow, role) for role in Role}
