"""`ProcessWriter`: the ingest queue's batches committed in a writer process (batch_writer.py).

This is the serving process's side: it starts the writer process (writer_process.py), sends
it each batch over a pipe (writer_pipe.py) that the event loop serves, publishes what it
reports, and starts a new one if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from multiprocessing.process import BaseProcess
from typing import Any, cast

from helppoint.gateway.batch_commit import Batch, payload_set_aside
from helppoint.gateway.batch_writer import WriteFailed, settle
from helppoint.gateway.writer_pipe import Failed, Frames, Owed, encode
from helppoint.gateway.writer_process import serve
from helppoint.services.ingest import IngestResult
from helppoint.store.uow import BeforeCommit, Publisher

log = logging.getLogger(__name__)

#: Seconds the writer process has to finish its batch and exit when the server stops.
STOP_TIMEOUT = 10.0
#: Seconds a new writer process has to start before the batches waiting for it fail.
START_TIMEOUT = 30.0
#: A writer process that lived this long (seconds) is replaced as soon as it dies.
RESTART_AFTER = 1.0
#: The exit status multiprocessing gives a child of a fork server that is gone (popen_forkserver).
EXIT_STATUS_LOST = 255

#: Told, for each batch the writer stored, how long it waited to be taken up (the pipe, and
#: the batches before it), how long storing and committing it took, and how long its answer
#: waited to be read here (the pipe, and this process's event loop), in seconds.
PartsObserver = Callable[[float, float, float], None]


class _Child(asyncio.Protocol):
    """One writer process, its end of the pipe, and the batches it has not answered (in order)."""

    def __init__(
        self,
        process: BaseProcess,
        publish: Publisher,
        on_lost: Callable[[_Child], None],
        observe_parts: PartsObserver | None = None,
    ) -> None:
        self.process = process
        self._publish = publish
        self._on_lost = on_lost
        self._observe_parts = observe_parts
        self.started_at = time.monotonic()
        #: Each batch sent and not answered: its events, its answer to come, when it was sent.
        self.waiting: deque[tuple[int, asyncio.Future[list[IngestResult]], float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.gone = False
        self._frames = Frames()
        #: Incident updates the writer published after their interval (join_updates.py).
        self.owed_updates = 0
        #: The server asked it to stop (ProcessWriter.close).
        self.stopping = False
        #: Batches it had not answered when its pipe closed.
        self.lost_batches = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, frame: bytes, events: int, written: asyncio.Future[list[IngestResult]]) -> None:
        assert self.transport is not None
        self.waiting.append((events, written, time.monotonic()))
        self.transport.write(frame)

    def data_received(self, data: bytes) -> None:
        for reply in self._frames.feed(data):
            if isinstance(reply, Owed):
                self.owed_updates += len(reply.messages)
                for topic, message in reply.messages:
                    self._publish(topic, message)
                continue
            _, written, sent = self.waiting.popleft()
            if isinstance(reply, Failed):
                settle(written, error=WriteFailed(reply.error))
                continue
            if self._observe_parts is not None and reply.answered:
                self._observe_parts(
                    max(reply.started - sent, 0.0),
                    reply.answered - reply.started,
                    max(time.monotonic() - reply.answered, 0.0),
                )
            for topic, message in reply.messages:
                self._publish(topic, message)
            settle(written, reply.results)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        lost, self.waiting = self.waiting, deque()
        self.lost_batches = len(lost)
        if lost:
            log.error(
                "the ingest writer process (pid %s) stopped with %d batch(es) not answered; "
                "they count as not stored, and the next batch starts a new writer",
                self.process.pid,
                len(lost),
            )
        for events, written, _ in lost:
            settle(
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
        code = self.process.exitcode
        if code == EXIT_STATUS_LOST:
            # A service manager's SIGTERM to the whole group (systemd's default) ends the fork
            # server, which reports its children's exit status; the writer ignores it and
            # stops when the pipe says so. Whether it ended well shows above: a batch it did
            # not answer is logged as lost.
            log.log(
                logging.INFO if self.stopping and not self.lost_batches else logging.ERROR,
                "the ingest writer process (pid %s) ended; its exit status was lost with the "
                "fork server that started it",
                self.process.pid,
            )
        elif code != 0:
            log.error("the ingest writer process (pid %s) exited with %s", self.process.pid, code)


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
        observe_parts: PartsObserver | None = None,
    ) -> None:
        self._url = database_url
        self._observe_parts = observe_parts
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
            frame = encode(batch)
        except Exception as exc:
            # An event that cannot be pickled (its digest cannot be computed): hand it over
            # with its payload set aside, rather than fail its batch on every resend.
            batch = _picklable(batch, exc)
            try:
                frame = encode(batch)
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
        child.stopping = True
        child.transport.write(encode(None))
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
                    lambda: _Child(process, self._publish, self._lost, self._observe_parts), sock
                )
        except Exception as exc:
            log.error("could not start the ingest writer process: %s", exc)
            backlog, self._backlog = self._backlog, []
            for _, _, written in backlog:
                settle(written, error=WriteFailed(f"no ingest writer process: {exc}"))
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
        context.set_forkserver_preload(
            ["helppoint.gateway.writer_process", "helppoint.store.database"]
        )
        ours, theirs = context.Pipe()  # a socket pair: the loop can serve our end
        process = context.Process(
            target=serve,
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
