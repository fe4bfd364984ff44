"""Where the ingest queue's batches are committed: in a writer process, or on a thread.

(How a group of batches is committed, and one unit's failure kept from the others:
batch_commit.py.)

Storing a batch (checking seqs, opening and joining incidents, the audit chain, touches) is
pure CPU work around one commit. On a thread of the serving process it holds the GIL half the
time in an alarm flood, so the event loop that reads sockets, answers panels and feeds the
consoles runs on half a core. The writer process (`ProcessWriter`, the default for `serve`)
does it on another core: the serving process sends each batch over a pipe and gets back the
results and the messages to publish once it is committed. `ThreadWriter` stores in-process,
for an in-memory database and for `ingest_writer = "thread"`.

Either way nothing is acknowledged before its batch is committed. If the writer process dies,
the batches it held fail (units resend them; a resend of what did commit is a duplicate, and
duplicates are acknowledged without being stored twice) and a new one is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, replace
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, cast

from helppoint.gateway.batch_commit import Batch, LinkOrder, commit_batches, payload_set_aside
from helppoint.gcpauses import tune_for_serving
from helppoint.services.ingest import IngestResult
from helppoint.services.join_updates import JoinUpdates
from helppoint.services.known_units import KnownUnits
from helppoint.store.uow import BeforeCommit, Publisher, UnitOfWork

__all__ = [
    "Batch",
    "BatchWriter",
    "ProcessWriter",
    "ThreadWriter",
    "WriteFailed",
    "commit_batches",
]

log = logging.getLogger(__name__)

#: Seconds the writer process has to finish its batch and exit when the server stops.
STOP_TIMEOUT = 10.0
#: Seconds a new writer process has to start before the batches waiting for it fail.
START_TIMEOUT = 30.0
#: A writer process that lived this long (seconds) is replaced as soon as it dies.
RESTART_AFTER = 1.0
#: The most events committed together when batches queue up for the writer.
MAX_GROUP = 2000


class WriteFailed(Exception):
    """The batch was not stored (database error, or the writer process died)."""


class BatchWriter(Protocol):
    """Commits batches one after another, in the order they were submitted.

    Used from the event loop's thread.
    """

    def open(self) -> None:
        """Get ready without blocking (start the writer process, say)."""

    async def ready(self) -> None:
        """Wait until `open` is done (a writer process started, or failed to: logged)."""

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        """Hand over a batch; the future resolves once it is committed (or failed)."""

    async def close(self) -> None:
        """Finish what was submitted, then release everything."""

    def status(self) -> dict[str, Any]:
        """What /healthz shows of it."""


class ThreadWriter:
    """Commits on a thread of this process, through the app's own units of work.

    Batches that queued up while one was committed are committed together.
    """

    def __init__(self, uow_factory: Callable[[], UnitOfWork], join_window: timedelta) -> None:
        self._uow_factory = uow_factory
        self._join_window = join_window
        self._queue: queue.SimpleQueue[tuple[Batch, Future[list[IngestResult]]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self.updates = JoinUpdates()
        self._order = LinkOrder()

    def open(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
            self._thread.start()

    async def ready(self) -> None:
        self.open()

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        self.open()
        written: Future[list[IngestResult]] = Future()
        self._queue.put((batch, written))
        return asyncio.wrap_future(written)

    def status(self) -> dict[str, Any]:
        return {"kind": "thread", "owed_updates_published": self.updates.caught_up}

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join)

    def _run(self) -> None:
        updates = self.updates
        while True:
            # Owed incident updates go out when due, whether batches keep coming or not.
            wait = updates.wait()
            if wait == 0:
                updates.publish_due(self._uow_factory())
                continue
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                continue
            if item is None:
                return
            group, stopping = [item], False
            while sum(len(batch.events) for batch, _ in group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            try:
                each = commit_batches(
                    self._uow_factory(),
                    [batch for batch, _ in group],
                    self._join_window,
                    updates=updates,
                    order=self._order,
                )
            except Exception as exc:
                for _, written in group:
                    _settle(written, error=exc)
            else:
                for (_, written), results in zip(group, each, strict=True):
                    _settle(written, results)
            if stopping:
                return


@dataclass(frozen=True)
class _Written:
    results: list[IngestResult]
    messages: list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class _Failed:
    error: str


@dataclass(frozen=True)
class _Owed:
    """Incident updates the writer owed (join_updates.py), published between batches."""

    messages: list[tuple[str, dict[str, Any]]]


def _frame(item: object) -> bytes:
    """`item` as multiprocessing's Connection.recv() in the writer process reads it.

    Plain pickle, not multiprocessing's ForkingPickler (a Python-level pickler, a third
    slower): batches hold only plain data.
    """
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(data)) + data


class _Child(asyncio.Protocol):
    """One writer process, its end of the pipe, and the batches it has not answered (in order)."""

    def __init__(
        self, process: BaseProcess, publish: Publisher, on_lost: Callable[[_Child], None]
    ) -> None:
        self.process = process
        self._publish = publish
        self._on_lost = on_lost
        self.started_at = time.monotonic()
        self.waiting: deque[tuple[int, asyncio.Future[list[IngestResult]]]] = deque()
        self.transport: asyncio.Transport | None = None
        self.gone = False
        self._buffer = bytearray()
        #: Incident updates the writer published after their interval (join_updates.py).
        self.owed_updates = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, frame: bytes, events: int, written: asyncio.Future[list[IngestResult]]) -> None:
        assert self.transport is not None
        self.waiting.append((events, written))
        self.transport.write(frame)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while len(buffer) >= 4:
            (size,) = struct.unpack_from("!i", buffer)
            if len(buffer) < 4 + size:
                break
            reply = pickle.loads(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            if isinstance(reply, _Owed):
                self.owed_updates += len(reply.messages)
                for topic, message in reply.messages:
                    self._publish(topic, message)
                continue
            _, written = self.waiting.popleft()
            if isinstance(reply, _Failed):
                _settle(written, error=WriteFailed(reply.error))
                continue
            for topic, message in reply.messages:
                self._publish(topic, message)
            _settle(written, reply.results)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        lost, self.waiting = self.waiting, deque()
        if lost:
            log.error(
                "the ingest writer process (pid %s) stopped with %d batch(es) not answered; "
                "they count as not stored, and the next batch starts a new writer",
                self.process.pid,
                len(lost),
            )
        for events, written in lost:
            _settle(
                written,
                error=WriteFailed(
                    f"the ingest writer process stopped during a batch of {events} events"
                ),
            )
        # Reap it (and say how it ended) without blocking the loop.
        threading.Thread(target=self._reap, name="ingest-reap", daemon=True).start()
        self._on_lost(self)

    def _reap(self) -> None:
        self.process.join(STOP_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        if self.process.exitcode != 0:
            log.error(
                "the ingest writer process (pid %s) exited with %s",
                self.process.pid,
                self.process.exitcode,
            )


class ProcessWriter:
    """Commits in a child process on the same database; publishes here what it reports.

    Batches go to it over a pipe that the event loop reads and writes (no thread hand-offs,
    which wait for the GIL up to its 5 ms switch interval each while the loop is busy). The
    next batches wait in the pipe while one is committed, and are committed together.
    `before_commit` runs in the child inside each transaction (the cluster's NOTIFY), so it
    must be picklable; `publish` runs here after the commit, as a unit of work would.
    """

    def __init__(
        self,
        database_url: str,
        join_window: timedelta,
        publish: Publisher,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self._url = database_url
        self._join_window = join_window
        self._publish = publish
        self._before_commit = before_commit
        self._child: _Child | None = None
        self._starting: asyncio.Task[None] | None = None
        #: Batches submitted while the writer process was starting.
        self._backlog: list[tuple[bytes, int, asyncio.Future[list[IngestResult]]]] = []
        #: Writer processes started so far (more than one: some died).
        self.starts = 0

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.process.pid if child is not None and not child.gone else None

    def status(self) -> dict[str, Any]:
        child = self._child
        owed = child.owed_updates if child is not None else 0
        return {
            "kind": "process",
            "pid": self.pid,
            "starts": self.starts,
            "owed_updates_published": owed,
        }

    def open(self) -> None:
        child = self._child
        if child is not None and not child.gone:
            return  # running: a second process would be left without batches
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(
                self._start(), name="ingest-writer-start"
            )

    async def ready(self) -> None:
        self.open()
        starting = self._starting
        if starting is not None:
            await asyncio.shield(starting)  # a failure to start is logged there

    def submit(self, batch: Batch) -> asyncio.Future[list[IngestResult]]:
        written: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()
        try:
            frame = _frame(batch)
        except Exception as exc:
            # An event that cannot be pickled (its digest cannot be computed): hand it over
            # with its payload set aside, rather than fail its batch on every resend.
            batch = _picklable(batch, exc)
            try:
                frame = _frame(batch)
            except Exception as again:
                written.set_exception(
                    WriteFailed(f"could not hand the batch to the writer: {again}")
                )
                return written
        child = self._child
        if child is None or child.gone:
            self._backlog.append((frame, len(batch.events), written))
            self.open()
        else:
            child.send(frame, len(batch.events), written)
        return written

    async def close(self) -> None:
        """Let the writer process finish what it was sent and exit (nothing half-way)."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        child, self._child = self._child, None
        if child is None or child.transport is None:
            return
        if child.waiting:
            log.warning(
                "stopping the ingest writer with %d batch(es) unanswered", len(child.waiting)
            )
        child.transport.write(_frame(None))
        await asyncio.to_thread(child.process.join, STOP_TIMEOUT)
        if child.process.is_alive():
            log.error("the ingest writer process did not stop; killing it")
            child.process.kill()
            await asyncio.to_thread(child.process.join)
        child.transport.close()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(START_TIMEOUT):
                process, sock = await asyncio.to_thread(self._spawn)
                _, child = await loop.connect_accepted_socket(
                    lambda: _Child(process, self._publish, self._lost), sock
                )
        except Exception as exc:
            log.error("could not start the ingest writer process: %s", exc)
            backlog, self._backlog = self._backlog, []
            for _, _, written in backlog:
                _settle(written, error=WriteFailed(f"no ingest writer process: {exc}"))
            return
        self._child = child
        self.starts += 1
        if self.starts > 1:
            log.warning("started a new ingest writer process (pid %s)", process.pid)
        backlog, self._backlog = self._backlog, []
        for frame, events, written in backlog:
            child.send(frame, events, written)

    def _lost(self, child: _Child) -> None:
        # Start the next writer now, so the next press does not wait for it; one that died
        # at once (a bad database URL, say) is restarted by the next batch instead, not in
        # a loop.
        if child is self._child and time.monotonic() - child.started_at >= RESTART_AFTER:
            self.open()

    def _spawn(self) -> tuple[BaseProcess, socket.socket]:
        # forkserver: a child forked from a small, single-threaded server process, not from
        # this one with its threads and sockets (fork), and without a fresh interpreter's
        # imports for every start (spawn).
        context = multiprocessing.get_context("forkserver")
        # Preloaded there: what the writer imports, so a new writer starts in milliseconds.
        context.set_forkserver_preload([__name__, "helppoint.store.database"])
        ours, theirs = context.Pipe()  # a socket pair: the loop can serve our end
        process = context.Process(
            target=_serve,
            args=(
                theirs,
                self._url,
                self._join_window,
                self._before_commit,
                logging.getLogger("helppoint").getEffectiveLevel(),
            ),
            name="helppoint-ingest-writer",
            daemon=True,
        )
        process.start()
        theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        sock.setblocking(False)
        return process, sock


def _picklable(batch: Batch, error: Exception) -> Batch:
    """The batch with every event that cannot be pickled set aside (batch_commit.py)."""
    events = list(batch.events)
    for index, event in enumerate(events):
        try:
            pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            log.error(
                "unit %s seq %d: its payload cannot be handed to the writer (%s); set aside",
                event.unit_id,
                event.seq,
                error,
            )
            events[index] = payload_set_aside(event, error)
    return replace(batch, events=events)


def _settle(
    written: Future[list[IngestResult]] | asyncio.Future[list[IngestResult]],
    result: list[IngestResult] | None = None,
    error: BaseException | None = None,
) -> None:
    # Whoever waited may have given up (a server stopping): the events are stored anyway.
    with contextlib.suppress(InvalidStateError, asyncio.InvalidStateError):
        if error is not None:
            written.set_exception(error)
        else:
            written.set_result(result or [])


def _collect(messages: list[tuple[str, dict[str, Any]]]) -> Publisher:
    return lambda topic, message: messages.append((topic, message))


def _serve(
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
    order = LinkOrder()
    tune_for_serving()  # this process's garbage comes in bursts too: one batch's objects
    try:
        while True:
            # Owed incident updates go out when due, whether batches keep coming or not.
            wait = updates.wait()
            if wait is not None and (wait == 0 or not conn.poll(wait)):
                owed: list[tuple[str, dict[str, Any]]] = []
                updates.publish_due(UnitOfWork(session_factory, _collect(owed), before_commit))
                if owed:
                    try:
                        conn.send_bytes(pickle.dumps(_Owed(owed), protocol=pickle.HIGHEST_PROTOCOL))
                    except OSError:
                        break
                continue
            try:
                first = conn.recv()
            except EOFError:  # the server is gone
                break
            if first is None:
                break
            # Batches that queued up while the last commit ran are committed together.
            group, stopping = [first], False
            while sum(len(batch.events) for batch in group) < MAX_GROUP and conn.poll():
                more = conn.recv()
                if more is None:
                    stopping = True
                    break
                group.append(more)
            messages: list[tuple[str, dict[str, Any]]] = []
            uow = UnitOfWork(session_factory, _collect(messages), before_commit)
            try:
                each = commit_batches(uow, group, join_window, known, updates, order)
            except Exception as exc:
                events = sum(len(batch.events) for batch in group)
                log.error("could not store %d events: %s", events, exc)
                replies: list[_Written | _Failed] = [_Failed(f"{type(exc).__name__}: {exc}")] * len(
                    group
                )
            else:
                # The messages go with the first answer: published before any is acknowledged.
                replies = [
                    _Written(results, messages if index == 0 else [])
                    for index, results in enumerate(each)
                ]
            try:
                for reply in replies:
                    conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:
                break
            if stopping:
                break
    finally:
        engine.dispose()
