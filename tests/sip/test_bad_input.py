"""Bad input to the SIP side: malformed SIP, unknown callers, floods. Each is refused and
told (logged, and on the audit trail for supervisors), nothing crashes, no incident opens,
and a real device goes on working.

The malformed and hostile messages are written by hand here: they are the test's input (no
SIP is parsed by helppoint itself; the SIP server parses and refuses them).
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from tests.calls.operator_peer import signed_in
from tests.waiting import first_message

from .conftest import UNIT, within


def audit(server: Any, action: str) -> list[Any]:
    with server.database.uow() as uow:
        rows, _ = uow.audit.search(action=action, limit=100)
        return list(rows)


def request(method: str, user: str, port: int, source_port: int, extra: str = "") -> bytes:
    """A minimal well-formed SIP request from `user`."""
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    tag = uuid.uuid4().hex[:8]
    call_id = uuid.uuid4().hex
    return (
        f"{method} sip:helppoint@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{source_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={tag}\r\n"
        f"To: <sip:helppoint@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:{user}@127.0.0.1:{source_port}>\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def invite_as_intruder(port: int) -> None:
    """An INVITE from an account the server does not know, with made-up credentials."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        source = sock.getsockname()[1]
        sock.sendto(request("INVITE", "intruder", port, source), ("127.0.0.1", port))
        challenge = sock.recv(65536)
        assert status_of(challenge) == 407  # a digest challenge first, as for anyone
        credentials = (
            'Proxy-Authorization: Digest username="intruder", realm="helppoint", '
            'nonce="x", uri="sip:helppoint@127.0.0.1", response="00"\r\n'
        )
        sock.sendto(request("INVITE", "intruder", port, source, credentials), ("127.0.0.1", port))
        answers = [sock.recv(65536)]
        assert status_of(answers[-1]) in (403, 407), answers


async def supervisor_alerts(server: Any, during: Any) -> list[dict[str, Any]]:
    """The supervisor alerts a supervisor's console receives while `during()` runs in a
    thread, until the first arrives."""
    http = await signed_in(server, "sue", Role.SUPERVISOR)
    token = http.cookies.get("helppoint_session")
    await http.aclose()
    url = server.base_url.replace("http", "ws") + "/console/ws"
    async with connect(url, additional_headers={"Cookie": f"helppoint_session={token}"}) as feed:
        assert json.loads(await feed.recv())["type"] == "snapshot"
        await asyncio.to_thread(during)
        message = await first_message(
            feed, lambda m: m["type"] == "supervisor_alert", 30, "a supervisor alert"
        )
        return [message["data"]]


def test_an_unknown_caller_is_refused_without_an_incident_and_told(
    sip_server: Any, devices: Any
) -> None:
    port = sip_server.app.state.settings.sip_port
    [alert] = asyncio.run(supervisor_alerts(sip_server, lambda: invite_as_intruder(port)))
    # The supervisors' consoles are told at once, in words.
    assert alert["kind"] == "sip_refused"
    assert alert["message"] == (
        'SIP: A call (press) from 127.0.0.1 with account "intruder" was refused: unknown '
        "account. No incident was opened. If it is a help point, give it a SIP account "
        "(helppoint unit add --kind sip)."
    )
    refused = within(lambda: audit(sip_server, "sip.refused"), 10, "the refusal is audited")
    assert refused[0].detail["user"] == "intruder"
    assert refused[0].detail["reason"] == "unknown account"
    with sip_server.database.uow() as uow:
        assert uow.events.last_seq(UNIT) == 0  # nothing was stored
    assert not sip_server.app.state.sip.agent.ringing  # and nothing rings


def test_malformed_sip_is_dropped_and_the_server_goes_on(sip_server: Any, devices: Any) -> None:
    port = sip_server.app.state.settings.sip_port
    junk = [
        b"\x00\xff" * 200,
        b"INVITE\r\n\r\n",
        b"INVITE sip:x SIP/2.0\r\nVia: nonsense\r\nCSeq: banana\r\n\r\n",
        request("INVITE", UNIT, port, 9).replace(b"Content-Length: 0", b"Content-Length: 99999"),
        request("INVITE", UNIT, port, 9).replace(b"CSeq: 1 INVITE", b"CSeq: -1 INVITE"),
        request("REGISTER", UNIT, port, 9).replace(b"Call-ID", b"Call\x00ID"),
        ("REGISTER sip:\ud800@x SIP/2.0\r\n\r\n".encode("utf-8", "surrogatepass")),
        b"SIP/2.0 200 OK\r\n\r\n",
        b"x" * 60000,
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for message in junk:
            sock.sendto(message, ("127.0.0.1", port))
    with socket.create_connection(("127.0.0.1", port)) as tcp:
        tcp.sendall(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 5000000\r\n\r\nabc")
    within(
        lambda: any(e.get("event") == "malformed" for e in sip_server.app.state.sip.events),
        10,
        "the malformed messages are told",
    )
    gateway = sip_server.app.state.sip
    assert gateway.servers.kamailio.running and gateway.servers.rtpengine.running
    # A real device still registers and calls.
    device = devices(sip_server)
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
    within(lambda: gateway.agent.ringing, 10, "its call rings")
    with sip_server.database.uow() as uow:
        assert uow.events.last_seq(UNIT) == 1  # the only stored event is the real press
    assert audit(sip_server, "sip.malformed")


def test_a_flood_from_one_address_is_cut_off_and_others_are_served(
    sip_server: Any, devices: Any
) -> None:
    port = sip_server.app.state.settings.sip_port

    def flood_from_another_address() -> None:
        # The flood comes from another loopback address than the device's.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.2", 0))
            source = sock.getsockname()[1]
            for _ in range(400):
                sock.sendto(request("INVITE", UNIT, port, source), ("127.0.0.1", port))

    [alert] = asyncio.run(supervisor_alerts(sip_server, flood_from_another_address))
    assert alert["kind"] == "sip_flood"
    assert alert["message"].startswith("SIP: a flood of requests from 127.0.0.2 is being dropped")
    flood = within(
        lambda: [e for e in sip_server.app.state.sip.events if e.get("event") == "flood"],
        10,
        "the flood is told",
    )
    assert flood[0]["address"] == "127.0.0.2"
    within(lambda: audit(sip_server, "sip.flood"), 10, "the flood is audited")
    # No INVITE of the flood got past authentication: nothing stored, nothing ringing.
    gateway = sip_server.app.state.sip
    assert not gateway.agent.ringing
    # The device, at another address, is served as usual.
    device = devices(sip_server)
    within(lambda: UNIT in gateway.registered, 10, "the device registers")
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
    within(lambda: gateway.agent.ringing, 10, "its call rings")
