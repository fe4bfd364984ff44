"""Waiting in the camera tests for what the server does in its own thread or process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], within: float = 20.0) -> T:
    """The first truthy result of ``check()``, asked every 0.1 s for at most ``within`` s.

    Only for state the test cannot be told about (rows another thread commits); anything
    that can be awaited is awaited instead.
    """
    async with asyncio.timeout(within):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)
