"""Interoperability with an independent DC-09 implementation: pysiaalarm (PyPI).

pysiaalarm has its own CRC, parser and AES (pycryptodome). It parses what our encoder sends,
produces messages and responses we parse, and its receiver answers our messages the way ours
does, in plain and encrypted modes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from pysiaalarm import SIAAccount
from pysiaalarm.aio import SIAClient
from pysiaalarm.event import SIAEvent
from pysiaalarm.utils import ResponseType

from helppoint.domain.events import EventType
from helppoint.gateway.sia.codec import (
    FrameReader,
    Response,
    Token,
    encode,
    frame,
    parse_answer,
    timestamp_text,
    unframe,
)
from helppoint.services.sia_accounts import save_account
from tests.ports import free_port

from .conftest import kind, read_answers, start_sia

# pysiaalarm takes a key as 16/24/32 characters and uses their ASCII bytes as the AES key.
ASCII_KEY = "0123456789ABCDEF"
KEY = ASCII_KEY.encode()


def theirs(line: bytes, key: str | None = None, account: str = "1234") -> SIAEvent:
    event = SIAEvent.from_line(line.decode().strip(), {account: SIAAccount(account, key)})
    assert isinstance(event, SIAEvent)
    return event


@pytest.mark.parametrize("key", [None, KEY])
def test_pysiaalarm_parses_our_messages(key: bytes | None) -> None:
    ascii_key = key.decode() if key else None
    sia = theirs(encode(Token.SIA_DCS, 12, "1234", "Nri1/PA501", key=key), ascii_key)
    assert sia.valid_message and sia.code == "PA" and sia.ri == "1"
    assert sia.response is ResponseType.ACK
    cid = theirs(encode(Token.ADM_CID, 13, "1234", "1120 01 015", key=key), ascii_key)
    assert cid.valid_message and cid.code == "PA" and cid.response is ResponseType.ACK


@pytest.mark.parametrize("key", [None, KEY])
def test_we_parse_pysiaalarm_responses(key: bytes | None) -> None:
    event = theirs(encode(Token.SIA_DCS, 12, "1234", "NRP", key=key), key.decode() if key else None)
    answer = parse_answer(unframe(event.create_response()), key)
    assert (answer.kind, answer.seq, answer.encrypted) == (Response.ACK, "0012", key is not None)


def pysiaalarm_encrypted_line(seq: int, data: str) -> bytes:
    """An encrypted message whose encryption is pysiaalarm's (zero padding, pycryptodome)."""
    crypter = SIAEvent(
        full_message="",
        msg_crc="0000",
        message_type="SIA-DCS",
        sia_account=SIAAccount("1234", ASCII_KEY),
    )
    content = f"|#1234|{data}]" + timestamp_text(datetime.now(UTC))
    hex_text = crypter.encrypt_content(content)
    assert hex_text is not None
    return frame(f'"*SIA-DCS"{seq:04d}R0L0#1234[{hex_text}'.encode())


async def answers_from(port: int, messages: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got: list[bytes] = []
    try:
        for message in messages:
            writer.write(message)
            await writer.drain()
            got += await read_answers(reader, 1)
    finally:
        writer.close()
    return got


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_same_answers_as_the_pysiaalarm_receiver(make_sia: Any, encrypted: bool) -> None:
    key = KEY if encrypted else None
    with make_sia.uow() as uow:
        save_account(uow, "1234", "HP-05", key_hex=key.hex() if key else None)
        uow.commit()
    messages = [
        encode(Token.SIA_DCS, 1, "1234", "Nri1/PA501", key=key, at=datetime.now(UTC)),
        encode(Token.ADM_CID, 2, "1234", "1120 01 015", key=key, at=datetime.now(UTC)),
        encode(Token.SIA_DCS, 3, "1234", "NZX1", key=key, at=datetime.now(UTC)),
    ]
    if encrypted:
        messages.append(pysiaalarm_encrypted_line(4, "Nri1/MA2"))

    received: list[SIAEvent] = []

    async def collect(event: SIAEvent) -> None:
        received.append(event)

    port = free_port()
    client = SIAClient(
        "127.0.0.1", port, [SIAAccount("1234", key.decode() if key else None)], collect
    )
    await client.async_start()
    try:
        reference = await answers_from(port, messages)
    finally:
        await client.async_stop()
    async for sia in start_sia(make_sia):
        ours = await answers_from(sia.port, messages)
        stored = sia.events("HP-05")
    theirs = [parse_answer(a, key).kind for a in reference]
    # The same answers, but for a code missing from the tables (ZX): pysiaalarm answers DUH
    # and drops it; we store it, flagged as unmapped, and ACK (a DUH makes panels report a
    # failed path).
    assert theirs[2] is Response.DUH
    assert [kind(a, key) for a in ours] == [*theirs[:2], Response.ACK, *theirs[3:]]
    assert set(theirs) - {Response.DUH} == {Response.ACK}
    if not encrypted:
        assert ours[:2] == reference[:2]  # byte for byte
    assert [e.type for e in stored][:2] == [EventType.ACTIVATION, EventType.ACTIVATION]
    assert stored[2].payload["unmapped"] is True and stored[2].payload["code"] == "ZX"
    assert len(received) == len(messages) - 1  # pysiaalarm passes on what it ACKed
    assert FrameReader().feed(b"") == []
