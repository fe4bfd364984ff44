"""`helppoint serve` starts the DC-09 receiver when sia_port is set; alarms reach consoles."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from websockets.asyncio.client import connect

from helppoint.domain.model import Role
from helppoint.gateway.sia.codec import Response, Token, encode
from helppoint.services.seed import seed_demo
from helppoint.services.sia_accounts import save_account
from tests.conftest import http_client
from tests.ports import free_port
from tests.waiting import first_message

from .conftest import kind, read_answers

PASSWORD = "correct horse battery"


def test_receiver_runs_in_the_server_and_alarms_reach_the_console(
    sqlite_database: Any, server_factory: Any
) -> None:
    seed_demo(sqlite_database.uow())
    with sqlite_database.uow() as uow:
        save_account(uow, "C0FFEE", "HP-06")
        uow.commit()
    server = server_factory(sia_port=free_port())
    port = server.app.state.settings.sia_port  # (another, had the one noted been taken)
    server.add_operator("olly", PASSWORD, Role.OPERATOR)
    http = http_client(server.base_url, timeout=None)
    assert http.post("/api/login", json={"username": "olly", "password": PASSWORD}).is_success
    token = http.cookies.get("helppoint_session")

    async def scenario() -> tuple[bytes, dict[str, Any]]:
        url = server.base_url.replace("http", "ws") + "/console/ws"
        async with connect(
            url, additional_headers={"Cookie": f"helppoint_session={token}"}
        ) as feed:
            await feed.recv()  # snapshot
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode(Token.SIA_DCS, 1, "C0FFEE", "Nri1/PA3"))
            await writer.drain()
            [answer] = await read_answers(reader, 1)
            writer.close()
            message = await first_message(
                feed, lambda m: m["type"] == "incident", 20, "the incident"
            )
            return answer, message["incident"]

    answer, incident = asyncio.run(scenario())
    assert kind(answer) is Response.ACK
    assert incident["unit_id"] == "HP-06" and incident["kind"] == "activation"


def test_a_dc09_port_taken_before_the_test_server_binds_it_is_picked_again(
    server_factory: Any,
) -> None:
    # A test notes a free DC-09 port; something takes it while the server starts: the server
    # is started again on a fresh one (tests/conftest.py start_server), not "did not start".
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = server_factory(sia_port=port)
        assert server.app.state.settings.sia_port not in (0, port)
