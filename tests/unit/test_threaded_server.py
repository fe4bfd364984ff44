"""The test servers' thread helper (tests/threaded_server.py): the port is the server's from
the start, and a server that ends before it listens says why."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import uvicorn

from tests.threaded_server import (
    ServerDidNotStart,
    bound_socket,
    port_of,
    start_in_thread,
    stop_thread,
)


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def fails_to_start(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "lifespan"
    await receive()
    raise OSError(98, "Address already in use (the SIP server's port, say)")


def server_of(app: Any) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))


def test_the_port_is_taken_from_the_start_and_served_on() -> None:
    sock = bound_socket()
    port = port_of(sock)
    # Nothing else can take it while the server starts (as a port only noted could be).
    with socket.socket() as other, pytest.raises(OSError):
        other.bind(("127.0.0.1", port))
    server = server_of(hello)
    thread = start_in_thread(server, sock)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=None).text == "hello"
    finally:
        stop_thread(server, thread)
    assert not thread.is_alive()


def test_a_server_that_ends_before_it_listens_says_why() -> None:
    sock = bound_socket()
    with pytest.raises(ServerDidNotStart) as failure:
        start_in_thread(server_of(fails_to_start), sock)
    message = str(failure.value)
    # uvicorn ends a failed start with SystemExit (a thread drops it without a word) and the
    # reason only in its log: both are in the failure now.
    assert "SystemExit(3)" in message
    assert "Address already in use (the SIP server's port, say)" in message
    assert sock.fileno() == -1  # the port is let go
