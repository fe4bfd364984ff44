"""Flood limits for the public survey, counted in the database (docs/survey.md).

At most `per_address` answers from one client address and `per_unit` answers to one unit per
clock hour, counted together by every server process sharing the database (a process of its
own would let N processes take N times the limit). The address is never stored: its key is a
keyed hash (HMAC-SHA-256 with a secret the server made, `server_secrets`), kept only until the
hour after; nothing links it to an answer.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from helppoint.services.server_secrets import server_secret
from helppoint.store.uow import UnitOfWork

#: The window the limits count in: a clock hour.
WINDOW = timedelta(hours=1)
#: The name of the key that hashes addresses, in `server_secrets`.
SECRET_NAME = "survey-rate-limits"


class RateLimited(Exception):
    """Too many answers from one address, or to one unit, within the hour."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many answers; try again in {retry_after} s")
        self.retry_after = retry_after


def window_of(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


class RateLimiter:
    """Checks and counts one answer against the scheme's limits (`survey_per_address`,
    `survey_per_unit`)."""

    def __init__(self, per_address: int, per_unit: int):
        self.per_address = per_address
        self.per_unit = per_unit
        self._secret: bytes | None = None

    def address_key(self, uow: UnitOfWork, address: str) -> str:
        if self._secret is None:
            self._secret = server_secret(uow, SECRET_NAME)
        digest = hmac.new(self._secret, address.encode("utf-8", "replace"), hashlib.sha256)
        return f"survey-addr:{digest.hexdigest()[:40]}"

    def check(self, uow: UnitOfWork, address: str, unit_id: str, now: datetime) -> None:
        """Counts one answer from `address` to `unit_id`, or raises RateLimited (counting
        nothing) with the seconds until the window ends."""
        limits = [
            (self.address_key(uow, address), self.per_address),
            (f"survey-unit:{unit_id}", self.per_unit),
        ]
        start = window_of(now)
        with uow:
            full = uow.rate_windows.take(limits, start)
            if full is None:
                uow.rate_windows.forget_before(start - WINDOW)
            uow.commit()
        if full is not None:
            raise RateLimited(max(1, int((start + WINDOW - now).total_seconds()) + 1))
