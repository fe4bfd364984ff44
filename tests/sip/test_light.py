"""The console's light button on a SIP help point: DTMF (RFC 4733) or SIP INFO in its call,
as its account says; baresip (the help point) logs the digits it receives."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helppoint.services.seed import seed_demo
from tests.calls.operator_peer import OperatorPeer, open_incident, signed_in

from .conftest import UNIT, add_unit, within
from .device import free_port


def light(http: Any, incident_id: int, on: bool) -> Any:
    return http.post(
        f"/api/incidents/{incident_id}/unit-commands",
        json={"command": "flash_light", "args": {"on": on, "pattern": "alarm"}},
    )


@pytest.mark.parametrize(
    ("action", "sent", "codecs"),
    [
        ("dtmf:*1", "DTMF *1 (RFC 4733)", "PCMU"),
        ("info:5", "SIP INFO 5", "PCMU"),
        # SIP INFO is the way to an Opus device that offers telephone-event at 8 kHz only
        # (as Debian's baresip 1.0 does): docs/sip.md.
        ("info:5", "SIP INFO 5", "opus/48000/2"),
        ("dtmf:*1", "DTMF *1 (RFC 4733)", "PCMU+srtp"),
    ],
    ids=["dtmf", "info", "info-opus", "dtmf-srtp"],
)
def test_the_light_button_sends_the_units_action_in_its_call(
    sqlite_database: Any, server_factory: Any, devices: Any, action: str, sent: str, codecs: str
) -> None:
    seed_demo(sqlite_database.uow())
    add_unit(sqlite_database, light_on=action)
    server = server_factory(sip_port=free_port(), sip_keepalive=5)
    codecs, _, srtp = codecs.partition("+")
    device = devices(server, codecs=codecs, mediaenc="srtp-mand" if srtp else "")
    gateway = server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")

    async def scenario() -> tuple[int, Any, Any, Any]:
        http = await signed_in(server, "olly")
        device.command("dial", f"sip:helppoint@127.0.0.1:{server.app.state.settings.sip_port}")
        incident_id = await open_incident(http, UNIT)
        # Not in a call yet: the light of a SIP unit is switched within its call.
        before = await light(http, incident_id, True)
        operator = OperatorPeer()
        try:
            await asyncio.to_thread(
                within, lambda: gateway.agent.ringing_for(incident_id), 10, "the call rings"
            )
            response = await http.post(
                f"/api/incidents/{incident_id}/call",
                json={"type": "offer", "sdp": await operator.offer()},
            )
            assert response.status_code == 200, response.text
            await operator.accept(response.json())
            on = await light(http, incident_id, True)
            off = await light(http, incident_id, False)  # its light_off is none
            media = (await http.get(f"/api/incidents/{incident_id}/unit-media")).json()
            return incident_id, before, (on, off), media
        finally:
            await operator.close()
            await http.aclose()

    _, before, (on, off), media = asyncio.run(scenario())
    assert before.status_code == 409 and "within its call" in before.json()["detail"]
    assert on.status_code == 200, on.text
    assert off.status_code == 409 and "light action is none" in off.json()["detail"]
    sent_ok = [c for c in media["commands"] if c["ok"]]
    assert sent_ok, media["commands"]
    sent_on = sent_ok[0]
    assert sent_on["command"] == "flash_light" and sent in sent_on["detail"]
    digits = action.partition(":")[2]
    # The help point received the digits.
    try:
        within(lambda: device.dtmf_received() == digits, 10, f"the device receives {digits}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the device's events: {device.events}") from None
