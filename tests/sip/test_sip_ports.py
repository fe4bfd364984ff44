"""Ports taken between being picked and being bound (docs/testing.md, the SIP call-back test
that failed with "test server did not start"): the SIP server's and media relay's loopback
ports are picked again, and a taken SIP port is said plainly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helppoint.sip.servers import SipPortTaken, SipServerConfig, SipServers

from .device import BaresipDevice, free_port, require_sip_software

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _software() -> None:
    require_sip_software()


def config(port: int) -> SipServerConfig:
    return SipServerConfig(
        kamailio="/usr/sbin/kamailio",
        rtpengine="/usr/bin/rtpengine",
        host="127.0.0.1",
        port=port,
        realm="helppoint",
        keepalive=5,
        rate=40,
        media_address="127.0.0.1",
        rtp_ports=(30000, 39999),
        agent_port=free_port(),
        media_priority=0,
    )


def hold(port: int, kind: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", port))
    return sock


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


@pytest.mark.parametrize("which", ["rtpengine_port", "internal_port", "rpc_port"])
def test_a_port_taken_before_its_child_binds_it_is_picked_again(
    which: str, held: list[socket.socket]
) -> None:
    servers = SipServers(config(free_port()), lambda event: None)
    taken = getattr(servers.ports, which)
    # Another program takes the port picked for the media relay or the SIP server before they
    # bind it: they stopped at start, and so did the whole server ("did not start").
    held.append(hold(taken, socket.SOCK_DGRAM if which != "rpc_port" else socket.SOCK_STREAM))

    async def start_and_ask() -> Any:
        try:
            await servers.start()
            return await servers.rpc("core.version")
        finally:
            await servers.stop()

    assert asyncio.run(start_and_ask())
    assert getattr(servers.ports, which) != taken


def test_a_sip_port_another_program_has_is_said_plainly(held: list[socket.socket]) -> None:
    port = free_port()
    held.append(hold(port, socket.SOCK_DGRAM))
    servers = SipServers(config(port), lambda event: None)
    with pytest.raises(SipPortTaken, match=f"the SIP port 127.0.0.1:{port} \\(sip_port\\)"):
        asyncio.run(servers.start())


def test_a_test_server_whose_sip_port_was_taken_starts_on_another(
    server_factory: Any, held: list[socket.socket]
) -> None:
    # A test notes a free SIP port, and something takes it before the server starts: the
    # server started again on a fresh one (tests/conftest.py start_server), instead of "test
    # server did not start".
    port = free_port()
    held.append(hold(port, socket.SOCK_DGRAM))
    server = server_factory(sip_port=port, sip_keepalive=5)
    settings = server.app.state.settings
    assert settings.sip_port != port
    assert server.app.state.sip.config.port == settings.sip_port


@pytest.mark.parametrize("which", ["control", "sip", "tls"])
def test_a_device_whose_port_was_taken_starts_on_fresh_ones(
    which: str, tmp_path: Path, held: list[socket.socket]
) -> None:
    device = BaresipDevice(tmp_path, "SIP-01", "password", ("127.0.0.1", free_port()))
    taken = {
        "control": device.control_port,
        "sip": device.sip_port,
        "tls": device.sip_port + 1,
    }[which]
    held.append(hold(taken, socket.SOCK_DGRAM if which == "sip" else socket.SOCK_STREAM))
    try:
        device.start()
        assert device.command("reginfo")["ok"]
        assert taken not in (device.control_port, device.sip_port, device.sip_port + 1)
    finally:
        device.stop()
