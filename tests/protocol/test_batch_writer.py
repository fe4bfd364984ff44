"""The ingest writers: batches committed in a writer process (or on a thread), in order.

Real processes and a real database: the writer process opens its own engine on the same
SQLite file (or PostgreSQL schema) and the parent reads back what it stored.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing.forkserver
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from helppoint.domain.events import EventType
from helppoint.gateway.batch_commit import Batch, commit_batches
from helppoint.gateway.batch_writer import BatchWriter, WriteFailed
from helppoint.gateway.ingest_queue import IngestQueue, IngestUnavailable
from helppoint.gateway.process_writer import ProcessWriter
from helppoint.gateway.thread_writer import ThreadWriter
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.services.seed import seed_demo
from helppoint.store import tables as t
from helppoint.store.database import make_session_factory
from helppoint.store.tables_selftest import unit_power
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic
from tests.conftest import Database
from tests.waiting import eventually

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def press(unit: str, seq: int) -> ReportedEvent:
    return ReportedEvent(unit, seq, EventType.ACTIVATION, T0 + timedelta(seconds=seq))


def stored_events(database: Database) -> list[tuple[str, int]]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(t.device_events.c.unit_id, t.device_events.c.seq).order_by(
                t.device_events.c.unit_id, t.device_events.c.seq
            )
        )
        return [(unit, seq) for unit, seq in rows]


class Published:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))


def process_writer(database: Database, published: Published) -> ProcessWriter:
    url = database.engine.url.render_as_string(hide_password=False)
    return ProcessWriter(url, WINDOW, published)


def writer_of(kind: str, database: Database, published: Published) -> BatchWriter:
    """A writer process, or a thread of this process, publishing to `published`."""
    if kind == "process":
        return process_writer(database, published)
    factory = make_session_factory(database.engine)
    return ThreadWriter(lambda: UnitOfWork(factory, published), WINDOW)


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_demo(database.uow())
    return database


async def test_the_writer_process_stores_and_the_server_publishes(seeded: Database) -> None:
    published = Published()
    writer = process_writer(seeded, published)
    writer.open()
    try:
        results = await writer.submit(Batch([press("HP-01", 1), press("HP-02", 1)], T0))
        assert [(r.unit_id, r.outcome) for r in results] == [
            ("HP-01", Outcome.STORED),
            ("HP-02", Outcome.STORED),
        ]
        assert writer.pid is not None and writer.pid != os.getpid()
        again = await writer.submit(Batch([press("HP-01", 1)], T0))
        assert again[0].outcome is Outcome.DUPLICATE
    finally:
        await writer.close()
    assert stored_events(seeded) == [("HP-01", 1), ("HP-02", 1)]
    # The consoles hear of both incidents, from this process, once committed.
    topics = [topic for topic, _ in published.messages]
    assert topics == [Topic.INCIDENTS, Topic.INCIDENTS]
    assert {m["unit_id"] for _, m in published.messages} == {"HP-01", "HP-02"}


async def test_the_writer_process_says_where_each_batchs_time_went(seeded: Database) -> None:
    parts: list[tuple[float, float, float]] = []
    url = seeded.engine.url.render_as_string(hide_password=False)
    writer = ProcessWriter(url, WINDOW, Published(), observe_parts=lambda *p: parts.append(p))
    await writer.ready()
    try:
        for seq in (1, 2):
            handed = time.monotonic()
            await writer.submit(Batch([press("HP-01", seq)], T0))
            answered = time.monotonic()
            # Measured on the clock every process shares: the three parts (to the writer,
            # storing, back) fall within the time this side waited for the answer.
            to_writer, storing, back = parts[-1]
            assert min(to_writer, storing, back) >= 0 and storing > 0
            assert to_writer + storing + back <= answered - handed
    finally:
        await writer.close()
    assert len(parts) == 2


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_batches_handed_over_at_once_are_all_stored_in_order(
    seeded: Database, kind: str
) -> None:
    writer = writer_of(kind, seeded, Published())
    writer.open()
    try:
        # Twenty batches without waiting: they queue up and may be committed together, but
        # each is answered with its own results, and a unit's seqs stay in order.
        pending = [
            writer.submit(Batch([press("HP-01", n), press("HP-03", n)], T0 + timedelta(seconds=n)))
            for n in range(1, 21)
        ]
        answered = await asyncio.gather(*pending)
    finally:
        await writer.close()
    for n, results in enumerate(answered, start=1):
        assert [(r.unit_id, r.seq, r.outcome) for r in results] == [
            ("HP-01", n, Outcome.STORED),
            ("HP-03", n, Outcome.STORED),
        ]
    assert stored_events(seeded) == [("HP-01", n) for n in range(1, 21)] + [
        ("HP-03", n) for n in range(1, 21)
    ]


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_a_unit_that_cannot_be_stored_fails_alone(seeded: Database, kind: str) -> None:
    writer = writer_of(kind, seeded, Published())
    writer.open()
    try:
        # No such unit: its events fail in the writer, the other unit's are stored.
        results = await writer.submit(Batch([press("HP-01", 1), press("NO-SUCH-UNIT", 1)], T0))
        assert [r.outcome for r in results] == [Outcome.STORED, Outcome.NOT_STORED]
        results = await writer.submit(Batch([press("HP-01", 2)], T0))
        assert results[0].outcome is Outcome.STORED
    finally:
        await writer.close()
    assert stored_events(seeded) == [("HP-01", 1), ("HP-01", 2)]


@pytest.mark.slow
async def test_a_killed_writer_process_fails_its_batches_and_a_new_one_takes_over(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seed_demo(sqlite_database.uow())
    writer = process_writer(sqlite_database, Published())
    writer.open()
    try:
        await writer.submit(Batch([press("HP-01", 1)], T0))
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        # As a unit would: resend until stored. A batch handed to the dead writer before the
        # server noticed fails (never "stored"); the next one starts a new writer process.
        for _ in range(3):
            try:
                results = await writer.submit(Batch([press("HP-01", 2)], T0))
                break
            except WriteFailed:
                continue
        assert results[0].outcome is Outcome.STORED
        assert writer.starts == 2 and writer.pid not in (None, first)
        assert "ingest writer process" in caplog.text
    finally:
        await writer.close()
    assert stored_events(sqlite_database) == [("HP-01", 1), ("HP-01", 2)]


async def test_closing_lets_the_writer_process_finish_and_exit(sqlite_database: Database) -> None:
    seed_demo(sqlite_database.uow())
    writer = process_writer(sqlite_database, Published())
    writer.open()
    results = await writer.submit(Batch([press("HP-01", 1)], T0))
    assert results[0].outcome is Outcome.STORED
    pid = writer.pid
    assert pid is not None
    await writer.close()
    assert writer.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped
    await writer.close()  # twice is harmless


async def test_a_sigterm_to_the_whole_group_stops_the_writer_without_an_error(
    sqlite_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """systemd stops a service with a SIGTERM to every process of it: the fork server that
    started the writer dies of it and takes the writer's exit status along (multiprocessing
    then says 255). The writer ignores it and ends when told: no error in the log (an IT team's
    monitoring would page someone on every restart)."""
    seed_demo(sqlite_database.uow())
    caplog.set_level(logging.INFO, logger="helppoint.gateway.process_writer")
    writer = process_writer(sqlite_database, Published())
    writer.open()
    results = await writer.submit(Batch([press("HP-01", 1)], T0))
    assert results[0].outcome is Outcome.STORED
    pid = writer.pid
    server = multiprocessing.forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert pid is not None and server is not None
    for process in (server, pid):
        os.kill(process, signal.SIGTERM)
    results = await writer.submit(Batch([press("HP-01", 2)], T0))  # it goes on meanwhile
    assert results[0].outcome is Outcome.STORED
    await writer.close()
    await eventually(lambda: "ingest writer process (pid" in caplog.text, what="the reaper's word")
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    assert f"ingest writer process (pid {pid}) ended" in caplog.text
    assert stored_events(sqlite_database) == [("HP-01", 1), ("HP-01", 2)]


@pytest.mark.postgres
async def test_the_writer_process_stores_on_a_new_connection_when_its_own_died(
    postgres_database: Database,
) -> None:
    # It does not ping its connection before each batch (a round trip each): a connection
    # that died between batches (a database restart, an administrator) costs no batch.
    seed_demo(postgres_database.uow())
    name = f"hp_writer_{uuid.uuid4().hex[:12]}"
    url = postgres_database.engine.url.render_as_string(hide_password=False)
    writer = ProcessWriter(f"{url}&application_name={name}", WINDOW, Published())
    writer.open()
    try:
        results = await writer.submit(Batch([press("HP-01", 1)], T0))
        assert results[0].outcome is Outcome.STORED
        with postgres_database.engine.connect() as connection:
            ended = connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %(name)s",
                {"name": name},
            ).all()
            assert ended  # (its only connection: no ping checked it out meanwhile)

            def gone() -> bool:
                connection.rollback()  # (a transaction sees one snapshot of pg_stat_activity)
                query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(name)s"
                return connection.exec_driver_sql(query, {"name": name}).scalar_one() == 0

            await eventually(gone, what="the writer's connection to end")
        results = await writer.submit(Batch([press("HP-01", 2)], T0))
        assert results[0].outcome is Outcome.STORED
        assert writer.starts == 1  # the same writer process
    finally:
        await writer.close()
    assert stored_events(postgres_database) == [("HP-01", 1), ("HP-01", 2)]


async def test_the_queue_is_ready_once_its_writer_process_runs(seeded: Database) -> None:
    # The server waits for this before it listens: no alarm waits for the writer to start.
    writer = process_writer(seeded, Published())
    queue = IngestQueue(
        lambda: UnitOfWork(make_session_factory(seeded.engine)), WINDOW, writer=writer
    )
    queue.start()
    try:
        assert writer.pid is None  # starting in the background
        await queue.ready()
        assert writer.pid is not None
        assert writer.status() == {
            "kind": "process",
            "pid": writer.pid,
            "starts": 1,
            "owed_updates_published": 0,
        }
        await queue.ready()  # ready stays ready; no second process
        assert writer.starts == 1
    finally:
        await queue.stop()


async def test_the_ingest_queue_answers_events_through_the_writer_process(
    seeded: Database,
) -> None:
    published = Published()
    queue = IngestQueue(
        lambda: UnitOfWork(make_session_factory(seeded.engine)),
        WINDOW,
        writer=process_writer(seeded, published),
        touch_interval=0.05,
    )
    queue.start()
    try:
        queue.touch("HP-05")  # heard from, with no event: written apart, within the interval
        assert queue.heard_unwritten("HP-05")
        results = await asyncio.gather(*(queue.submit(press("HP-02", n)) for n in range(1, 51)))
        assert [r.outcome for r in results] == [Outcome.STORED] * 50
        # The writer writes a unit's last-seen time at most once a second (unit_touches.py):
        # until then supervision must not take the unit's stored time for the last word.
        assert queue.heard_unwritten("HP-02")
        await eventually(lambda: not queue.heard_unwritten("HP-05"), what="HP-05 written")
    finally:
        await queue.stop()
    with seeded.engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(t.device_events))
        seen = connection.scalar(
            select(t.help_points.c.last_seen_at).where(t.help_points.c.id == "HP-05")
        )
    assert count == 50
    assert seen is not None
    # One incident, joined 49 times: the consoles hear of it after each commit.
    assert published.messages and all(m["unit_id"] == "HP-02" for _, m in published.messages)


async def test_after_an_event_is_not_stored_the_units_later_ones_wait_for_its_resend(
    sqlite_database: Database,
) -> None:
    seed_demo(sqlite_database.uow())
    session_factory = make_session_factory(sqlite_database.engine)
    down = [True]

    def uow_factory() -> UnitOfWork:
        if down[0]:  # the database is unavailable for the first batch
            down[0] = False
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        return UnitOfWork(session_factory)

    queue = IngestQueue(uow_factory, WINDOW, writer=ThreadWriter(uow_factory, WINDOW))
    queue.start()
    try:
        link = queue.open_link()
        with pytest.raises(IngestUnavailable):
            await queue.submit(press("HP-01", 1), link=link)
        # Stored now, HP-01's seq 2 would come before its seq 1: refused on this link.
        with pytest.raises(IngestUnavailable, match="this link takes no more events"):
            await queue.submit(press("HP-01", 2), link=link)
        # Other units, and events numbered by the server (DC-09), are not held up.
        other = await queue.submit(press("HP-02", 1), link=queue.open_link())
        assert other.outcome is Outcome.STORED
        # The unit resends from seq 1 on its next link.
        again = queue.open_link()
        resent = await asyncio.gather(
            queue.submit(press("HP-01", 1), link=again),
            queue.submit(press("HP-01", 2), link=again),
        )
        assert [r.outcome for r in resent] == [Outcome.STORED, Outcome.STORED]
    finally:
        await queue.stop()
    assert stored_events(sqlite_database) == [("HP-01", 1), ("HP-01", 2), ("HP-02", 1)]


@pytest.mark.parametrize("kind", ["process", "thread"])
async def test_repeat_presses_update_the_consoles_twice_a_second_and_none_is_left_behind(
    seeded: Database, kind: str
) -> None:
    published = Published()
    writer = writer_of(kind, seeded, published)
    await writer.ready()

    def counts(unit: str) -> list[int]:
        return [m["event_count"] for _, m in published.messages if m["unit_id"] == unit]

    try:
        # HP-01 is pressed twice and falls quiet; HP-02's button is pressed again and again.
        await writer.submit(Batch([press("HP-01", 1)], T0))
        await writer.submit(Batch([press("HP-01", 2)], T0))
        loop = asyncio.get_running_loop()
        flood_ends, seq = loop.time() + 1.5, 0
        in_flight: deque[asyncio.Future[Any]] = deque()
        while loop.time() < flood_ends:  # batches always waiting: the writer is never idle
            while len(in_flight) < 4:
                seq += 1
                in_flight.append(
                    writer.submit(Batch([press("HP-02", seq)], T0 + timedelta(seconds=seq)))
                )
            await in_flight.popleft()
        await asyncio.gather(*in_flight)
        # HP-01's second press reached the consoles while HP-02's kept the writer busy.
        assert counts("HP-01") == [1, 2]
        # And HP-02's last one follows within the interval.
        await eventually(lambda: counts("HP-02")[-1] == seq, within=5, every=0.05)
    finally:
        await writer.close()
    flood = counts("HP-02")
    assert flood[-1] == seq and flood == sorted(flood)
    # Every press stored, but about one update per half second: not one per press.
    assert stored_events(seeded).count(("HP-02", seq)) == 1 and seq > 50
    assert len(flood) <= 8


async def test_a_unit_whose_resend_another_process_stored_is_not_refused_here(
    sqlite_database: Database,
) -> None:
    """Once, a process that failed to store a unit's event refused that unit's later events
    on every later link until it restarted, when the resend was stored by another process
    (tests/cluster/test_link_takeover.py has it with two server processes)."""
    seeded = sqlite_database
    seed_demo(seeded.uow())
    factory = make_session_factory(seeded.engine)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(factory)

    with seeded.engine.begin() as connection:  # this process cannot store HP-01's seq 1
        connection.execute(
            text(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON device_events "
                "WHEN NEW.unit_id = 'HP-01' AND NEW.seq = 1 "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
    queue = IngestQueue(uow_factory, WINDOW, writer=ThreadWriter(uow_factory, WINDOW))
    queue.start()
    try:
        first = queue.open_link()
        with pytest.raises(IngestUnavailable):
            await queue.submit(press("HP-01", 1), link=first)
        queue.close_link(first)  # closed with 1011; the unit reconnects elsewhere
        with seeded.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER refuse_one"))
        # Another process stores the resend.
        commit_batches(uow_factory(), [Batch([press("HP-01", 1)], T0)], WINDOW)
        # The unit's next link comes to this process again, with its next press.
        later = queue.open_link()
        result = await queue.submit(press("HP-01", 2), link=later)
        assert result.outcome is Outcome.STORED
    finally:
        await queue.stop()
    assert stored_events(seeded) == [("HP-01", 1), ("HP-01", 2)]


class RecordingWriter:
    """A thread writer that notes what each batch handed to it held."""

    def __init__(self, inner: ThreadWriter) -> None:
        self.inner = inner
        #: (events, touched units, power reports) of each batch, in the order handed over.
        self.batches: list[tuple[int, list[str], set[str]]] = []

    def open(self) -> None:
        self.inner.open()

    async def ready(self) -> None:
        await self.inner.ready()

    def submit(self, batch: Batch) -> asyncio.Future[list[Any]]:
        self.batches.append((len(batch.events), list(batch.touched), set(batch.power)))
        return self.inner.submit(batch)

    async def close(self) -> None:
        await self.inner.close()

    def status(self) -> dict[str, Any]:
        return self.inner.status()


async def test_a_press_does_not_wait_behind_a_large_fleets_heartbeats(
    sqlite_database: Database,
) -> None:
    # A press's batch used to take along every unit heard from since the last write: after a
    # second of a large fleet's heartbeats, hundreds of last-seen times and power reports
    # written in the press's own commit, before its ack. Now they are written apart, a
    # chunk at a time, and a press waits for one chunk at most.
    from helppoint.gateway.ingest_queue import TOUCH_CHUNK, TOUCH_COMMITS
    from helppoint.services.units import ensure_zone, provision_unit

    seed_demo(sqlite_database.uow())
    fleet = [f"HB-{n:03d}" for n in range(300)]
    with sqlite_database.uow() as uow:
        ensure_zone(uow, "fleet", "Fleet")
        for unit in fleet:
            provision_unit(uow, unit, unit, "fleet", 52.0, -0.9)
        uow.commit()
    factory = make_session_factory(sqlite_database.engine)
    writer = RecordingWriter(ThreadWriter(lambda: UnitOfWork(factory), WINDOW))
    queue = IngestQueue(lambda: UnitOfWork(factory), WINDOW, writer=writer, touch_interval=0.05)
    queue.start()
    try:
        for unit in fleet:  # their heartbeats, with power reports
            queue.report_power(unit, 0.9, True)
        result = await queue.submit(press("HP-01", 1))
        assert result.outcome is Outcome.STORED
        await eventually(
            lambda: not any(queue.heard_unwritten(unit) for unit in fleet),
            what="every heartbeat written",
        )
    finally:
        await queue.stop()
    with_press = [batch for batch in writer.batches if batch[0]]
    assert with_press == [(1, [], set())]
    apart = [batch for batch in writer.batches if not batch[0]]
    # TOUCH_CHUNK a commit, more when that would take over TOUCH_COMMITS commits (with a
    # fixed size the units written a second were bound by the commit's time: at 50,000
    # units on saturated cores, heartbeats fell behind and live units were reported down).
    largest = max(TOUCH_CHUNK, -(-len(fleet) // TOUCH_COMMITS))
    assert all(len(touched) <= largest for _, touched, _ in apart)
    assert len(apart) <= TOUCH_COMMITS
    assert sorted(u for _, touched, _ in apart for u in touched) == fleet
    assert sorted(u for _, _, power in apart for u in power) == fleet
    assert len(fleet) > TOUCH_CHUNK
    with sqlite_database.engine.connect() as connection:
        seen = connection.execute(
            select(t.help_points.c.id).where(
                t.help_points.c.id.in_(fleet), t.help_points.c.last_seen_at.is_not(None)
            )
        ).scalars()
        powered = connection.execute(select(unit_power.c.unit_id)).scalars()
        assert sorted(seen) == fleet
        assert sorted(powered) == fleet


W = TypeVar("W", bound="RecordingWriter")


def started_queue(database: Database, wrap: Callable[[ThreadWriter], W]) -> tuple[W, IngestQueue]:
    """The demo scheme's units, and a started queue whose writer is `wrap`ped, writing the
    units heard from every 50 ms."""
    seed_demo(database.uow())
    factory = make_session_factory(database.engine)
    writer = wrap(ThreadWriter(lambda: UnitOfWork(factory), WINDOW))
    queue = IngestQueue(lambda: UnitOfWork(factory), WINDOW, writer=writer, touch_interval=0.05)
    queue.start()
    return writer, queue


async def test_heartbeats_are_never_written_in_a_press_commit(sqlite_database: Database) -> None:
    # Even a few units heard from went with the next batch of events, in its commit: each
    # adds two or three pages to the commit's write-ahead log, and at 10,000 units (~15
    # units a press) that made a press's commit a millisecond longer. They are written apart,
    # once a touch interval.
    writer, queue = started_queue(sqlite_database, RecordingWriter)
    try:
        queue.report_power("HP-05", 0.9, True)
        queue.touch("HP-04")
        await queue.submit(press("HP-01", 1))
        await eventually(
            lambda: not queue.heard_unwritten("HP-05") and not queue.heard_unwritten("HP-04"),
            what="both heartbeats written",
        )
    finally:
        await queue.stop()
    assert (1, [], set()) in writer.batches
    assert [batch for batch in writer.batches if batch[0] == 0] == [
        (0, ["HP-04", "HP-05"], {"HP-05"})
    ]


class GatedWriter(RecordingWriter):
    """Holds every batch of last-seen times (no events) until `open_gate`: a writer behind,
    as on a saturated machine or while the database stalls."""

    def __init__(self, inner: ThreadWriter) -> None:
        super().__init__(inner)
        self.gate = asyncio.Event()

    def submit(self, batch: Batch) -> asyncio.Future[list[Any]]:
        if batch.events:
            return super().submit(batch)
        self.batches.append((0, list(batch.touched), set(batch.power)))
        held: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

        async def later() -> None:
            await self.gate.wait()
            try:
                held.set_result(await self.inner.submit(batch))
            except Exception as exc:
                held.set_exception(exc)

        task = asyncio.get_running_loop().create_task(later())
        held.add_done_callback(lambda _: task)  # keeps the task referenced
        return held


async def test_heard_through_stays_at_the_oldest_heartbeat_not_written_yet(
    sqlite_database: Database,
) -> None:
    # The other server processes' supervision sweep reports no unit down whose deadline falls
    # after this time (cluster/presence.py): it must never pass a heartbeat this process
    # heard and has not written, however long the writer takes.
    writer, queue = started_queue(sqlite_database, GatedWriter)
    try:
        before = time.time()
        assert queue.heard_through() >= before  # nothing heard: nothing unwritten
        heard = time.time()
        queue.touch("HP-01")
        queue.report_power("HP-02", 0.5, True)
        more = [f"NEW-{n:02d}" for n in range(40)]  # more than a chunk: some wait their turn
        for unit in more:
            queue.touch(unit)
        await eventually(lambda: len(writer.batches) > 0, what="the flush under way")
        await asyncio.sleep(0.3)  # the writer is held: the bound stays where it was
        held = queue.heard_through()
        assert before <= held <= heard + 0.01
        assert held < time.time() - 0.25
        assert all(queue.heard_unwritten(u) for u in ["HP-01", "HP-02", *more])
        queue.touch("HP-03")  # heard during the flush: waits for the next one
        assert queue.heard_through() == pytest.approx(held, abs=0.01)
        opened = time.time()
        writer.gate.set()
        await eventually(
            lambda: not any(queue.heard_unwritten(u) for u in ["HP-01", "HP-02", "HP-03", *more]),
            what="all written",
        )
        assert queue.heard_through() >= opened
        # An event with the writer holds it back too, and for twice the interval after it,
        # in which the writer may still owe its unit's last-seen time.
        result = await queue.submit(press("HP-01", 1))
        assert result.outcome is Outcome.STORED
        assert queue.heard_through() <= time.time() - 2 * 1.0 + 0.01
    finally:
        writer.gate.set()
        await queue.stop()
