"""Failed sign-in counting and lockout, per account and per client address.

Counters live in the database (table `login_throttles`), so every server process sharing one
PostgreSQL enforces the same limits. Unknown usernames are counted like real ones: a lockout
never tells an attacker whether an account exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.domain.security import ThrottlePolicy
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork


class LoginLocked(Exception):
    """Too many failed sign-ins for this account or this address; retry after a while."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        super().__init__(
            "Too many failed sign-ins for this account or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            "or ask an administrator to unlock it."
        )


@dataclass(frozen=True)
class ThrottlePolicies:
    """The limits for accounts and for client addresses."""

    account: ThrottlePolicy
    address: ThrottlePolicy

    @classmethod
    def from_settings(cls, settings: Any) -> ThrottlePolicies:
        window = timedelta(seconds=settings.login_failure_window)
        lockout = timedelta(seconds=settings.login_lockout_seconds)
        return cls(
            ThrottlePolicy(settings.login_max_failures, window, lockout),
            ThrottlePolicy(settings.login_address_max_failures, window, lockout),
        )


def account_key(username: str) -> str:
    return f"user:{username.strip().lower()[:64]}"


def address_key(address: str) -> str:
    return f"addr:{address[:64]}"


def _keys(username: str, address: str | None) -> list[str]:
    return [account_key(username)] + ([address_key(address)] if address else [])


def check(uow: UnitOfWork, username: str, address: str | None, at: datetime) -> None:
    """Raise LoginLocked if the account or the address is locked now (inside an open uow)."""
    waits = []
    for key in _keys(username, address):
        row = uow.login_throttles.get(key)
        if row is not None and row.locked_at(at):
            assert row.locked_until is not None
            waits.append(row.locked_until - at)
    if waits:
        raise LoginLocked(max(waits))


def record_failure(
    uow: UnitOfWork,
    username: str,
    address: str | None,
    at: datetime,
    policies: ThrottlePolicies,
) -> timedelta | None:
    """Count a failed sign-in (inside an open uow); the lockout length if this one locked."""
    locked: timedelta | None = None
    for key, policy in zip(
        _keys(username, address), (policies.account, policies.address), strict=False
    ):
        row = uow.login_throttles.locked_row(key)
        if row.record_failure(at, policy):
            locked = policy.lockout
            uow.audit.add(
                AuditEntry(
                    at=at,
                    actor="system",
                    action="user.locked_out",
                    detail={"key": key, "until": (at + policy.lockout).isoformat()},
                    address=address,
                )
            )
    return locked


def record_success(uow: UnitOfWork, username: str) -> None:
    """A good sign-in clears the account's failures (the address keeps its count)."""
    row = uow.login_throttles.get(account_key(username))
    if row is not None and (row.failures or row.locked_until):
        row.clear()


def unlock(
    uow: UnitOfWork,
    *,
    username: str | None = None,
    address: str | None = None,
    actor: str = "system",
    client: str | None = None,
) -> bool:
    """An administrator lifts a lockout of an account or an address; False if none was set."""
    if not username and not address:
        raise InvalidInput("give a username or an address to unlock")
    key = account_key(username) if username else address_key(address or "")
    with uow:
        if username and uow.operators.by_username(username.strip().lower()) is None:
            raise NotFound(f"no user {username!r}")
        row = uow.login_throttles.get(key, for_update=True)
        was_locked = row is not None and row.locked_at(utcnow())
        if row is not None:
            row.clear()
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=actor,
                action="user.unlocked",
                detail={"key": key, "was_locked": was_locked},
                address=client,
            )
        )
        uow.commit()
        return was_locked


def locked_keys(uow: UnitOfWork) -> list[dict[str, str]]:
    """Accounts and addresses locked now, with when their lock ends."""
    now = utcnow()
    with uow:
        rows = uow.login_throttles.locked_after(now)
        return [
            {"key": r.key, "locked_until": r.locked_until.isoformat()}
            for r in rows
            if r.locked_until is not None
        ]
