"""Secrets the server generates once and every server process shares (table `server_secrets`).

A key that signs what one process issues and another checks (a recording's playback link) must
be the same in every process of a cluster and survive restarts, and must never be in the
repository or a config file someone copies around: the first process that needs it makes 32
random bytes and stores them; every later one reads them.
"""

from __future__ import annotations

import base64
import secrets

from helppoint.services.clock import utcnow
from helppoint.store.uow import UnitOfWork


def server_secret(uow: UnitOfWork, name: str) -> bytes:
    """The secret called `name`, made the first time any process asks (32 random bytes)."""
    with uow:
        made = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        # Two processes starting at once: the first insert wins, both read the winner's.
        value = uow.server_secrets.made_once(name, made, utcnow())
        uow.commit()
    return base64.b64decode(value)
