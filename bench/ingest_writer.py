#!/usr/bin/env python3
"""Benchmark the shared event writer (services/ingest.py) in-process, without sockets.

Stores B batches of N events each on a fresh database (by default a SQLite file in WAL mode
with synchronous=FULL, as `helppoint serve` uses), one unit of work and one commit per batch,
through the writer's own `commit_batches` (on SQLite keeping what batches leave of each unit,
as the writer process does; `--no-known` reads it in every batch, as on PostgreSQL), with
the events' digests computed beforehand (the serving process sends them along) and repeat
presses' incident updates and units' last-seen times limited as the writer limits them
(join_updates.py, unit_touches.py). On PostgreSQL it also prints the CPU time per event of the
server process serving the writer's connection (/proc/PID/stat: the server must be on this
machine). The CPU
time of this thread per stored event is the figure to compare between versions: it is steadier
on a busy machine than events per second, and it is what the writer costs the DC-09 receiver
and the device link per event.

The mix (`--mix`): `alarms` is every event a press or panic alarm, spread over the units (each
joins its unit's open incident after the first, and writes an audit entry), as an alarm
flood through the DC-09 receiver; `mixed` adds tamper, faults (tickets in the maintenance
queue), failed and passed self-tests and heartbeats. At the end the audit chain is verified.

    python bench/ingest_writer.py --batches 50 --batch-size 200 --units 100 --mix alarms

Not a test: nothing here passes or fails on timing. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helppoint.domain.events import EventType  # noqa: E402
from helppoint.gateway.batch_commit import Batch, commit_batches  # noqa: E402
from helppoint.gcpauses import tune_for_serving  # noqa: E402
from helppoint.services.audit import verify  # noqa: E402
from helppoint.services.ingest import Outcome, ReportedEvent  # noqa: E402
from helppoint.services.join_updates import JoinUpdates  # noqa: E402
from helppoint.services.known_units import KnownUnits  # noqa: E402
from helppoint.services.unit_touches import UnitTouches  # noqa: E402
from helppoint.services.units import ensure_zone, provision_unit  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

WINDOW = timedelta(minutes=5)
#: The `mixed` mix, in turn: (type, payload) of every event of a unit.
MIXED: list[tuple[EventType, dict[str, Any]]] = [
    (EventType.ACTIVATION, {"code": "PA", "meaning": "Panic alarm", "zone": "1"}),
    (EventType.HEARTBEAT, {}),
    (EventType.FAULT, {"fault": "light", "detail": "lamp current 0 mA"}),
    (EventType.ACTIVATION, {"code": "PA", "meaning": "Panic alarm", "zone": "1"}),
    (EventType.TAMPER, {"detail": "door opened"}),
    (EventType.SELF_TEST, {"passed": False, "checks": {"light": False, "speaker": True}}),
    (EventType.SELF_TEST, {"passed": True, "checks": {"light": True, "speaker": True}}),
    (EventType.HEARTBEAT, {}),
]


def provision(url: str, units: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        ensure_zone(uow, "bench", "Bench")
        for n in range(units):
            provision_unit(uow, f"BENCH-{n:04d}", f"Unit {n}", "bench", 52.0, -0.9)
        uow.commit()
    engine.dispose()


def backend_pid(engine: Engine) -> int | None:
    """The PostgreSQL server process of the writer's pooled connection (None on SQLite); the
    bench's engine keeps one connection, the writer's."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def backend_cpu(pid: int | None) -> float:
    """CPU seconds a local process has used (/proc/PID/stat); 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batches(count: int, size: int, units: int, mix: str) -> list[list[ReportedEvent]]:
    """The events of every batch, built before the clock starts."""
    seqs = [0] * units
    at = datetime.now(UTC)
    out: list[list[ReportedEvent]] = []
    n = 0
    for _ in range(count):
        batch = []
        for _ in range(size):
            unit = n % units
            n += 1
            seqs[unit] += 1
            seq = seqs[unit]
            if mix == "alarms":
                kind, payload = MIXED[0]
            else:
                kind, payload = MIXED[seq % len(MIXED)]
            payload = payload | {"sia": {"account": f"{0xA000 + unit:X}", "seq": seq % 10000}}
            event = ReportedEvent(f"BENCH-{unit:04d}", seq, kind, at, payload)
            _ = event.digest  # computed by the serving process before the writer gets it
            batch.append(event)
        out.append(batch)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--mix", choices=["alarms", "mixed"], default="alarms")
    parser.add_argument(
        "--database",
        help="a database URL (e.g. postgresql://…/db, which must be empty); "
        "default: a fresh SQLite file in a temporary directory",
    )
    parser.add_argument(
        "--cprofile",
        metavar="PATH",
        help="write cProfile stats of the batches (in the thread's CPU time: waiting for the "
        "disk is not in it)",
    )
    parser.add_argument(
        "--resend",
        action="store_true",
        help="send every batch twice (the second time all duplicates, as after a lost ack)",
    )
    parser.add_argument(
        "--no-known",
        action="store_true",
        help="read every unit's place, seq and open incidents in every batch, as on PostgreSQL "
        "(default on SQLite: keep what earlier batches left, as the writer process does)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="helppoint-ingest-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        provision(url, args.units)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        # As the writer process: on SQLite it keeps what batches leave (services/known_units.py).
        known = KnownUnits() if engine.dialect.name == "sqlite" and not args.no_known else None
        updates = JoinUpdates()  # as the writer process: repeat presses' updates limited
        touches = UnitTouches()  # and units' last-seen times written at most once a second
        work = batches(args.batches, args.batch_size, args.units, args.mix)
        tune_for_serving()  # as the writer process does, once it has started
        cpu: list[float] = []
        profile = cProfile.Profile(time.thread_time) if args.cprofile else None
        stored = duplicates = 0
        backend = backend_pid(engine)
        backend0 = backend_cpu(backend)
        wall0 = time.perf_counter()
        for batch in work:
            for _ in range(2 if args.resend else 1):
                start = time.thread_time()
                if profile is not None:
                    profile.enable()
                if updates.wait() == 0:  # owed updates, between batches as the writer does
                    updates.publish_due(UnitOfWork(factory))
                if touches.wait() == 0:
                    touches.write_due(UnitOfWork(factory))
                uow = UnitOfWork(factory)
                [results] = commit_batches(
                    uow, [Batch(batch, datetime.now(UTC))], WINDOW, known, updates, None, touches
                )
                if profile is not None:
                    profile.disable()
                cpu.append(time.thread_time() - start)
                stored += sum(r.outcome is Outcome.STORED for r in results)
                duplicates += sum(r.outcome is Outcome.DUPLICATE for r in results)
        wall = time.perf_counter() - wall0
        backend_used = backend_cpu(backend) - backend0
        if profile is not None:
            profile.dump_stats(args.cprofile)
        report = verify(UnitOfWork(factory))
        engine.dispose()

    per_batch = [c / args.batch_size * 1e6 for c in cpu]
    events = len(cpu) * args.batch_size
    print(
        f"{args.mix}: {len(cpu)} batches of {args.batch_size} events over {args.units} units "
        f"({stored} stored, {duplicates} duplicates)"
    )
    print(
        f"  writer CPU per event: median {statistics.median(per_batch):.1f} µs, "
        f"mean {sum(cpu) / events * 1e6:.1f} µs (batch min {min(per_batch):.1f}, "
        f"max {max(per_batch):.1f})"
    )
    if backend is not None:
        print(
            f"  PostgreSQL server process CPU per event: {backend_used / events * 1e6:.1f} µs "
            f"(pid {backend}, over the whole run)"
        )
    print(f"  wall: {wall:.2f} s, {events / wall:.0f} events/s (fsync per commit included)")
    print(f"  audit chain: {'verified' if report.ok else report.problem}, {report.checked} entries")


if __name__ == "__main__":
    main()
