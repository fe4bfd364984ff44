#!/usr/bin/env python3
"""Benchmark `helppoint backup` and `helppoint restore` over a large installation.

Fills a fresh installation with N activations (default 1,000,000) over 2026 across the eight
demo units: per activation a closed incident, its device event and two audit entries on one
valid hash chain (opened, closed); every 100th has a call with a recording on disk (8 KiB,
its SHA-256 in the database). Then backs it up (rounds times) and restores each backup into a
fresh installation, which verifies it (manifest, integrity, the whole audit chain, every
recording's SHA-256, row counts), and prints time and size.

    python bench/backup.py --activations 1000000 --db sqlite postgres

Not a test: nothing here passes or fails on timing. See docs/performance.md for the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helppoint.backup.make import make_backup  # noqa: E402
from helppoint.backup.restore import restore_backup  # noqa: E402
from helppoint.config import Settings  # noqa: E402
from helppoint.domain.audit import ChainHead  # noqa: E402
from helppoint.domain.classification import Classification  # noqa: E402
from helppoint.domain.events import EventType, Priority  # noqa: E402
from helppoint.domain.model import AuditEntry  # noqa: E402
from helppoint.services.seed import UNITS, seed_demo  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store import tables_audit as ta  # noqa: E402
from helppoint.store import tables_calls as tc  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

PG_URL = os.environ.get(
    "HELPPOINT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
RECORDING_EVERY = 100
RECORDING_BYTES = 8192


def fill(url: str, recordings: Path, activations: int, batch: int = 10_000) -> float:
    """Store the activations and their evidence; returns seconds taken."""
    engine = make_engine(url)
    upgrade(engine)
    seed_demo(UnitOfWork(make_session_factory(engine)))
    started = time.perf_counter()
    unit_ids = [u.id for u in UNITS]
    step = 365 * 24 * 3600 / activations
    with engine.begin() as conn:
        head_row = conn.execute(select(ta.audit_chain_head.c.seq, ta.audit_chain_head.c.hash)).one()
        head = ChainHead(int(head_row.seq), str(head_row.hash))
        next_id = (
            int(conn.execute(select(func.coalesce(func.max(t.incidents.c.id), 0))).scalar_one()) + 1
        )
        seqs = {unit: 1_000 for unit in unit_ids}
        rows: dict[str, list[dict[str, object]]] = {"i": [], "e": [], "a": [], "c": [], "r": []}

        def flush() -> None:
            for table, key in (
                (t.incidents, "i"),
                (t.device_events, "e"),
                (t.audit_entries, "a"),
                (tc.calls, "c"),
                (tc.recordings, "r"),
            ):
                if rows[key]:
                    conn.execute(insert(table), rows[key])
                    rows[key] = []

        for n in range(activations):
            incident_id = next_id + n
            unit = unit_ids[n % len(unit_ids)]
            seqs[unit] += 1
            opened = YEAR_START + timedelta(seconds=n * step)
            closed = opened + timedelta(seconds=75)
            rows["i"].append(
                {
                    "id": incident_id,
                    "unit_id": unit,
                    "priority": Priority.ACTIVATION,
                    "state": "closed",
                    "opened_at": opened,
                    "last_event_at": opened,
                    "event_count": 1,
                    "acknowledged_at": opened + timedelta(seconds=9),
                    "acknowledged_by": "bench",
                    "held_by": "bench",
                    "assessed_at": opened + timedelta(seconds=40),
                    "classification": Classification.FALSE_ACCIDENTAL,
                    "closed_at": closed,
                    "closed_by": "bench",
                    "outcome": "",
                    "version": 3,
                    "pressed_at": opened,
                    "stored_at": opened,
                }
            )
            rows["e"].append(
                {
                    "unit_id": unit,
                    "seq": seqs[unit],
                    "type": EventType.ACTIVATION,
                    "unit_time": opened,
                    "received_at": opened,
                    "payload": {},
                    "digest": hashlib.sha256(f"{unit}:{seqs[unit]}".encode()).hexdigest(),
                    "incident_id": incident_id,
                }
            )
            for at, actor, action in (
                (opened, "system", "incident.opened"),
                (closed, "bench", "incident.closed"),
            ):
                entry = AuditEntry(at, actor, action, incident_id, {"state": "x"}, None)
                head.append(entry)
                rows["a"].append(
                    {
                        "at": at,
                        "actor": actor,
                        "action": action,
                        "incident_id": incident_id,
                        "detail": entry.detail,
                        "address": None,
                        "seq": entry.seq,
                        "prev_hash": entry.prev_hash,
                        "hash": entry.hash,
                    }
                )
            if n % RECORDING_EVERY == 0:
                relative = f"incident-{incident_id:07d}/call-1.webm"
                media = recordings / relative
                media.parent.mkdir(parents=True, exist_ok=True)
                data = incident_id.to_bytes(8, "big") * (RECORDING_BYTES // 8)
                media.write_bytes(data)
                rows["c"].append(
                    {
                        "id": incident_id,
                        "incident_id": incident_id,
                        "unit_id": unit,
                        "operator": "bench",
                        "started_at": opened + timedelta(seconds=9),
                        "connected_at": opened + timedelta(seconds=10),
                        "ended_at": opened + timedelta(seconds=40),
                        "end_reason": "hangup",
                        "talk": True,
                        "video": False,
                        "detail": "",
                        "server": "",
                        "kind": "call",
                    }
                )
                rows["r"].append(
                    {
                        "call_id": incident_id,
                        "incident_id": incident_id,
                        "path": relative,
                        "media_type": "audio/webm",
                        "started_at": opened + timedelta(seconds=10),
                        "ended_at": opened + timedelta(seconds=40),
                        "duration": 30.0,
                        "size_bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "retain_until": datetime(2099, 1, 1, tzinfo=UTC),
                        "held": False,
                        "hold_reason": "",
                    }
                )
            if len(rows["i"]) >= batch:
                flush()
        flush()
        conn.execute(update(ta.audit_chain_head).values(seq=head.seq, hash=head.hash))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _fresh(db: str, tmp: Path, n: int) -> tuple[str, str | None]:
    """A fresh installation's database URL (and the PostgreSQL database to drop afterwards)."""
    if db == "sqlite":
        return f"sqlite:///{tmp / f'restored-{n}' / 'helppoint.sqlite'}", None
    name = f"bench_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


