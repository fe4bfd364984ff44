"""`cancel_and_wait` (helppoint/tasks.py): a stop that is itself cancelled stays cancelled,
and every background task's stop uses it."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from helppoint.tasks import cancel_and_wait

ROOT = Path(__file__).resolve().parents[2]


async def slow_to_end(ended: asyncio.Event) -> None:
    """A background task that takes a moment to clean up when cancelled."""
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.05)
        ended.set()


async def test_the_tasks_are_cancelled_and_waited_for() -> None:
    ended = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(slow_to_end(event)) for event in ended]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks[0], None, tasks[1])
    assert all(task.cancelled() for task in tasks)
    assert all(event.is_set() for event in ended)


async def test_a_cancel_of_the_stopping_caller_is_not_swallowed() -> None:
    ended = asyncio.Event()
    background = asyncio.create_task(slow_to_end(ended))
    await asyncio.sleep(0)
    went_on = asyncio.Event()

    async def stop() -> None:
        await cancel_and_wait(background)
        went_on.set()  # must not happen: this stop was cancelled

    stopping = asyncio.create_task(stop())
    await asyncio.sleep(0.01)  # in the background task's clean-up
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert not went_on.is_set()
    assert stopping.cancelled()


async def test_a_timeout_around_a_stop_fires() -> None:
    background = asyncio.create_task(slow_to_end(asyncio.Event()))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await cancel_and_wait(background)


async def test_a_tasks_own_error_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("broken clean-up")

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broken clean-up"):
        await cancel_and_wait(task)


def test_no_stop_swallows_its_callers_cancel() -> None:
    """No `suppress(asyncio.CancelledError)` in helppoint/: the stop it wraps would swallow
    a cancel of its caller (use cancel_and_wait)."""
    found = []
    for path in sorted((ROOT / "helppoint").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("suppress")
                and any(ast.unparse(arg).endswith("CancelledError") for arg in node.args)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
