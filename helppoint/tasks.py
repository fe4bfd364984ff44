"""Stopping a background task without swallowing the caller's own cancel.

The usual stop, `task.cancel()` and then `await task` inside `suppress(CancelledError)`,
also swallows a cancel of the *caller*: a stop that is itself cancelled meanwhile (the server's
shutdown hits its deadline, an `asyncio.timeout` around it) would go on as if nothing happened,
and a timeout around it would never fire. asyncio's own rule since Python 3.11 is to re-raise
a CancelledError while the current task has a cancel request pending (`Task.cancelling()`).
"""

from __future__ import annotations

import asyncio
from typing import Any


def cancelled_here() -> bool:
    """Whether the current task has a cancel pending: in an `except CancelledError`, whether
    the CancelledError is for this task (raise it again) or came from what it awaited."""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def cancel_and_wait(
    *tasks: asyncio.Future[Any] | None, ignoring: tuple[type[Exception], ...] = ()
) -> None:
    """Cancel each of `tasks` (None is passed over) and wait until all have ended. A
    CancelledError is the tasks' answer to being cancelled and is not raised, unless this
    caller was cancelled meanwhile; any other exception a task ended with is raised, except
    those of the types `ignoring`."""
    waiting = [task for task in tasks if task is not None]
    for task in waiting:
        task.cancel()
    for task in waiting:
        try:
            await task
        except asyncio.CancelledError:
            if cancelled_here():
                raise
        except ignoring:
            pass
