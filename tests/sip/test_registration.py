"""SIP help points register with helppoint's SIP server and are supervised like our units.

The device is Debian's baresip: it registers with digest authentication, answers the SIP
server's OPTIONS keepalives, and is frozen (SIGSTOP) to play a dead intercom.
"""

from __future__ import annotations

from typing import Any

from helppoint.domain.model import HelpPoint

from .conftest import UNIT, within


def unit(server: Any, unit_id: str = UNIT) -> HelpPoint:
    with server.database.uow() as uow:
        found = uow.units.get(unit_id)
        assert found is not None
        return found  # detached (loaded, readable) when the unit of work closes its session


def test_a_registered_intercom_is_up_and_one_that_stops_answering_is_reported_down(
    sip_server: Any, devices: Any
) -> None:
    assert unit(sip_server).last_seen_at is None  # not heard from yet
    device = devices(sip_server)
    within(lambda: unit(sip_server).last_seen_at is not None, 10, "the registration is heard")
    assert unit(sip_server).heartbeat_period == 5  # supervised by the keepalives

    device.pause()  # answers no keepalive from now on
    within(lambda: unit(sip_server).supervision_status == "down", 20, "reported down")
    with sip_server.database.uow() as uow:
        flip = uow.supervision.last_flip(UNIT, "down")
        assert flip is not None and flip.incident_id is not None  # a fault incident
        assert uow.tickets.open_for(UNIT, "offline") is not None  # and a maintenance ticket

    device.resume()  # the keepalives are answered again
    within(lambda: unit(sip_server).supervision_status == "up", 20, "reported up again")


def test_a_wrong_password_is_refused_and_told_and_the_unit_stays_unheard(
    sip_server: Any, devices: Any
) -> None:
    devices(sip_server, password="not the password at all")
    gateway = sip_server.app.state.sip
    refusal = within(
        lambda: next((e for e in gateway.events if e.get("event") == "refused"), None),
        10,
        "the refusal is told",
    )
    assert refusal == {
        "event": "refused",
        "reason": "wrong password",
        "method": "REGISTER",
        "user": UNIT,
        "address": "127.0.0.1",
    }
    assert unit(sip_server).last_seen_at is None


def test_an_unknown_account_is_refused(sip_server: Any, devices: Any) -> None:
    devices(sip_server, username="SIP-99")
    gateway = sip_server.app.state.sip
    refusal = within(
        lambda: next((e for e in gateway.events if e.get("event") == "refused"), None),
        10,
        "the refusal is told",
    )
    assert refusal["reason"] == "unknown account" and refusal["user"] == "SIP-99"
