"""The cluster pieces on a real PostgreSQL: LISTEN/NOTIFY fan-out and advisory-lock election."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from helppoint.cluster import Cluster
from helppoint.cluster.election import Elector, Job
from helppoint.gateway.broker import Broker
from helppoint.store.database import make_session_factory
from tests.conftest import Database

pytestmark = pytest.mark.postgres


async def next_message(broker: Broker, action: Callable[[], Any], wait: float = 5) -> Any:
    async with broker.subscribe() as subscription:
        await asyncio.to_thread(action)
        return await asyncio.wait_for(subscription.get(), wait)


@asynccontextmanager
async def two_processes(engine: Engine) -> AsyncIterator[tuple[Cluster, Broker, Cluster, Broker]]:
    """Two started clusters on one database, as two server processes would have."""
    one_broker, two_broker = Broker(), Broker()
    loop = asyncio.get_running_loop()
    one_broker.bind(loop)
    two_broker.bind(loop)
    one, two = Cluster(engine, one_broker), Cluster(engine, two_broker)
    await one.start()
    await two.start()
    try:
        yield one, one_broker, two, two_broker
    finally:
        await one.stop()
        await two.stop()


async def test_a_committed_change_reaches_the_other_process_and_a_rolled_back_one_does_not(
    postgres_database: Database,
) -> None:
    engine = postgres_database.engine
    sessions = make_session_factory(engine)
    async with two_processes(engine) as (one, one_broker, _two, two_broker):

        def commit(message: dict[str, Any], rollback: bool = False) -> None:
            with sessions() as session:
                one.bus.notify_in_transaction(session, [("incidents", message)])
                session.rollback() if rollback else session.commit()

        async with two_broker.subscribe() as at_two, one_broker.subscribe() as at_one:
            await asyncio.to_thread(commit, {"id": 1, "state": "rolled back"}, True)
            await asyncio.to_thread(commit, {"id": 2, "state": "new"})
            topic, message = await asyncio.wait_for(at_two.get(), 5)
            assert (topic, message) == ("incidents", {"id": 2, "state": "new"})
            # Not echoed back to the process that sent it (it delivers locally itself).
            one_broker.forward = None
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(at_one.get(), 0.5)

            # A message outside any transaction (a unit connecting) is forwarded too.
            one.bus.forward("units", {"id": "HP-01", "connected": True})
            assert await asyncio.wait_for(at_two.get(), 5) == (
                "units",
                {"id": "HP-01", "connected": True},
            )

            # Too large for NOTIFY: the other process's subscribers are told to resync.
            one.bus.forward("incidents", {"id": 3, "notes": "x" * 9000})
            topic, _ = await asyncio.wait_for(at_two.get(), 5)
            assert topic == "resync" and at_two.overflowed


async def test_a_flood_of_forwards_arrives_complete_and_in_order(
    postgres_database: Database,
) -> None:
    """Forwards that queue up go in one NOTIFY round trip; none is merged or reordered, even
    identical ones (PostgreSQL merges identical payloads within one transaction)."""
    async with two_processes(postgres_database.engine) as (one, _one_broker, _two, two_broker):
        sent = []
        for n in range(600):
            # A unit flapping: the same two messages again and again.
            sent.append(("units", {"id": f"HP-{n % 7}", "connected": n % 2 == 0}))
        async with two_broker.subscribe(["units"]) as at_two:
            for topic, message in sent:
                one.bus.forward(topic, message)
            received = [await asyncio.wait_for(at_two.get(), 10) for _ in sent]
            assert received == sent
            assert not at_two.overflowed


async def test_a_transactions_messages_go_in_one_statement_complete_and_in_order(
    postgres_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest writer NOTIFYs a batch's incident views in its transaction: one round trip
    for them all, none merged (identical ones included) or reordered."""
    engine = postgres_database.engine
    sessions = make_session_factory(engine)
    statements: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(cursor: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if counting:  # (on the driver's cursor: the store sends it past SQLAlchemy)
            statements.append(str(statement))
        return execute(cursor, statement, *args, **kwargs)

    counting = False
    monkeypatch.setattr(psycopg.Cursor, "execute", counted)

    async with two_processes(engine) as (one, _one_broker, _two, two_broker):
        sent = [("incidents", {"id": n % 3, "event_count": n % 2}) for n in range(50)]

        def commit() -> None:
            with sessions() as session:
                nonlocal counting
                session.connection()  # (begun before counting)
                counting = True
                try:
                    one.bus.notify_in_transaction(session, sent)
                finally:
                    counting = False
                session.commit()

        async with two_broker.subscribe(["incidents"]) as at_two:
            await asyncio.to_thread(commit)
            received = [await asyncio.wait_for(at_two.get(), 10) for _ in sent]
        assert received == sent
        assert len(statements) == 1


async def test_losing_the_listening_connection_makes_consoles_resync(
    postgres_database: Database,
) -> None:
    engine = postgres_database.engine
    broker = Broker()
    broker.bind(asyncio.get_running_loop())
    cluster = Cluster(engine, broker)
    await cluster.start()
    try:
        async with broker.subscribe() as subscription:
            with engine.begin() as conn:
                # Only this test's listener: other servers may share the PostgreSQL server.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query = :listen AND pid <> pg_backend_pid()"
                    ),
                    {"listen": f'LISTEN "{cluster.bus.channel}"'},
                )
            topic, _ = await asyncio.wait_for(subscription.get(), 10)
            assert topic == "resync" and subscription.overflowed
        # And it listens again afterwards.
        for _ in range(100):
            if cluster.bus.reconnects and cluster.bus._listening.is_set():
                break
            await asyncio.sleep(0.05)
        assert cluster.bus._listening.is_set()
    finally:
        await cluster.stop()


