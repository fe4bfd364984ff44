"""A DC-09 receiver on a loopback port, with the real ingest queue and a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helppoint.domain.events import DeviceEvent
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.gateway.sia.codec import FrameError, FrameReader, Response, parse_answer
from helppoint.gateway.sia.receiver import SiaReceiver
from helppoint.services.seed import seed_demo
from helppoint.services.sia_accounts import save_account
from helppoint.store.database import make_session_factory
from helppoint.store.uow import UnitOfWork

KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KEY256 = bytes(range(32))


@dataclass
class Sia:
    """The receiver under test and helpers to talk to it as a panel would."""

    receiver: SiaReceiver
    ingest: IngestQueue
    database: Any
    now: list[datetime]

    @property
    def port(self) -> int:
        return self.receiver.tcp_port

    async def tcp(self, *payloads: bytes, expect: int | None = None) -> list[bytes]:
        """Send the payloads on one connection; the response bodies (default: one each)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for payload in payloads:
                writer.write(payload)
                await writer.drain()
            return await read_answers(reader, len(payloads) if expect is None else expect)
        finally:
            writer.close()
            await writer.wait_closed()

    async def udp(self, payload: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                if not answer.done():
                    answer.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(
            Client, remote_addr=("127.0.0.1", self.receiver.udp_port)
        )
        try:
            transport.sendto(payload)
            data = await asyncio.wait_for(answer, 10)
        finally:
            transport.close()
        [body] = FrameReader().feed(data)
        assert isinstance(body, bytes)
        return body

    def events(self, unit_id: str | None = None) -> list[DeviceEvent]:
        with self.database.session() as session:
            from sqlalchemy import select

            query = select(DeviceEvent).order_by(DeviceEvent.id)  # type: ignore[attr-defined]
            found = list(session.scalars(query).all())
        return [e for e in found if unit_id is None or e.unit_id == unit_id]


async def read_answers(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    frames = FrameReader()
    bodies: list[bytes] = []
    while len(bodies) < count:
        data = await asyncio.wait_for(reader.read(4096), 10)
        if not data:
            break
        for item in frames.feed(data):
            assert not isinstance(item, FrameError), item
            bodies.append(item)
    return bodies


def kind(body: bytes, key: bytes | None = None) -> Response:
    return parse_answer(body, key).kind


@pytest.fixture
def make_sia(database: Any) -> Callable[..., Any]:
    """Start a receiver (options as keyword arguments) on a seeded database (SQLite and
    PostgreSQL: the ingest writer stores differently on each)."""
    seed_demo(database.uow())
    with database.uow() as uow:
        save_account(uow, "1234", "HP-01", zone_units={"7": "HP-02"})
        save_account(uow, "ABCD", "HP-03", key_hex=KEY.hex())
        save_account(uow, "ABCDEF", "HP-04", key_hex=KEY256.hex(), tolerance_past=3700)
        uow.commit()
    return database


@pytest.fixture
async def sia(make_sia: Any) -> AsyncIterator[Sia]:
    async for started in start_sia(make_sia):
        yield started


async def start_sia(database: Any, **options: Any) -> AsyncIterator[Sia]:
    session_factory = make_session_factory(database.engine)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(session_factory)

    now = [datetime.now(UTC)]
    ingest = IngestQueue(uow_factory, timedelta(minutes=5))
    ingest.start()
    receiver = SiaReceiver(uow_factory, ingest, port=0, clock=lambda: now[0], **options)
    await receiver.start()
    try:
        yield Sia(receiver, ingest, database, now)
    finally:
        await receiver.stop()
        await ingest.stop()
