"""Recording playback links: only the server issues them (a server secret), for minutes, and
every fetch of the media is audited."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from helppoint.config import ConfigError, Settings
from helppoint.domain.model import Role
from helppoint.services.playback_links import PlaybackLinks, playback_links
from helppoint.services.server_secrets import server_secret
from helppoint.web.deps import SESSION_COOKIE
from tests.calls.test_recordings import recorded_call
from tests.conftest import Database, LiveServer, http_client

PASSWORD = "correct horse battery"


@pytest.fixture
def server(server_factory: Any, tmp_path: Path) -> LiveServer:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    live: LiveServer = server_factory(recordings_dir=str(recordings), supervision=False)
    return live


def _recording(server: LiveServer) -> int:
    directory = Path(server.app.state.settings.recordings_dir)
    return recorded_call(server.database, directory, ended=_now())


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _reader(server: LiveServer, username: str = "olive") -> httpx.Client:
    server.add_operator(username, PASSWORD, Role.OPERATOR)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": username, "password": PASSWORD}).is_success
    return http


def _actions(server: LiveServer) -> list[tuple[str, str, dict[str, Any]]]:
    with server.database.uow() as uow:
        rows, _ = uow.audit.search(limit=500)
        return [(r.action, r.actor, r.detail) for r in reversed(rows)]


def test_a_link_made_with_ones_own_session_cookie_is_refused(server: LiveServer) -> None:
    # What the review did: the old link was an HMAC keyed by the session cookie, which the user
    # holds, so they could make one lasting ten years without pressing Play (nothing audited).
    recording = _recording(server)
    http = _reader(server)
    session = http.cookies[SESSION_COOKIE]
    expires = int(time.time()) + 10 * 365 * 24 * 3600
    message = f"{recording}:olive:{expires}".encode()
    digest = hmac.new(session.encode(), message, hashlib.sha256).hexdigest()
    forged = http.get(f"/api/recordings/{recording}/media", params={"token": f"{expires}.{digest}"})
    assert forged.status_code == 403
    assert not [a for a in _actions(server) if a[0].startswith("recording.")]


def test_play_then_every_fetch_of_the_media_is_audited(server: LiveServer) -> None:
    recording = _recording(server)
    http = _reader(server)
    link = http.post(f"/api/recordings/{recording}/play").json()["url"]
    whole = http.get(link)
    assert whole.status_code == 200 and whole.content == b"recorded media"
    part = http.get(link, headers={"Range": "bytes=9-"})
    assert part.status_code == 206 and part.content == b"media"
    trail = [(action, actor, detail) for action, actor, detail in _actions(server)]
    played = [a for a in trail if a[0] == "recording.played"]
    streamed = [a for a in trail if a[0] == "recording.streamed"]
    assert [(a[1], a[2]["recording_id"]) for a in played] == [("olive", recording)]
    assert [(a[1], a[2]["recording_id"], a[2]["range"]) for a in streamed] == [
        ("olive", recording, "whole file"),
        ("olive", recording, "bytes=9-"),
    ]
    # The link is the user's own: another user (and another recording) cannot use it.
    other = _reader(server, "oscar")
    assert other.get(link).status_code == 403
    token = link.split("token=")[1]
    elsewhere = http.get(f"/api/recordings/{recording + 1}/media", params={"token": token})
    assert elsewhere.status_code == 403


def test_a_link_lasts_the_configured_minutes_and_never_longer(sqlite_database: Database) -> None:
    links = playback_links(sqlite_database.uow(), lifetime_minutes=10)
    now = 1_800_000_000.0
    token = links.issue(7, "olive", now)
    assert links.valid(7, "olive", token, now)
    assert links.valid(7, "olive", token, now + 600)
    assert not links.valid(7, "olive", token, now + 601)  # expired
    assert not links.valid(8, "olive", token, now)  # another recording
    assert not links.valid(7, "oscar", token, now)  # another user
    expires, _, signature = token.partition(".")
    assert not links.valid(7, "olive", f"{int(expires) + 1}.{signature}", now)  # altered
    # Even signed by the server, a link claiming more than the lifetime is refused.
    longer = PlaybackLinks(links.secret, 3600).issue(7, "olive", now)
    assert not links.valid(7, "olive", longer, now)
    wide_digits = "\uff11\uff12.x"
    for junk in ("", ".", "abc.def", "99999999999999999999.x", wide_digits, f"{expires}.\udcff"):
        assert not links.valid(7, "olive", junk, now)


def test_the_signing_key_is_made_once_and_shared(database: Database) -> None:
    keys: list[bytes] = []

    def first_start() -> None:
        keys.append(server_secret(database.uow(), "playback-links"))

    starts = [threading.Thread(target=first_start) for _ in range(4)]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1 and len(keys[0]) == 32
    # Another process (a restart, the next server of a cluster) signs with the same key.
    assert playback_links(database.uow(), 10).secret == keys[0]
    assert server_secret(database.uow(), "another") != keys[0]


def test_the_link_lifetime_is_a_setting() -> None:
    assert Settings().playback_link_minutes == 10
    for bad in (0, 61):
        with pytest.raises(ConfigError, match="playback_link_minutes"):
            Settings().with_values({"playback_link_minutes": bad})
