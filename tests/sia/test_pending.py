"""Answers still being worked out: delivered once, in a callback, whenever they come."""

from __future__ import annotations

import asyncio

import pytest

from helppoint.gateway.sia.connections import Answer, Pending, answer_later


def test_an_answer_is_delivered_once_whether_it_comes_before_or_after_it_is_awaited() -> None:
    got: list[bytes | None] = []
    early = Pending()
    early.settle(b"early")
    early.then(got.append)
    late = Pending()
    late.then(got.append)
    assert got == [b"early"]
    late.settle(None)
    late.settle(b"too late")  # only the first answer counts
    assert got == [b"early", None]


async def test_work_that_fails_is_answered_with_none_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> Answer:
        raise RuntimeError("the database went away")

    got: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    answer_later(broken(), lambda task: None, "192.0.2.7:4000").then(got.set_result)
    assert await asyncio.wait_for(got, 10) is None  # None: close, say nothing
    assert "SIA 192.0.2.7:4000: could not answer a message; closing" in caplog.text


async def test_work_that_ends_in_another_pending_answer_passes_it_on() -> None:
    inner = Pending()
    started: list[asyncio.Task[None]] = []

    async def work() -> Answer:
        return inner

    got: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
    answer_later(work(), started.append, "?").then(got.set_result)
    await started[0]
    assert not got.done()
    inner.settle(b"ACK")
    assert await got == b"ACK"
