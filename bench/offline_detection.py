#!/usr/bin/env python3
"""Benchmark supervision: how long after a unit's last heartbeat it is reported down.

In one process: a fresh database, the real ingest queue (heartbeats are recorded through it,
batched, as from the device link) and the real supervision worker. N units heartbeat every
`period` seconds at random phases; S of them fall silent at random moments. Prints the
distribution of (report time - last heartbeat) and counts units wrongly reported down.

    python bench/offline_detection.py --units 2000 --silent 100 --period 10 --grace 8

Not a test: nothing here passes or fails on timing. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from helppoint.domain.model import HelpPoint
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.services.units import ensure_zone
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic
from helppoint.workers.supervision import SupervisionWorker


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


async def run(args: argparse.Namespace, workdir: Path) -> None:
    engine = make_engine(f"sqlite:///{workdir / 'offline.sqlite'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    reports: dict[str, float] = {}
    lock = threading.Lock()
    ids = [f"U-{n:05d}" for n in range(args.units)]
    rng = random.Random(args.seed)
    silent = set(rng.sample(ids, args.silent))
    loop = asyncio.get_running_loop()
    all_reported = asyncio.Event()

    def publish(topic: str, message: dict[str, Any]) -> None:
        if topic == Topic.SUPERVISION and message.get("status") == "down":
            with lock:
                reports.setdefault(message["id"], time.time())
                if silent <= set(reports):
                    loop.call_soon_threadsafe(all_reported.set)

    def uow_factory() -> UnitOfWork:
        return UnitOfWork(factory, publish)

    with uow_factory() as uow:
        ensure_zone(uow, "bench", "Bench")
        uow.flush()
        for unit_id in ids:
            uow.units.add(
                HelpPoint(
                    id=unit_id,
                    name=unit_id,
                    zone_id="bench",
                    latitude=52.0,
                    longitude=0.0,
                    heartbeat_period=args.period,
                    heartbeat_grace=args.grace,
                )
            )
        uow.commit()
    ingest = IngestQueue(uow_factory, timedelta(minutes=5))
    ingest.start()
    worker = SupervisionWorker(uow_factory, args.interval, still_alive=ingest.heard_unwritten)
    worker.start()
    last_beat: dict[str, float] = {}
    stop_at = {u: time.time() + args.period * (1 + rng.random()) for u in silent}

    async def unit(unit_id: str) -> None:
        await asyncio.sleep(rng.uniform(0, args.period))
        while unit_id not in stop_at or time.time() < stop_at[unit_id]:
            ingest.touch(unit_id)
            last_beat[unit_id] = time.time()
            await asyncio.sleep(args.period)

    tasks = [asyncio.create_task(unit(u)) for u in ids]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_reported.wait(), 3 * args.period + args.grace + 10)
    for task in tasks:
        task.cancel()
    await worker.stop()
    await ingest.stop()
    delays = [reports[u] - last_beat[u] for u in silent if u in reports]
    wrong = sorted(set(reports) - silent)
    missed = sorted(silent - set(reports))
    print(
        f"{args.units} units, heartbeat {args.period} s + grace {args.grace} s, "
        f"{args.silent} fell silent; sweep interval {args.interval} s"
    )
    print("| reported | p50 s | p99 s | max s | deadline s | wrongly reported down | missed |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(delays)} | {percentile(delays, 50):.2f} | {percentile(delays, 99):.2f} "
        f"| {max(delays):.2f} | {args.period + args.grace} | {len(wrong)} | {len(missed)} |"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--silent", type=int, default=100)
    parser.add_argument("--period", type=int, default=10)
    parser.add_argument("--grace", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0, help="supervision_interval")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
