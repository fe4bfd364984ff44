"""The hash-chained audit trail on SQLite and PostgreSQL: appends, tampering, export."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from helppoint.domain.model import AuditEntry
from helppoint.services import audit as svc
from helppoint.services.seed import seed_demo
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork


def write(database, n: int, actor: str = "alice") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        uow: UnitOfWork = database.uow()
        with uow:
            uow.audit.add(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=actor,
                    action="test.action",
                    detail={"i": i},
                    address="10.1.2.3",
                )
            )
            uow.commit()


def ids_by_seq(database) -> list[int]:  # type: ignore[no-untyped-def]
    with database.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM audit_entries ORDER BY seq"))]


def tamper(database, sql: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_services_write_a_verifiable_chain(database) -> None:  # type: ignore[no-untyped-def]
    seed_demo(database.uow())
    write(database, 5)
    report = svc.verify(database.uow())
    assert report.ok, report.problem
    assert report.checked >= 5
    with database.engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_entries ORDER BY seq"))]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_rolled_back_transaction_leaves_no_entry(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 2)
    uow: UnitOfWork = database.uow()
    with uow:
        uow.audit.add(AuditEntry(at=datetime.now(UTC), actor="bob", action="never"))
        uow.rollback()
    with uow:
        uow.commit()
    write(database, 1)
    assert svc.verify(database.uow()).ok
    assert len(ids_by_seq(database)) == 3


def test_concurrent_writers_append_one_after_another(database) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            write(database, 10, actor=name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = svc.verify(database.uow())
    assert report.ok, report.problem
    assert report.checked == 60


def test_altered_entry_fails_verification_naming_it(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 5)
    victim = ids_by_seq(database)[2]
    tamper(database, "UPDATE audit_entries SET actor = 'mallory' WHERE id = :id", id=victim)
    report = svc.verify(database.uow())
    assert report.problem is not None
    assert (report.problem.entry_id, report.problem.seq) == (victim, 3)
    assert "altered" in report.problem.reason


def test_altered_time_fails_verification(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 3)
    victim = ids_by_seq(database)[1]
    tamper(
        database,
        "UPDATE audit_entries SET at = :at WHERE id = :id",
        at=datetime(2020, 1, 1, tzinfo=UTC).replace(tzinfo=None)
        if database.kind == "sqlite"
        else datetime(2020, 1, 1, tzinfo=UTC),
        id=victim,
    )
    report = svc.verify(database.uow())
    assert report.problem is not None and report.problem.entry_id == victim


def test_removed_entry_fails_verification_naming_the_next(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 5)
    ids = ids_by_seq(database)
    tamper(database, "DELETE FROM audit_entries WHERE id = :id", id=ids[1])
    report = svc.verify(database.uow())
    assert report.problem is not None
    assert report.problem.entry_id == ids[2]
    assert "missing" in report.problem.reason


def test_removed_and_renumbered_entry_still_fails(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 5)
    ids = ids_by_seq(database)
    tamper(database, "DELETE FROM audit_entries WHERE id = :id", id=ids[1])
    tamper(database, "UPDATE audit_entries SET seq = seq - 1 WHERE seq > 2")
    report = svc.verify(database.uow())
    assert report.problem is not None and report.problem.entry_id == ids[2]


def test_reordered_entries_fail_verification(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 5)
    ids = ids_by_seq(database)
    # Swap the chain positions of the 2nd and 3rd entries.
    tamper(database, "UPDATE audit_entries SET seq = -1 WHERE id = :id", id=ids[1])
    tamper(database, "UPDATE audit_entries SET seq = 2 WHERE id = :id", id=ids[2])
    tamper(database, "UPDATE audit_entries SET seq = 3 WHERE id = :id", id=ids[1])
    report = svc.verify(database.uow())
    assert report.problem is not None
    assert report.problem.entry_id == ids[2]
    assert "link" in report.problem.reason


def test_removed_last_entries_fail_verification(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 5)
    ids = ids_by_seq(database)
    tamper(database, "DELETE FROM audit_entries WHERE id = :id", id=ids[-1])
    report = svc.verify(database.uow())
    assert report.problem is not None
    assert "removed from the end" in report.problem.reason


def test_migration_chains_entries_written_before_it(sqlite_database) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    url = sqlite_database.url.replace("helppoint.sqlite", "old.sqlite")
    engine = create_engine(url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_entries (at, actor, action, detail) "
                    "VALUES (:at, 'cli', 'user.added', :detail)"
                ),
                {"at": datetime(2026, 1, 1, 12, i), "detail": json.dumps({"i": i})},
            )
    upgrade(engine)
    from helppoint.store.database import make_session_factory

    report = svc.verify(UnitOfWork(make_session_factory(engine)))
    engine.dispose()
    assert report.ok, report.problem
    assert report.checked == 3


def test_read_and_export_are_themselves_recorded(database) -> None:  # type: ignore[no-untyped-def]
    write(database, 3)
    rows, total = svc.read_trail(database.uow(), svc.TrailQuery(limit=2), "audrey", "10.9.9.9")
    assert total == 3 and len(rows) == 2 and rows[0]["seq"] == 3
    exported = svc.export_trail(
        database.uow(), svc.TrailQuery(action="test."), "csv", "audrey", None
    )
    records = list(csv.DictReader(io.StringIO(exported)))
    assert [r["seq"] for r in records] == ["1", "2", "3"]
    assert json.loads(records[0]["detail"]) == {"i": 0}
    assert len(records[0]["hash"]) == 64
    document = json.loads(svc.export_trail(database.uow(), svc.TrailQuery(), "json", "audrey"))
    actions = [e["action"] for e in document["entries"]]
    assert actions[-2:] == ["audit.viewed", "audit.exported"]
    assert svc.verify(database.uow()).ok


def test_bad_export_requests_are_refused(database) -> None:  # type: ignore[no-untyped-def]
    from helppoint.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="csv or json"):
        svc.export_trail(database.uow(), svc.TrailQuery(), "xml", "audrey")
    with pytest.raises(InvalidInput, match="before"):
        svc.TrailQuery(
            since=datetime(2026, 2, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC)
        )
