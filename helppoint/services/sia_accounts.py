"""Managing SIA DC-09 accounts: which unit each panel account (and zone) reports for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.domain.sia import DEFAULT_FUTURE, DEFAULT_PAST, SiaAccount, parse_key
from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork

_ACCOUNT = re.compile(r"[0-9A-F]{3,16}")


def check_account(account: str) -> str:
    """The account id, upper case, if it is 3-16 hex digits."""
    account = account.strip().upper()
    if not _ACCOUNT.fullmatch(account):
        raise InvalidInput(f"a DC-09 account is 3-16 hex digits, not {account!r}")
    return account


def save_account(
    uow: UnitOfWork,
    account: str,
    unit_id: str,
    key_hex: str | None = None,
    zone_units: dict[str, str] | None = None,
    tolerance_past: int = DEFAULT_PAST,
    tolerance_future: int = DEFAULT_FUTURE,
    actor: str = "system",
) -> SiaAccount:
    """Add an account or change it (the caller commits)."""
    account = check_account(account)
    units = [unit_id, *(zone_units or {}).values()]
    for unit in units:
        if uow.units.get(unit) is None:
            raise NotFound(f"unit {unit!r} does not exist; provision it first")
    if key_hex is not None:
        try:
            key_hex = parse_key(key_hex).hex().upper()
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    if not (0 <= tolerance_past <= 86_400 and 0 <= tolerance_future <= 86_400):
        raise InvalidInput("timestamp tolerances must be 0-86400 seconds")
    zones = {str(int(z)) if z.isdigit() else z: u for z, u in (zone_units or {}).items()}
    found = uow.sia_accounts.get(account)
    if found is None:
        found = SiaAccount(account=account, unit_id=unit_id, created_at=utcnow())
        uow.sia_accounts.add(found)
    found.unit_id = unit_id
    found.key_hex = key_hex
    found.zone_units = zones
    found.tolerance_past = tolerance_past
    found.tolerance_future = tolerance_future
    found.active = True
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action="sia.account_saved",
            detail={"account": account, "unit": unit_id, "encrypted": key_hex is not None},
        )
    )
    return found


def deactivate_account(uow: UnitOfWork, account: str, actor: str = "system") -> None:
    """Stop accepting messages of an account (they are answered DUH)."""
    found = uow.sia_accounts.get(check_account(account))
    if found is None:
        raise NotFound(f"no DC-09 account {account!r}")
    found.active = False
    uow.audit.add(
        AuditEntry(
            at=utcnow(), actor=actor, action="sia.account_disabled", detail={"account": account}
        )
    )


def list_accounts(uow: UnitOfWork) -> Sequence[SiaAccount]:
    """Every account, in account order."""
    return uow.sia_accounts.list()


def account_view(account: SiaAccount) -> dict[str, Any]:
    """An account for listing (never its key)."""
    return {
        "account": account.account,
        "unit_id": account.unit_id,
        "zone_units": dict(account.zone_units or {}),
        "encrypted": account.key_hex is not None,
        "tolerance_past": account.tolerance_past,
        "tolerance_future": account.tolerance_future,
        "active": account.active,
    }
