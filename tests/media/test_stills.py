"""Camera stills: a unit uploads the JPEG it took on activation; it joins the incident, is
checked, kept with its checksum, shown to operators and (for escalated incidents) the police,
and every view is audited."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from helppoint.agent.stills import StillSender, TestPatternStills, http_base
from helppoint.domain.model import Role
from helppoint.services.plans import import_plan
from helppoint.services.stills import MAX_STILL_BYTES
from helppoint.store.tables_media import camera_stills
from tests.notify.receivers import HttpReceiver
from tests.web.test_api import client, press
from tests.web.test_escalation_api import WEBHOOK_ONLY

TAKEN = datetime(2026, 11, 25, 23, 0, 1, tzinfo=UTC)


def jpeg(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="PNG")
    return buffer.getvalue()


def post_still(server: Any, data: bytes, *, unit: str = "HP-06", seq: int = 1, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {kw.pop('key', server.key(unit))}"}
    headers["Content-Type"] = kw.pop("content_type", "image/jpeg")
    return httpx.post(
        f"{server.base_url}/api/units/{unit}/stills",
        params={"seq": seq, "taken_at": TAKEN.isoformat()},
        content=data,
        headers=headers,
        timeout=10,
    )


def still_count(server: Any) -> int:
    with server.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(camera_stills)) or 0)


def test_a_still_joins_its_activations_incident_and_each_view_is_audited(
    live_server_any: Any,
) -> None:
    live_server = live_server_any
    alice = client(live_server, "alice")
    asyncio.run(press(live_server, "HP-06"))
    [incident] = alice.get("/api/incidents/queue").json()
    picture = TestPatternStills("HP-06").capture()

    answer = post_still(live_server, picture)
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored["incident_id"] == incident["id"]
    assert stored["sha256"] == hashlib.sha256(picture).hexdigest()
    assert (stored["width"], stored["height"]) == (640, 360)

    [listed] = alice.get(f"/api/incidents/{incident['id']}/stills").json()
    assert listed["id"] == stored["id"] and listed["taken_at"] == TAKEN.isoformat()
    media = alice.get(f"/api/incidents/{incident['id']}/unit-media").json()
    assert media["latest_still"]["url"] == f"/api/stills/{stored['id']}"

    shown = alice.get(listed["url"])
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert shown.content == picture
    assert shown.headers["x-content-sha256"] == stored["sha256"]
    timeline = alice.get(f"/api/incidents/{incident['id']}").json()["timeline"]
    actions = [(e["actor"], e["action"]) for e in timeline]
    assert ("HP-06", "still.received") in actions
    assert actions.count(("alice", "still.viewed")) == 1
    alice.get(listed["url"])
    timeline = alice.get(f"/api/incidents/{incident['id']}").json()["timeline"]
    assert [e["action"] for e in timeline].count("still.viewed") == 2


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (png(), "image/jpeg", 400, "not a JPEG"),
        (jpeg()[:200], "image/jpeg", 400, "not a valid JPEG"),
        (b"\xff\xd8\xff" + b"garbage" * 50, "image/jpeg", 400, "not a valid JPEG"),
        (b"", "image/jpeg", 400, "empty"),
        (jpeg(), "image/png", 415, "image/jpeg"),
        (b"\xff\xd8\xff" + b"\0" * MAX_STILL_BYTES, "image/jpeg", 413, "bytes"),
    ],
    ids=["png", "truncated", "corrupt", "empty", "wrong-type", "too-big"],
)
def test_bad_stills_are_refused_and_nothing_is_stored(
    live_server: Any, body: bytes, content_type: str, status: int, says: str
) -> None:
    asyncio.run(press(live_server, "HP-06"))
    answer = post_still(live_server, body, content_type=content_type)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert still_count(live_server) == 0


def test_wrong_key_unknown_event_and_other_units_are_refused(live_server: Any) -> None:
    asyncio.run(press(live_server, "HP-06"))
    wrong = post_still(live_server, jpeg(), key="not-the-key")
    assert wrong.status_code == 401
    other = post_still(live_server, jpeg(), unit="HP-06", key=live_server.key("HP-01"))
    assert other.status_code == 401
    no_key = httpx.post(
        f"{live_server.base_url}/api/units/HP-06/stills",
        params={"seq": 1, "taken_at": TAKEN.isoformat()},
        content=jpeg(),
        headers={"Content-Type": "image/jpeg"},
        timeout=None,
    )
    assert no_key.status_code == 401
    early = post_still(live_server, jpeg(), seq=2)  # that activation is not stored (yet)
    assert early.status_code == 409 and "retry" in early.json()["detail"]
    naive = httpx.post(
        f"{live_server.base_url}/api/units/HP-06/stills",
        params={"seq": 1, "taken_at": "2026-11-25T23:00:01"},
        content=jpeg(),
        headers={
            "Authorization": f"Bearer {live_server.key('HP-06')}",
            "Content-Type": "image/jpeg",
        },
        timeout=None,
    )
    assert naive.status_code == 400
    assert still_count(live_server) == 0


def test_police_see_stills_of_incidents_escalated_to_them_only(live_server: Any) -> None:
    receiver = HttpReceiver().start()
    try:
        import_plan(live_server.database.uow(), WEBHOOK_ONLY.format(http=receiver.url), "admin")
        alice = client(live_server, "alice")
        police = client(live_server, "pc-smith", Role.POLICE)
        auditor = client(live_server, "audrey", Role.AUDITOR)
        asyncio.run(press(live_server, "HP-06"))
        [incident] = alice.get("/api/incidents/queue").json()
        still = post_still(live_server, jpeg()).json()
        url = f"/api/stills/{still['id']}"
        assert police.get(url).status_code == 404  # not escalated to them
        assert auditor.get(url).status_code == 403
        assert httpx.get(f"{live_server.base_url}{url}", timeout=None).status_code == 401
        path = f"/api/incidents/{incident['id']}"
        alice.post(f"{path}/acknowledge")
        alice.post(f"{path}/classify", json={"classification": "imminent_threat"})
        alice.post(f"{path}/escalate")
        [shown] = police.get("/api/police/incidents").json()
        assert shown["latest_still"]["url"] == url
        seen = police.get(url)
        assert seen.status_code == 200 and seen.content == jpeg()
        timeline = alice.get(path).json()["timeline"]
        assert ("pc-smith", "still.viewed") in [(e["actor"], e["action"]) for e in timeline]
    finally:
        receiver.stop()


def test_the_agents_sender_retries_until_the_activation_is_stored(live_server: Any) -> None:
    naps: list[float] = []
    pressed = False

    def nap(seconds: float) -> None:
        nonlocal pressed
        naps.append(seconds)
        if not pressed:  # the event reaches the server while the still waits to be sent
            asyncio.run(press(live_server, "HP-03"))
            pressed = True

    sender = StillSender(
        live_server.device_url,
        "HP-03",
        live_server.key("HP-03"),
        TestPatternStills("HP-03"),
        sleep=nap,
    )
    assert sender.send(1) is True
    assert sender.sent == [1] and naps == [0.5]
    assert still_count(live_server) == 1


def test_the_sender_gives_up_on_a_refusal_without_retrying(live_server: Any) -> None:
    asyncio.run(press(live_server, "HP-03"))

    class NotAJpeg:
        def capture(self) -> bytes:
            return png()

    naps: list[float] = []
    sender = StillSender(
        live_server.base_url, "HP-03", live_server.key("HP-03"), NotAJpeg(), sleep=naps.append
    )
    assert sender.send(1) is False
    assert naps == [] and sender.failures == 1


def test_http_base_and_upload_helper() -> None:
    assert http_base("ws://10.0.0.5:8000/device/v1") == "http://10.0.0.5:8000"
    assert http_base("wss://arc.example") == "https://arc.example"
    assert http_base("http://h:1/") == "http://h:1"
    with pytest.raises(ValueError, match="must look like"):
        http_base("ftp://h")


async def test_a_simulated_fleet_sends_a_still_per_press_by_default(live_server: Any) -> None:
    """What the demo and `helppoint simulate` run: each simulated press brings its still."""
    from helppoint.sim.fleet import Fleet

    fleet = Fleet(live_server.device_url, [("HP-02", live_server.key("HP-02"))])
    await fleet.start()
    try:
        await fleet.wait_connected(10)
        fleet.press("HP-02")
        await fleet.wait_all_acked(10)
        for _ in range(200):
            if await asyncio.to_thread(still_count, live_server) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await fleet.stop()
    assert still_count(live_server) == 1
