"""Playback links of call recordings: short-lived, for one user and one recording.

*Play* (audited as `recording.played`) issues a link that the console's player streams from;
every fetch through it is audited again (`recording.streamed`). The link is signed with a
server secret (services/server_secrets.py), so only the server can issue one: it used to be
keyed by the user's own session cookie, which let a user mint a link for any time (ten years)
without pressing Play and without any audit entry. A link is valid for `lifetime` (minutes, the
`playback_link_minutes` setting) and never longer, whatever it says.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from helppoint.services.server_secrets import server_secret
from helppoint.store.uow import UnitOfWork

#: The name of the signing key in `server_secrets`.
SECRET_NAME = "playback-links"


@dataclass(frozen=True)
class PlaybackLinks:
    """Issues and checks playback tokens ("EXPIRES.SIGNATURE") with the server's secret."""

    secret: bytes
    #: Seconds a link stays valid.
    lifetime: int

    def issue(self, recording_id: int, username: str, now: float) -> str:
        """A token for `username` to stream `recording_id` until now + lifetime."""
        expires = int(now) + self.lifetime
        return f"{expires}.{self._signature(recording_id, username, expires)}"

    def valid(self, recording_id: int, username: str, token: str, now: float) -> bool:
        """Whether `token` was issued by this server to `username` for `recording_id`, and
        has not expired (a token claiming to last longer than `lifetime` is refused)."""
        expires_text, _, signature = token.partition(".")
        if not (expires_text.isascii() and expires_text.isdigit()) or len(expires_text) > 12:
            return False
        expires = int(expires_text)
        if not now <= expires <= now + self.lifetime:
            return False
        expected = self._signature(recording_id, username, expires)
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    def _signature(self, recording_id: int, username: str, expires: int) -> str:
        message = f"playback\x00{recording_id}\x00{username}\x00{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def playback_links(uow: UnitOfWork, lifetime_minutes: int) -> PlaybackLinks:
    """The installation's playback links (the signing key is made on first use)."""
    return PlaybackLinks(server_secret(uow, SECRET_NAME), lifetime_minutes * 60)
