"""Sign-in security: failed sign-in counters, two-factor state, and the servers' own secrets.

The rules (when a counter locks, what a recovery code is) are domain/security.py; the use cases
are services/login_throttle.py, totp.py, operators.py and server_secrets.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from helppoint.domain.model import Role
from helppoint.domain.security import LoginThrottle, PendingSignIn, RecoveryCode, RolePolicy
from helppoint.store.tables_security import login_throttles, recovery_codes, server_secrets


def insert_if_missing(session: Session, table: Table, **values: Any) -> None:
    """INSERT … ON CONFLICT DO NOTHING: of two processes inserting at once, the first wins."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing())


class LoginThrottleRepository:
    """Failed sign-in counters, one per account key and per address key."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str, for_update: bool = False) -> LoginThrottle | None:
        return self.session.get(LoginThrottle, key, with_for_update=for_update)

    def locked_row(self, key: str) -> LoginThrottle:
        """The counter for a key, made if missing, locked for update (one writer at a time)."""
        insert_if_missing(self.session, login_throttles, key=key, failures=0)
        row = self.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        return row

    def locked_after(self, at: datetime) -> list[LoginThrottle]:
        """Counters whose lock lasts beyond `at`."""
        query = select(LoginThrottle).where(login_throttles.c.locked_until > at)
        return list(self.session.scalars(query))


class TwoFactorRepository:
    """Recovery codes, the roles that require two-factor, and sign-ins awaiting their code."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def unused_codes(self, operator_id: int | None) -> list[RecoveryCode]:
        c = recovery_codes.c
        query = select(RecoveryCode).where(c.operator_id == operator_id, c.used_at.is_(None))
        return list(self.session.scalars(query))

    def count_unused_codes(self, operator_id: int | None) -> int:
        c = recovery_codes.c
        query = select(func.count()).where(c.operator_id == operator_id, c.used_at.is_(None))
        return int(self.session.scalar(query) or 0)

    def add_codes(self, codes: Sequence[RecoveryCode]) -> None:
        self.session.add_all(codes)

    def delete_codes(self, operator_id: int | None) -> None:
        """Forget all of an operator's recovery codes."""
        self.session.execute(
            delete(recovery_codes).where(recovery_codes.c.operator_id == operator_id)
        )

    def role_policy(self, role: Role) -> RolePolicy | None:
        return self.session.get(RolePolicy, role)

    def add_role_policy(self, policy: RolePolicy) -> None:
        self.session.add(policy)

    def pending(self, token_hash: str) -> PendingSignIn | None:
        """A sign-in waiting for its second factor, locked for update."""
        return self.session.get(PendingSignIn, token_hash, with_for_update=True)

    def add_pending(self, pending: PendingSignIn) -> None:
        self.session.add(pending)

    def delete_pending(self, pending: PendingSignIn) -> None:
        self.session.delete(pending)


class ServerSecretRepository:
    """Secrets the first server process makes and every later one reads."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def made_once(self, name: str, made: str, at: datetime) -> str:
        """The stored value of `name`, storing `made` first if it has none (first one wins)."""
        insert_if_missing(self.session, server_secrets, name=name, value=made, created_at=at)
        c = server_secrets.c
        value: str = self.session.execute(select(c.value).where(c.name == name)).scalar_one()
        return value
