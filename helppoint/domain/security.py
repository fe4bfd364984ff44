"""Sign-in protection rules: failed-login throttling, two-factor policy, recovery codes.

Pure rules, no I/O: services/login_throttle.py and services/totp.py store and load these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from helppoint.domain.model import Role


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures within a window lock a key, and for how long."""

    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(eq=False)
class LoginThrottle:
    """Failed sign-ins counted for one key: an account ("user:alice") or an address ("addr:…").

    Failures are counted from the first failure of the current window; reaching the policy's
    maximum locks the key until `locked_until`. Unknown usernames are counted exactly like
    real ones, so a lockout says nothing about whether an account exists.
    """

    key: str
    failures: int = 0
    window_started_at: datetime | None = None
    locked_until: datetime | None = None

    def locked_at(self, at: datetime) -> bool:
        """Whether sign-in for this key is refused at the given time."""
        return self.locked_until is not None and at < self.locked_until

    def record_failure(self, at: datetime, policy: ThrottlePolicy) -> bool:
        """Count a failure; True when this failure locks the key."""
        if self.window_started_at is None or at - self.window_started_at > policy.window:
            self.window_started_at = at
            self.failures = 0
        self.failures += 1
        if self.failures >= policy.max_failures and not self.locked_at(at):
            self.locked_until = at + policy.lockout
            self.failures = 0
            self.window_started_at = None
            return True
        return False

    def clear(self) -> None:
        """Forget the failures and any lock (a successful sign-in, or an admin's unlock)."""
        self.failures = 0
        self.window_started_at = None
        self.locked_until = None


@dataclass(eq=False)
class RolePolicy:
    """Per-role sign-in policy set by an administrator."""

    role: Role
    require_two_factor: bool = False


@dataclass(eq=False)
class RecoveryCode:
    """A one-time code that replaces the authenticator once; only its hash is stored."""

    operator_id: int
    code_hash: str
    created_at: datetime
    used_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class PendingSignIn:
    """A password that was right, waiting for the second factor (cookie holds the token)."""

    token_hash: str
    operator_id: int
    created_at: datetime
    expires_at: datetime
    address: str | None = None
    #: Wrong codes so far; the sign-in is dropped after a few.
    failures: int = 0
