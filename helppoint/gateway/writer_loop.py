"""The loop both ingest writers run: take what queued up, commit it together, and in between
publish the incident updates owed (join_updates.py) and write the last-seen times owed
(unit_touches.py) when they are due.

`ThreadWriter` runs it on its thread over a queue (thread_writer.py), the writer process over
its pipe (writer_process.py); what they commit and how they answer is theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

#: The most events committed together when batches queue up for the writer.
MAX_GROUP = 2000

Item = TypeVar("Item")
Item_co = TypeVar("Item_co", covariant=True)


class Inbox(Protocol[Item_co]):
    """Where a writer's batches come from, in order; None among them means stop."""

    def wait(self, timeout: float) -> bool:
        """True once something can be taken, False if nothing came within `timeout` seconds."""

    def take(self) -> Item_co | None:
        """The next item, waiting for it; None: stop (also when the sender is gone)."""


def drain(
    inbox: Inbox[Item],
    events: Callable[[Item], int],
    owed_wait: Callable[[], float | None],
    publish_owed: Callable[[], bool],
    commit: Callable[[list[Item]], bool],
) -> None:
    """Commit what `inbox` brings until it says stop.

    Items that queued up while the last commit ran (up to `MAX_GROUP` events, as `events`
    counts them) go to `commit` together; `publish_owed` runs whenever what the writer owes
    (join_updates.py, unit_touches.py) is due, `owed_wait()` seconds from now (None: nothing
    is owed), whether items keep coming or not. Either callback returning False ends the loop (the
    other side is gone); a stop ends it once what came before it is committed.
    """
    while True:
        wait = owed_wait()
        if wait is not None and (wait == 0 or not inbox.wait(wait)):
            if not publish_owed():
                return
            continue
        first = inbox.take()
        if first is None:
            return
        group, stopping, count = [first], False, events(first)
        while count < MAX_GROUP and inbox.wait(0):
            more = inbox.take()
            if more is None:
                stopping = True
                break
            group.append(more)
            count += events(more)
        if not commit(group) or stopping:
            return
