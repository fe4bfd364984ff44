"""The console's light button on a SIP help point whose relay is driven by its HTTP API (an
http: light action): a GET to the device with its sealed account, in a call or not; a wrong
account or a dead device is reported, never the password."""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Any

import pytest
from sqlalchemy import text

from helppoint.services.seed import seed_demo
from helppoint.services.sip_units import add_sip_unit
from helppoint.store.sealed import Sealer
from tests.calls.operator_peer import open_incident, signed_in

from .conftest import PASSWORD, UNIT, within
from .device import free_port, require_sip_software
from .intercom_http import IntercomHttpApi

ON = "/api/switch/ctrl?switch=1&action=on"
OFF = "/api/switch/ctrl?switch=1&action=off"
HTTP_PASSWORD = "relay-password-1"


def command_results(http: Any, incident_id: int, count: int) -> Any:
    async def results() -> list[dict[str, Any]]:
        for _ in range(400):
            media = (await http.get(f"/api/incidents/{incident_id}/unit-media")).json()
            done = [c for c in media["commands"] if c["ok"] is not None]
            if len(done) >= count:
                return done
            await asyncio.sleep(0.05)
        raise AssertionError(f"not {count} command results: {media['commands']}")

    return results()


def light(http: Any, incident_id: int, on: bool) -> Any:
    return http.post(
        f"/api/incidents/{incident_id}/unit-commands",
        json={"command": "flash_light", "args": {"on": on, "pattern": "alarm"}},
    )


@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_the_light_button_drives_the_relay_through_the_devices_http_api(
    sqlite_database: Any, server_factory: Any, devices: Any, scheme: str
) -> None:
    require_sip_software()
    api = IntercomHttpApi("admin", HTTP_PASSWORD, scheme)
    key = secrets.token_bytes(32)
    seed_demo(sqlite_database.uow())
    with sqlite_database.uow() as uow:
        add_sip_unit(
            uow,
            UNIT,
            "Racecourse gate intercom",
            "racecourse",
            52.2364,
            -0.9025,
            realm="helppoint",
            keepalive=5,
            password=PASSWORD,
            light_on=f"http:{api.url(ON)}",
            light_off=f"http:{api.url(OFF)}",
            http_user="admin",
            http_password=HTTP_PASSWORD,
            sealer=Sealer(key),
        )
        uow.commit()
    with sqlite_database.session() as session:
        stored = session.execute(text("SELECT http_account FROM sip_accounts")).scalar_one()
    assert HTTP_PASSWORD not in stored  # sealed
    server = server_factory(
        sip_port=free_port(),
        sip_keepalive=5,
        credentials_key=base64.b64encode(key).decode(),
    )
    device = devices(server)
    gateway = server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{server.app.state.settings.sip_port}")

    async def scenario() -> tuple[Any, Any, list[dict[str, Any]]]:
        http = await signed_in(server, "olly")
        try:
            incident_id = await open_incident(http, UNIT)
            # No call answered: an HTTP action needs none.
            on = await light(http, incident_id, True)
            off = await light(http, incident_id, False)
            return on, off, await command_results(http, incident_id, 2)
        finally:
            await http.aclose()

    on, off, results = asyncio.run(scenario())
    assert on.status_code == 200 and off.status_code == 200, (on.text, off.text)
    assert all(r["ok"] for r in results), results
    details = [r["detail"] for r in results]
    target = f"http://127.0.0.1:{api.port}/api/switch/ctrl"
    assert f"sent as HTTP GET to {target}: 200 OK" in details, details
    # The device got both, with its account, in order.
    assert api.accepted == [ON, OFF]
    api.stop()


def test_a_wrong_http_account_and_a_dead_device_are_reported(
    sqlite_database: Any, server_factory: Any, devices: Any
) -> None:
    require_sip_software()
    api = IntercomHttpApi("admin", "the-devices-real-password")
    dead = free_port()
    key = secrets.token_bytes(32)
    seed_demo(sqlite_database.uow())
    with sqlite_database.uow() as uow:
        add_sip_unit(
            uow,
            UNIT,
            "Racecourse gate intercom",
            "racecourse",
            52.2364,
            -0.9025,
            realm="helppoint",
            keepalive=5,
            password=PASSWORD,
            light_on=f"http:{api.url(ON)}",
            light_off=f"http:http://127.0.0.1:{dead}/relay?off=1",
            http_user="admin",
            http_password="not-the-password",
            sealer=Sealer(key),
        )
        uow.commit()
    server = server_factory(
        sip_port=free_port(), sip_keepalive=5, credentials_key=base64.b64encode(key).decode()
    )
    device = devices(server)
    gateway = server.app.state.sip
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{server.app.state.settings.sip_port}")

    async def scenario() -> list[dict[str, Any]]:
        http = await signed_in(server, "olly")
        try:
            incident_id = await open_incident(http, UNIT)
            assert (await light(http, incident_id, True)).status_code == 200
            assert (await light(http, incident_id, False)).status_code == 200
            return await command_results(http, incident_id, 2)
        finally:
            await http.aclose()

    results = asyncio.run(scenario())
    assert not any(r["ok"] for r in results), results
    details = " | ".join(r["detail"] for r in results)
    assert "refused the request (401 Unauthorized): check the unit's HTTP account" in details
    assert f"http://127.0.0.1:{dead}/relay cannot be reached" in details
    assert "not-the-password" not in details and "off=1" not in details
    assert api.accepted == [] and api.refused >= 1
    api.stop()
