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
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect

from helppoint.gateway.broker import Subscription
from helppoint.services.clock import utcnow
from helppoint.tasks import cancel_and_wait

#: Messages a feed sends from its backlog before it lets the event loop run something else;
#: the most in one batch frame.
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


def batched(websocket: WebSocket) -> bool:
    """Whether the page asked for its queued-up news in batch frames (`?batch=1`, live.js)."""
    return websocket.query_params.get("batch") == "1"


def keepalive_frame() -> str:
    return feed_text({"type": "keepalive", "server_time": utcnow().isoformat()})


async def relay(
    websocket: WebSocket,
    subscription: Subscription,
    receiver: asyncio.Task[None],
    frame: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]],
    resync: Callable[[], Awaitable[None]],
    keepalive: float,
    batch: bool = False,
) -> None:
    """Send the frame `frame` makes of each (topic, message) of `subscription` (None: nothing
    for this feed) until `receiver` (which reads what the browser sends) ends; `resync` when
    messages were lost; a keepalive frame after `keepalive` seconds without one.

    With `batch` (the page asked for it: `?batch=1`), the frames of messages that queued up
    go together, up to BACKLOG_TURN in one `{"type": "batch", "messages": [...]}`: a flood's
    news costs one WebSocket frame, one compression and one write per BACKLOG_TURN alarms
    instead of one each. A message that finds nothing queued goes alone, at once, as itself.
    """
    getter: asyncio.Task[tuple[str, dict[str, Any]]] | None = None
    try:
        while not receiver.done():
            if getter is None and not subscription.queue.empty():
                # What has queued up goes out without a task and a wait for each message (a
                # flood's messages come in groups of up to the writer's MAX_GROUP), and the
                # loop gets a turn after each BACKLOG_TURN of them.
                frames: list[dict[str, Any]] = []
                for _ in range(BACKLOG_TURN):
                    if subscription.queue.empty():
                        break
                    topic, message = subscription.queue.get_nowait()
                    if subscription.overflowed:
                        break
                    made = await frame(topic, message)
                    if made is not None:
                        frames.append(made)
                    if not batch and frames:
                        await websocket.send_text(feed_text(frames.pop()))
                if frames:
                    together = (
                        frames[0] if len(frames) == 1 else {"type": "batch", "messages": frames}
                    )
                    await websocket.send_text(feed_text(together))
                if not subscription.overflowed:
                    await asyncio.sleep(0)
                    continue
            else:
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
            made = await frame(topic, message)
            if made is not None:
                await websocket.send_text(feed_text(made))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if getter is not None:
            getter.cancel()
        await cancel_and_wait(receiver, ignoring=(WebSocketDisconnect, RuntimeError))
