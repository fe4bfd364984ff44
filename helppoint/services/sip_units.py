"""SIP help points as units: adding one (its SIP account) and what the SIP gateway loads."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.domain.sip import (
    SipAccount,
    check_token,
    digest_ha1,
    parse_light_action,
    refusal_notice,
)
from helppoint.services.clock import utcnow
from helppoint.services.units import provision_unit
from helppoint.store.sealed import Sealer
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic

#: Shortest password accepted for a SIP account (intercoms take long ones; digest over MD5
#: is only as strong as the password).
MIN_PASSWORD = 12


@dataclass(frozen=True)
class SipUnitAdded:
    """A SIP unit and the credentials to enter in the device (the password is shown once)."""

    unit_id: str
    username: str
    password: str
    realm: str


def add_sip_unit(
    uow: UnitOfWork,
    unit_id: str,
    name: str,
    zone_id: str,
    latitude: float,
    longitude: float,
    *,
    realm: str,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
    light_on: str = "none",
    light_off: str = "none",
    http_user: str | None = None,
    http_password: str = "",
    sealer: Sealer | None = None,
    srtp: bool | None = None,
    actor: str = "system",
) -> SipUnitAdded:
    """Add a unit that is a SIP device, or give an existing SIP unit a new password.

    The unit is supervised by its SIP keepalives, so its heartbeat period is `keepalive`.
    `http_user` (with `http_password`) is the account of the device's HTTP API for http:
    light actions, sealed with `sealer`; None keeps the one it has, "" removes it. `srtp`:
    call the unit back with SRTP offered (None keeps what it has).
    The caller commits.
    """
    username = check_token(username or unit_id, "the SIP username")
    realm = check_token(realm, "the SIP realm")
    parse_light_action(light_on)
    parse_light_action(light_off)
    if http_user:
        if sealer is None:
            raise InvalidInput("an HTTP account needs the credentials key to seal it")
        unprintable = any(
            ord(ch) < 32 or ord(ch) == 127 or "\ud800" <= ch <= "\udfff"
            for ch in http_user + http_password
        )
        if unprintable or ":" in http_user or len(http_user) > 64 or len(http_password) > 128:
            raise InvalidInput(
                "the HTTP user name (at most 64 characters, no ':') and password (at most 128) "
                "must be printable text"
            )
    if password is None:
        password = secrets.token_urlsafe(18)
    if len(password) < MIN_PASSWORD or any(ord(ch) < 32 or ch in '"\\' for ch in password):
        raise InvalidInput(
            f"the SIP password must be at least {MIN_PASSWORD} characters, without quotes, "
            "backslashes or control characters"
        )
    taken = uow.sip_accounts.with_username(username, other_than=unit_id)
    if taken is not None:
        raise InvalidInput(f"the SIP username {username!r} is already unit {taken.unit_id}'s")
    existing = uow.units.get(unit_id)
    if existing is not None and uow.sip_accounts.get(unit_id) is None:
        raise InvalidInput(
            f"unit {unit_id} exists and runs the helppoint agent; a SIP device needs a unit "
            "of its own"
        )
    # The unit gets a device-link key nobody holds: a SIP unit never opens a device link.
    provision_unit(uow, unit_id, name, zone_id, latitude, longitude, actor=actor)
    unit = uow.units.get(unit_id)
    assert unit is not None
    unit.heartbeat_period = keepalive
    account = uow.sip_accounts.get(unit_id)
    if account is None:
        account = SipAccount(
            unit_id=unit_id, username=username, realm=realm, ha1="", created_at=utcnow()
        )
        uow.sip_accounts.add(account)
    account.username, account.realm = username, realm
    account.ha1 = digest_ha1(username, realm, password)
    account.light_on, account.light_off = light_on.strip(), light_off.strip()
    if http_user is not None:
        account.http_account = None
        if http_user:
            assert sealer is not None
            account.http_account = sealer.seal(
                json.dumps({"user": http_user, "password": http_password}), _http_context(unit_id)
            )
    if srtp is not None:
        account.srtp = srtp
    account.active = True
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action="sip.account_saved",
            detail={
                "unit": unit_id,
                "username": username,
                "realm": realm,
                "http_account": account.http_account is not None,
                "srtp": account.srtp,
            },
        )
    )
    return SipUnitAdded(unit_id, username, password, realm)


def _http_context(unit_id: str) -> str:
    return f"sip-http:{unit_id}"


def open_http_account(sealed: str | None, unit_id: str, sealer: Sealer) -> tuple[str, str] | None:
    """(user, password) of a SIP unit's HTTP API account, None if it has none; SealError if
    it cannot be opened (another credentials key sealed it)."""
    if not sealed:
        return None
    account = json.loads(sealer.open(sealed, _http_context(unit_id)))
    return str(account["user"]), str(account["password"])


def sip_accounts_of(uow: UnitOfWork) -> Sequence[SipAccount]:
    """Every SIP account in service (what the SIP gateway lets register and call)."""
    return uow.sip_accounts.in_service()


def sip_account(uow: UnitOfWork, unit_id: str) -> SipAccount:
    """The SIP account of a unit."""
    account = uow.sip_accounts.get(unit_id)
    if account is None:
        raise NotFound(f"unit {unit_id!r} is not a SIP help point")
    return account


def is_sip_unit(uow: UnitOfWork, unit_id: str) -> bool:
    """Whether the unit is a SIP device (else it runs the helppoint agent)."""
    return uow.sip_accounts.get(unit_id) is not None


#: What the SIP server tells of refused or bad traffic (kamailio.cfg's HPSIP lines).
REFUSAL_EVENTS = ("refused", "flood", "malformed")


def record_sip_refusal(uow: UnitOfWork, event: dict[str, object]) -> bool:
    """Put a refusal the SIP server told of on the audit trail (sip.refused, sip.flood,
    sip.malformed) and tell the supervisors' consoles at once (a supervisor alert saying what
    was refused and why); False for anything else. The SIP server tells each at most once a
    minute per address (and account and reason), so a flood is one notice a minute."""
    kind = event.get("event")
    if kind not in REFUSAL_EVENTS:
        return False
    detail = {
        name: str(event[name])[:128]
        for name in ("reason", "method", "user", "address")
        if event.get(name) is not None
    }
    with uow:
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor="sip",
                action=f"sip.{kind}",
                detail=detail,
                address=detail.get("address"),
            )
        )
        uow.publish_after_commit(
            Topic.SUPERVISOR_ALERT,
            {
                "kind": f"sip_{kind}",
                "title": "SIP refused",
                "message": refusal_notice(event),
                "address": detail.get("address"),
            },
        )
        uow.commit()
    return True
