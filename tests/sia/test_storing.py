"""Storing a message once: retransmissions in flight, failed first copies, renumbering."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from helppoint.domain.events import EventType
from helppoint.gateway.ingest_queue import IngestUnavailable
from helppoint.gateway.sia.codec import Response, Token, encode, parse_answer
from helppoint.services.ingest import ReportedEvent

from .conftest import Sia, kind, read_answers

LOGGER = "helppoint.gateway.sia.receiver"


def pa(sia: Sia, seq: int = 1, data: str = "Nri1/PA501") -> bytes:
    return encode(Token.SIA_DCS, seq, "1234", data, at=sia.now[0])


class HeldSubmits:
    """Stands in for the ingest queue's submit: holds the first `hold` events until told."""

    def __init__(self, sia: Sia, monkeypatch: pytest.MonkeyPatch, hold: int = 1) -> None:
        self._submit = sia.ingest.submit
        self._hold = hold
        self.held: list[tuple[ReportedEvent, asyncio.Future[Any]]] = []
        self.submitted = asyncio.Event()
        monkeypatch.setattr(sia.ingest, "submit", self)

    def __call__(self, event: ReportedEvent) -> asyncio.Future[Any]:
        self.submitted.set()
        if len(self.held) < self._hold:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.held.append((event, future))
            return future
        return self._submit(event)

    async def release(self) -> None:
        for event, future in self.held:
            future.set_result(await self._submit(event))


async def send(sia: Sia, payload: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", sia.port)
    writer.write(payload)
    await writer.drain()
    return reader, writer


class Retransmissions(logging.Handler):
    """Set once the receiver has taken a message for a retransmission (it logs each one)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        super().__init__(logging.INFO)
        self.seen = asyncio.Event()
        caplog.set_level(logging.INFO, logger=LOGGER)
        logging.getLogger(LOGGER).addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if "retransmitted" in record.getMessage():
            self.seen.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.seen.wait(), 10)
        logging.getLogger(LOGGER).removeHandler(self)


async def test_a_retransmission_while_the_first_copy_is_stored_waits_for_it(
    sia: Sia, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    retransmissions = Retransmissions(caplog)
    held = HeldSubmits(sia, monkeypatch)
    first_reader, first = await send(sia, pa(sia, 3))
    await held.submitted.wait()
    again_reader, again = await send(sia, pa(sia, 3))  # the panel gave up on the first
    await retransmissions.wait()
    assert sia.receiver.stats.acks == 0  # neither is answered before the commit
    await held.release()
    answers = await read_answers(first_reader, 1) + await read_answers(again_reader, 1)
    first.close()
    again.close()
    assert [(kind(a), parse_answer(a).seq) for a in answers] == [(Response.ACK, "0003")] * 2
    assert len(sia.events()) == 1


async def test_a_retransmission_waiting_for_a_first_copy_that_failed_stores_it(
    sia: Sia, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    retransmissions = Retransmissions(caplog)
    held = HeldSubmits(sia, monkeypatch)
    first_reader, first = await send(sia, pa(sia, 4))
    await held.submitted.wait()
    again_reader, again = await send(sia, pa(sia, 4))
    await retransmissions.wait()
    held.held[0][1].set_exception(IngestUnavailable("database is down"))
    # The first copy is not answered (its connection is closed); the retransmission is stored.
    assert await read_answers(first_reader, 1) == []
    [answer] = await read_answers(again_reader, 1)
    first.close()
    again.close()
    assert kind(answer) is Response.ACK
    [event] = sia.events()
    assert event.payload["sia"]["seq"] == "0004"


async def test_numbers_taken_by_someone_else_are_renumbered_from_the_database(sia: Sia) -> None:
    assert kind((await sia.tcp(pa(sia, 1)))[0]) is Response.ACK
    # Another writer stores the unit's next number behind the receiver's back.
    other = ReportedEvent("HP-01", 2, EventType.SELF_TEST, datetime.now(UTC), {"passed": True})
    await sia.ingest.submit(other)
    assert kind((await sia.tcp(pa(sia, 2, "Nri1/MA1")))[0]) is Response.ACK
    assert [(e.seq, e.type) for e in sia.events("HP-01")] == [
        (1, EventType.ACTIVATION),
        (2, EventType.SELF_TEST),
        (3, EventType.ACTIVATION),
    ]
