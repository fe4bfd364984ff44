"""The ingest writer process: commit each batch the serving process sends, answer with the
results and the messages to publish (writer_pipe.py).

Started by `ProcessWriter` (process_writer.py) through multiprocessing's fork server, which
preloads this module.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from datetime import timedelta
from multiprocessing.connection import Connection

from helppoint.gateway.batch_commit import Batch, LinkOrder, commit_batches
from helppoint.gateway.writer_loop import drain
from helppoint.gateway.writer_pipe import Failed, Messages, Owed, Written, send
from helppoint.gcpauses import tune_for_serving
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.known_units import KnownUnits
from helppoint.services.unit_touches import UnitTouches, next_wait
from helppoint.store.uow import BeforeCommit, Publisher, UnitOfWork

log = logging.getLogger(__name__)


def serve(
    conn: Connection,
    database_url: str,
    join_window: timedelta,
    before_commit: BeforeCommit | None,
    log_level: int,
) -> None:
    """The writer process: commit each batch received, answer with results and messages."""
    from helppoint.store.database import make_engine, make_session_factory

    # The server stops it by closing the pipe, after the last batch: a Ctrl-C or a service
    # manager's SIGTERM to the whole group must not cut a commit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=log_level, format="%(levelname)s [ingest writer] %(name)s: %(message)s"
    )
    # No ping before each batch (on PostgreSQL a round trip per batch): a connection found
    # dead during a batch is replaced and the batch stored again (batch_commit.py).
    engine = make_engine(database_url, pool_pre_ping=False)
    session_factory = make_session_factory(engine)
    # On SQLite this process is the one that stores events, and each transaction holds the
    # one write lock: what a batch leaves can be known until something says otherwise.
    known = KnownUnits() if engine.dialect.name == "sqlite" else None
    updates = JoinUpdates()
    touches = UnitTouches()
    order = LinkOrder()

    def publish_owed() -> bool:
        owed: Messages = []
        updates.publish_due(UnitOfWork(session_factory, _collect(owed), before_commit))
        touches.write_due(UnitOfWork(session_factory, _collect(owed), before_commit))
        return not owed or answer([Owed(owed)])

    def owed_wait() -> float | None:
        return next_wait(updates.wait(), touches.wait())

    def commit(group: list[Batch]) -> bool:
        started = time.monotonic()
        messages: Messages = []
        uow = UnitOfWork(session_factory, _collect(messages), before_commit)
        try:
            each = commit_batches(uow, group, join_window, known, updates, order, touches)
        except Exception as exc:
            events = sum(len(batch.events) for batch in group)
            log.error("could not store %d events: %s", events, exc)
            replies: list[Written | Failed] = [Failed(f"{type(exc).__name__}: {exc}")] * len(group)
        else:
            # The messages go with the first answer: published before any is acknowledged.
            answered = time.monotonic()
            replies = [
                Written(results, messages if index == 0 else [], started, answered)
                for index, results in enumerate(each)
            ]
        return answer(replies)

    def answer(replies: Sequence[Written | Failed | Owed]) -> bool:
        try:
            for reply in replies:
                send(conn, reply)
        except OSError:
            return False
        return True

    tune_for_serving()  # this process's garbage comes in bursts too: one batch's objects
    try:
        drain(_PipeInbox(conn), lambda batch: len(batch.events), owed_wait, publish_owed, commit)
    finally:
        engine.dispose()


class _PipeInbox:
    """The writer's end of the pipe as writer_loop.py takes from it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def wait(self, timeout: float) -> bool:
        return self._conn.poll(timeout)

    def take(self) -> Batch | None:
        try:
            batch: Batch | None = self._conn.recv()
        except EOFError:  # the server is gone
            return None
        return batch


def _collect(messages: Messages) -> Publisher:
    return lambda topic, message: messages.append((topic, message))
