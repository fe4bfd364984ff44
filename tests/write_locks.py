"""Counting the transactions that may write: on SQLite each holds the one write lock from its
BEGIN (the event writer's commits wait for it), so a periodic round that finds nothing to do
must read without it (`UnitOfWork.reading`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from helppoint.store.database import READ_ONLY


class Began:
    """The transactions begun inside `transactions`, in order: True for one that only reads."""

    def __init__(self) -> None:
        self.read_only: list[bool] = []

    @property
    def writing(self) -> int:
        """How many of them could write (took the write lock on SQLite)."""
        return self.read_only.count(False)


@contextmanager
def transactions(engine: Engine) -> Iterator[Began]:
    began = Began()

    def on_begin(connection: Any) -> None:
        began.read_only.append(bool(connection.get_execution_options().get(READ_ONLY)))

    event.listen(engine, "begin", on_begin)
    try:
        yield began
    finally:
        event.remove(engine, "begin", on_begin)
    assert began.read_only, "no transaction began at all"