def counting_job(name: str, running: dict[str, int]) -> Job:
    async def start() -> Callable[[], Awaitable[None]]:
        running[name] = running.get(name, 0) + 1

        async def stop() -> None:
            running[name] -= 1

        return stop

    return Job(name, start)


async def test_each_job_runs_once_and_moves_when_its_holder_goes(
    postgres_database: Database,
) -> None:
    engine = postgres_database.engine
    broker = Broker()
    cluster = Cluster(engine, broker)  # only for the connection string and namespace
    running: dict[str, int] = {}
    electors = [
        Elector(
            [counting_job("a", running), counting_job("b", running)],
            cluster.conninfo,
            cluster.space,
            interval=0.1,
        )
        for _ in range(3)
    ]
    for elector in electors:
        await elector.start()
    try:
        await asyncio.sleep(0.5)
        assert running == {"a": 1, "b": 1}
        holders = [e for e in electors if e.running]
        assert sum(len(e.running) for e in electors) == 2
        # The holder's connection dies (a crashed process): the jobs move, never doubled.
        first = holders[0]
        first_jobs = first.running
        assert first._connection is not None
        await first._connection.close()
        for _ in range(100):
            await asyncio.sleep(0.05)
            owners = [name for e in electors for name in e.running]
            if sorted(owners) == ["a", "b"] and not set(first_jobs) & set(first.running):
                break
        assert running == {"a": 1, "b": 1}
        assert sorted(name for e in electors for name in e.running) == ["a", "b"]
    finally:
        for elector in electors:
            await elector.stop()
    assert running == {"a": 0, "b": 0}


async def test_without_postgres_every_job_runs_and_a_failing_one_stops_the_start() -> None:
    running: dict[str, int] = {}
    elector = Elector([counting_job("a", running)], None)
    await elector.start()
    assert elector.running == ["a"] and running == {"a": 1}
    await elector.stop()
    assert running == {"a": 0}

    async def broken() -> Callable[[], Awaitable[None]]:
        raise OSError("port 8801 in use")

    with pytest.raises(OSError, match="in use"):
        await Elector([Job("sia-receiver", broken)], None).start()


async def test_each_process_learns_before_when_the_others_have_written_all_they_heard(
    postgres_database: Database,
) -> None:
    # The supervision sweep runs in one process; it must not report a unit down whose
    # heartbeat another process heard and has not written yet (services/supervision.py).
    from tests.waiting import eventually

    async with two_processes(postgres_database.engine) as (one, _, two, _):
        one.presence.heard_through = lambda: 1_000_000.0
        two.presence.heard_through = lambda: 2_000_000.0
        await eventually(
            lambda: (
                one.presence.others_heard_through == 2_000_000.0
                and two.presence.others_heard_through == 1_000_000.0
            ),
            what="each told the other's bound",
        )
        await two.stop()  # stopped cleanly: its row goes, and with it its bound
        await eventually(
            lambda: one.presence.others_heard_through is None, what="the bound gone with it"
        )
