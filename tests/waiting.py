"""Waiting for what a test cannot await: state another thread or process changes.

One helper for every test (issue #20), instead of a poller per module. Anything that can be
awaited (a future, a queue, an event) is awaited instead; this asks again and again, and fails
with an AssertionError that names what never happened, never silently.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    within: float = 10.0,
    every: float = 0.02,
    what: str = "the condition",
) -> T:
    """The first truthy result of ``check()`` (plain or async), asked every ``every`` s;
    AssertionError if none comes within ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(every)


def eventually_sync(
    check: Callable[[], T],
    within: float = 10.0,
    every: float = 0.02,
    what: str = "the condition",
) -> T:
    """As :func:`eventually`, for a test without an event loop (it blocks the thread)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        time.sleep(every)


async def messages_until(
    feed: Any,
    done: Callable[[list[dict[str, Any]]], bool],
    within: float,
    what: str,
) -> list[dict[str, Any]]:
    """The JSON messages a websocket `feed` sends until ``done(messages)`` is true.

    The wait is `within` seconds in all: a console feed's keepalives (every 15 s) would renew a
    timeout per message for ever, and a test waiting for a message that never comes would
    then hang instead of failing. AssertionError names `what` and the types seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    seen: list[dict[str, Any]] = []
    while not done(seen):
        remaining = deadline - loop.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):  # (not wait_for: tests/unit/test_no_wait_for.py)
                seen.append(json.loads(await feed.recv()))
        except TimeoutError:
            types = [m.get("type") for m in seen]
            raise AssertionError(f"{what} did not come within {within} s; came: {types}") from None
    return seen


async def first_message(
    feed: Any, wanted: Callable[[dict[str, Any]], bool], within: float, what: str
) -> dict[str, Any]:
    """The first JSON message from `feed` that is `wanted`, within `within` s in all."""
    seen = await messages_until(feed, lambda ms: bool(ms) and wanted(ms[-1]), within, what)
    return seen[-1]
