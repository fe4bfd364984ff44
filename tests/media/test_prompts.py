"""Custom prompts: an admin uploads audio files (really audio, size- and length-limited,
stored with a checksum, audited); a unit fetches one it does not have, with its key, caches it
by checksum and plays it when the operator asks."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from helppoint.agent.media import PromptCache, PromptUnavailable
from helppoint.domain.model import Role
from helppoint.services.prompts import MAX_PROMPT_BYTES
from helppoint.store.tables_media import unit_prompts
from tests.waiting import eventually
from tests.web.test_api import client

from .audio_files import encoded, wav
from .test_light_and_close import commands, signed_in


def admin(server: Any) -> httpx.Client:
    return client(server, "ada", Role.ADMIN)


def upload(http: httpx.Client, name: str, data: bytes, title: str = "Stay here") -> Any:
    return http.put(f"/api/admin/prompts/{name}", params={"title": title}, content=data)


def stored(server: Any) -> int:
    with server.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(unit_prompts)) or 0)


def audit_actions(server: Any) -> list[tuple[str, str, dict[str, Any]]]:
    with server.database.uow() as uow:
        return [(e.actor, e.action, e.detail) for e in uow.audit.in_chain_order()]


@pytest.mark.parametrize(
    ("maker", "fmt", "content_type"),
    [
        (lambda: wav(), "wav", "audio/wav"),
        (lambda: encoded("ogg", "libopus"), "ogg", "audio/ogg"),
        (lambda: encoded("flac", "flac"), "flac", "audio/flac"),
        (lambda: encoded("mp3", "libmp3lame"), "mp3", "audio/mpeg"),
    ],
    ids=["wav", "ogg-opus", "flac", "mp3"],
)
def test_an_admin_uploads_real_audio_which_is_listed_audited_and_downloadable(
    live_server_any: Any, maker: Any, fmt: str, content_type: str
) -> None:
    server = live_server_any
    data = maker()
    answer = upload(admin(server), "stay_calm_cy", data, "Arhoswch yma (Welsh)")
    assert answer.status_code == 201, answer.text
    facts = answer.json()
    assert facts["format"] == fmt and facts["content_type"] == content_type
    assert facts["sha256"] == hashlib.sha256(data).hexdigest()
    assert 950 <= facts["duration_ms"] <= 1100 and facts["uploaded_by"] == "ada"

    listed = client(server, "alice").get("/api/prompts").json()
    assert [p["name"] for p in listed if p["builtin"]] == ["connecting", "help_on_way", "stay_calm"]
    [custom] = [p for p in listed if not p["builtin"]]
    assert custom["title"] == "Arhoswch yma (Welsh)" and "data" not in custom
    assert (
        "ada",
        "prompt.uploaded",
        {"name": "stay_calm_cy", "sha256": facts["sha256"], "size": len(data)},
    ) in audit_actions(server)

    key = {"Authorization": f"Bearer {server.key('HP-01')}"}
    audio = httpx.get(
        f"{server.base_url}/api/units/HP-01/prompts/stay_calm_cy", headers=key, timeout=None
    )
    assert audio.status_code == 200 and audio.content == data
    assert audio.headers["content-type"] == content_type
    assert audio.headers["x-content-sha256"] == facts["sha256"]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "status", "says"),
    [
        ("notes", b"hello, I am a text file", 400, "not audio"),
        ("picture", _png(), 400, "not audio"),
        ("script", b"#!/bin/sh\nrm -rf /\n", 400, "not audio"),
        ("empty", b"", 400, "empty"),
        ("header_only", wav()[:44], 400, "holds no audio"),
        ("garbage_wav", wav()[:12] + b"\0" * 500, 400, "cannot be decoded"),
        ("truncated_ogg", encoded("ogg", "libopus")[:300], 400, "cannot be decoded"),
        ("fake_mp3", b"ID3" + b"\x01" * 1000, 400, "cannot be decoded"),
        ("too_long", wav(61), 400, "longer than 60 s"),
        ("too_big", b"RIFF" + b"\0" * MAX_PROMPT_BYTES, 413, "bytes"),
        ("Bad-Name", wav(), 400, "lower-case"),
        ("connecting", wav(), 400, "built-in"),
    ],
)
def test_bad_uploads_are_refused_with_a_clear_reason_and_nothing_changes(
    live_server: Any, name: str, data: bytes, status: int, says: str
) -> None:
    http = admin(live_server)
    answer = upload(http, name, data)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert stored(live_server) == 0
    assert not [a for _, a, _ in audit_actions(live_server) if a.startswith("prompt.")]


def test_only_admins_manage_prompts_and_only_units_download_them(live_server: Any) -> None:
    alice = client(live_server, "alice")
    assert upload(alice, "stay_here", wav()).status_code == 403
    assert alice.get("/admin/prompts").status_code == 403
    ada = admin(live_server)
    assert ada.get("/admin/prompts").status_code == 200
    assert upload(ada, "stay_here", wav()).status_code == 201
    url = f"{live_server.base_url}/api/units/HP-01/prompts/stay_here"
    assert httpx.get(url, timeout=None).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=None).status_code == 401
    assert alice.get("/api/units/HP-01/prompts/stay_here").status_code == 401
    key = {"Authorization": f"Bearer {live_server.key('HP-01')}"}
    assert (
        httpx.get(url.replace("stay_here", "missing"), headers=key, timeout=None).status_code == 404
    )

    replaced = upload(ada, "stay_here", wav(frequency=660.0))
    assert replaced.status_code == 201 and stored(live_server) == 1
    assert httpx.get(url, headers=key, timeout=None).content == wav(frequency=660.0)
    assert ada.delete("/api/admin/prompts/stay_here").status_code == 204
    assert ada.delete("/api/admin/prompts/stay_here").status_code == 404
    assert stored(live_server) == 0
    actions = [a for _, a, _ in audit_actions(live_server) if a.startswith("prompt.")]
    assert actions == ["prompt.uploaded", "prompt.uploaded", "prompt.deleted"]


async def test_the_unit_fetches_caches_and_plays_a_custom_prompt(
    live_server: Any, linked_unit: Any, changes: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(lambda: upload(admin(live_server), "gate_closed", wav()))
    unit = linked_unit(live_server, "HP-07")
    cache = PromptCache(live_server.base_url, "HP-07", live_server.key("HP-07"), tmp_path)
    unit.agent.prompt_cache = cache
    unit.agent.activate()
    await changes.until(lambda: unit.outbox.unacked_count("HP-07") == 0)
    http = await signed_in(live_server)
    [incident] = (await http.get("/api/incidents/queue")).json()
    path = f"/api/incidents/{incident['id']}/unit-commands"
    play = {"command": "play_message", "args": {"message": "gate_closed"}}
    speaker = unit.hardware.speaker

    for times in (1, 2):
        assert (await http.post(path, json=play)).status_code == 200
        await eventually(lambda t=times: speaker.played.count("gate_closed") == t)  # type: ignore[misc]
    digest = hashlib.sha256(wav()).hexdigest()
    assert speaker.files == [tmp_path / f"{digest}.wav"] * 2
    assert speaker.files[0].read_bytes() == wav()
    assert cache.downloads == 1  # the second time came from the cache

    # A built-in message needs no download; an unknown one is refused before it is sent.
    builtin = {"command": "play_message", "args": {"message": "help_on_way"}}
    assert (await http.post(path, json=builtin)).status_code == 200
    unknown = {"command": "play_message", "args": {"message": "no_such_prompt"}}
    refused = await http.post(path, json=unknown)
    assert refused.status_code == 400 and "no prompt" in refused.json()["detail"]
    await eventually(
        lambda: len(commands(live_server)) == 3 and all(c[2] for c in commands(live_server))
    )
    assert commands(live_server)[0][1] == {
        "message": "gate_closed",
        "sha256": digest,
        "format": "wav",
    }
    await http.aclose()


def test_the_cache_refuses_a_download_whose_checksum_does_not_match(
    live_server: Any, tmp_path: Path
) -> None:
    upload(admin(live_server), "gate_closed", wav())
    cache_dir = tmp_path / "prompts"
    cache = PromptCache(live_server.base_url, "HP-07", live_server.key("HP-07"), cache_dir)
    with pytest.raises(PromptUnavailable, match="different checksum"):
        cache.fetch("gate_closed", "0" * 64, "wav")
    with pytest.raises(PromptUnavailable, match="bad prompt checksum"):
        cache.fetch("gate_closed", "../../etc/passwd", "wav")
    bad_key = PromptCache(live_server.base_url, "HP-07", "wrong", cache_dir)
    with pytest.raises(PromptUnavailable, match="HTTP 401"):
        bad_key.fetch("gate_closed", hashlib.sha256(wav()).hexdigest(), "wav")
    assert not cache_dir.exists()