@dataclass
class Figures:
    fill: float = 0.0
    backup: list[float] = field(default_factory=list)
    restore: list[float] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    files: list[int] = field(default_factory=list)


def run(db: str, activations: int, rounds: int) -> Figures:
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        recordings = tmp / "recordings"
        recordings.mkdir()
        schema = None
        if db == "sqlite":
            url = f"sqlite:///{tmp / 'helppoint.sqlite'}"
        else:
            # The installation's own database (public schema): a restore needs the same.
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{schema}"'))
            admin.dispose()
            url = make_url(PG_URL).set(database=schema).render_as_string(hide_password=False)
        drop = [schema] if schema else []
        try:
            figures = Figures(fill(url, recordings, activations))
            settings = Settings().with_values(
                {"database_url": url, "recordings_dir": str(recordings)}
            )
            for n in range(rounds):
                dest = tmp / f"backup-{n}"
                started = time.perf_counter()
                make_backup(settings, dest)
                figures.backup.append(time.perf_counter() - started)
                figures.size.append(_size(dest))
                figures.files.append(_size(dest / "files") if (dest / "files").exists() else 0)
                target_url, name = _fresh(db, tmp, n)
                if name:
                    drop.append(name)
                target = Settings().with_values(
                    {"database_url": target_url, "recordings_dir": str(tmp / f"rec-{n}")}
                )
                started = time.perf_counter()
                report = restore_backup(target, dest)
                figures.restore.append(time.perf_counter() - started)
                assert report is not None
                shutil.rmtree(dest)
                shutil.rmtree(tmp / f"rec-{n}", ignore_errors=True)
                if db == "sqlite":
                    shutil.rmtree(tmp / f"restored-{n}", ignore_errors=True)
        finally:
            if drop:
                admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    for name in drop:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return figures


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activations", type=int, default=1_000_000)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average)")
    print(
        f"{args.activations:,} activations, {args.activations // RECORDING_EVERY:,} recordings "
        f"of {RECORDING_BYTES // 1024} KiB; median (min-max) of {args.rounds} rounds"
    )
    print("| db | fill s | backup s | restore + verify s | backup MB (of which recordings) |")
    print("|---|---|---|---|---|")
    for db in args.db:
        figures = run(db, args.activations, args.rounds)
        size, files = statistics.median(figures.size), statistics.median(figures.files)
        print(
            f"| {db} | {figures.fill:.0f} | {_spread(figures.backup)} | "
            f"{_spread(figures.restore)} | {size / 1e6:.0f} ({files / 1e6:.0f}) |",
            flush=True,
        )
    print(f"load after: {os.getloadavg()[0]:.2f} (1-minute average)")


if __name__ == "__main__":
    main()
