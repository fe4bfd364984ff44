"""Personal API tokens for scripts: who may make one with which role, and when one works.

A token acts as its owner with a role the owner chose when making it: the owner's own role or
one with fewer permissions (a report script of an admin can be made `auditor` or `supervisor`).
It stops working when revoked, when it expires, when its owner is disabled, or when the
owner's role no longer covers the token's. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from helppoint.domain.errors import InvalidInput
from helppoint.domain.model import ROLE_PERMISSIONS, Role

#: What a token starts with, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "hp_"
MAX_NAME = 100


def role_within(owner: Role, wanted: Role) -> bool:
    """Whether a token of role `wanted` gives no permission the owner's role lacks."""
    return ROLE_PERMISSIONS[wanted] <= ROLE_PERMISSIONS[owner]


def check_token_role(owner: Role, wanted: Role) -> None:
    """InvalidInput unless the owner may make a token with the wanted role."""
    if not role_within(owner, wanted):
        raise InvalidInput(
            f"the token's owner is a {owner.value} and cannot make a token with the "
            f"{wanted.value} role: a token may do only what its owner may"
        )


def check_name(name: str) -> str:
    """What the token is for, as its owner names it (shown in lists and the audit trail)."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise InvalidInput(f"name the token (1-{MAX_NAME} printable characters), e.g. 'reports'")
    return name


@dataclass(eq=False)
class ApiToken:
    """A personal API token; only the hash of its secret is stored."""

    operator_id: int
    name: str
    role: Role
    token_hash: str
    #: The first characters of the token, to tell tokens apart in lists (not secret enough
    #: to use).
    hint: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    id: int | None = None

    def usable_at(self, at: datetime) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)
