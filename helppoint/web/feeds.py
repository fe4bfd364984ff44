"""What the browser feeds (console, police view) share: relaying messages, and keepalives.

A server that died, or a network path that silently dropped the connection, is otherwise
noticed by a browser only when TCP gives up, many minutes later: the operator would be looking
at a queue that looks live and is not. Every feed therefore sends a keepalive after
`feed_keepalive` seconds without a message, and the page treats three missed keepalives as a
lost link (it says so and reconnects, `static/live.js`). Keepalives also keep reverse proxies
from closing a quiet feed (nginx closes one idle for 60 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from helppoint.gateway.broker import Subscription
from helppoint.services.clock import utcnow

#: Messages a feed sends from its backlog before it lets the event loop run something else.
BACKLOG_TURN = 50


#: What orjson would write that the standard library refuses: left to it (`feed_text`).
_AS_STDLIB = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def feed_text(frame: dict[str, Any]) -> str:
    """A feed's frame as JSON text, by orjson (in C: a flood's messages and a snapshot of
    thousands of alarms are written several times faster than by the standard library); by
    the standard library what orjson refuses (a lone surrogate in a note, a type it does not
    know), so a frame is never lost to its encoding."""
    try:
        return orjson.dumps(frame, option=_AS_STDLIB).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(frame)


def keepalive_frame() -> str:
    return feed_text({"type": "keepalive", "server_time": utcnow().isoformat()})


async def relay(
    websocket: WebSocket,
    subscription: Subscription,
    receiver: asyncio.Task[None],
    send: Callable[[str, dict[str, Any]], Awaitable[None]],
    resync: Callable[[], Awaitable[None]],
    keepalive: float,
) -> None:
    """Pass each (topic, message) of `subscription` to `send` until `receiver` (which reads
    what the browser sends) ends; `resync` when messages were lost; a keepalive frame after
    `keepalive` seconds without one."""
    getter: asyncio.Task[tuple[str, dict[str, Any]]] | None = None
    sent_without_yielding = 0
    try:
        while not receiver.done():
            if getter is None and not subscription.queue.empty():
                # What has queued up goes out without a task and a wait for each message (a
                # flood's messages come in groups of up to the writer's MAX_GROUP); the loop
                # gets a turn every BACKLOG_TURN messages (the sends below need not yield).
                topic, message = subscription.queue.get_nowait()
                sent_without_yielding += 1
                if sent_without_yielding >= BACKLOG_TURN:
                    sent_without_yielding = 0
                    await asyncio.sleep(0)
            else:
                sent_without_yielding = 0
                if getter is None:
                    getter = asyncio.create_task(subscription.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, timeout=keepalive, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    await websocket.send_text(keepalive_frame())
                    continue
                if getter not in done:
                    break
                topic, message = getter.result()
                getter = None
            if subscription.overflowed:
                # Something may have been missed (this feed fell behind, or another server
                # process could not be heard): the page is sent everything again.
                subscription.overflowed = False
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                await resync()
                continue
            await send(topic, message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if getter is not None:
            getter.cancel()
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await receiver
