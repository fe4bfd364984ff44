"""Several SIP help points pressed and answered at once: every call carries audio both ways.

Three baresip devices call together; their calls are answered concurrently (the answers, the
media relay's offers and answers and the hub's peers interleave), and each operator's peer
must hear its device and each device its operator: a call set up without audio, in either
direction, fails the test, however the interleaving goes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from helppoint.services.seed import seed_demo
from tests.calls.operator_peer import OperatorPeer, open_incident, signed_in
from tests.conftest import Database

from .conftest import add_unit, within
from .device import dominant_hz, free_port, require_sip_software

UNITS = ["SIP-01", "SIP-02", "SIP-03"]


def test_presses_answered_at_once_all_carry_audio_both_ways(
    sqlite_database: Database, server_factory: Any, devices: Any
) -> None:
    require_sip_software()
    seed_demo(sqlite_database.uow())
    for unit in UNITS:
        add_unit(sqlite_database, unit)
    server = server_factory(sip_port=free_port(), sip_keepalive=5)
    gateway = server.app.state.sip
    phones = [devices(server, username=unit, tone_hz=440.0) for unit in UNITS]
    within(lambda: set(UNITS) <= gateway.registered, 20, "the devices register")
    port = server.app.state.settings.sip_port
    for phone in phones:
        phone.command("dial", f"sip:helppoint@127.0.0.1:{port}")

    async def answer_all_at_once() -> None:
        http = await signed_in(server, "olly")
        operators = [OperatorPeer() for _ in UNITS]
        try:
            incidents = [await open_incident(http, unit) for unit in UNITS]
            for incident_id in incidents:
                await asyncio.to_thread(
                    within, lambda i=incident_id: gateway.agent.ringing_for(i), 10, "it rings"
                )

            async def answer(operator: OperatorPeer, incident_id: int) -> None:
                response = await http.post(
                    f"/api/incidents/{incident_id}/call",
                    json={"type": "offer", "sdp": await operator.offer()},
                )
                assert response.status_code == 200, response.text
                await operator.accept(response.json())

            await asyncio.gather(*map(answer, operators, incidents))
            for operator, unit in zip(operators, UNITS, strict=True):
                for _ in range(400):
                    if operator.audio is not None:
                        break
                    await asyncio.sleep(0.05)
                assert operator.audio is not None, f"no audio track from {unit}"
                await operator.audio.wait_for(50, loud=True, timeout=30)
            await asyncio.sleep(2)  # some seconds of each operator's voice at each device
            for incident_id in incidents:
                hangup = await http.post(f"/api/incidents/{incident_id}/call/hangup")
                assert hangup.status_code == 200, hangup.text
        finally:
            for operator in operators:
                await operator.close()
            await http.aclose()

    asyncio.run(answer_all_at_once())
    for phone, unit in zip(phones, UNITS, strict=True):
        within(lambda p=phone: "terminated" in p.log().lower(), 10, f"{unit}'s call ends")
        heard = within(
            lambda p=phone: list(p.recordings.glob("dump-*-dec.wav")), 10, "its recording"
        )
        hz, level = dominant_hz(heard[0])
        assert abs(hz - 330) < 15 and level > 100, (unit, hz, level)  # it heard its operator
