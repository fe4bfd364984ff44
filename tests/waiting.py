"""Waiting for what a test cannot await: state another thread or process changes.

One helper for every test (issue #20), instead of a poller per module. Anything that can be
awaited (a future, a queue, an event) is awaited instead; this asks again and again, and fails
with an AssertionError that names what never happened, never silently.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
