#!/usr/bin/env python3
"""Many units on one or several server processes: memory per connection, press -> console
latency under that load, and a burst drained with none lost or doubled (docs/performance.md).

    python bench/load.py --units 50000 --workers 4 --fleets 4 --heartbeat 30
    python bench/load.py --units 9000 --probe 1000 --workers 1 --fleets 1 --db sqlite

`helppoint serve --workers N` runs on PostgreSQL (or one process on SQLite); the units are
split over several fleet processes (each one a process of simulated agents with real
WebSockets, because one process may hold only so many sockets), which connect, then heartbeat
every `--heartbeat` seconds. With all of them connected, a probe fleet of `--probe` more units
and an operator console, in this process, measure press -> ack and press -> console one press
at a time: the background units' links are simulated in the other processes, so this
process's loop, and its garbage collections, hold only the probe's. Then the fleet processes
make a burst of `--burst` presses together (spread over the background units, 200 at a time
in one transaction of each fleet's outbox, as bench/activation_latency.py's flood), it is
drained, and the database is counted.

Press-time listening is off in the server unless `--press-listen on` (as in
bench/activation_latency.py, whose text says why). On PostgreSQL the tables every heartbeat
rewrites are vacuumed once a minute, as autovacuum would (`--vacuum-every`; this machine's
server runs without autovacuum). The fleet processes' collectors are tuned and their links
frozen as a server's are. `reported_down` counts the background units supervision reported
down during the run: each heartbeats throughout, so each one is a false alarm, or a simulated
unit whose fleet fell behind on a saturated machine (the probe's units, which the probe stops
once it has sampled, are left out). The CPU share of the server's processes,
of the fleet processes and of this one during the samples is printed.

Not a test: nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)
sys.path.insert(0, str(ROOT / "bench"))

from activation_latency import (  # noqa: E402
    PASSWORD,
    cpu_seconds,
    free_port,
    make_database,
    percentile,
    press_together,
    process_family,
    rss_mb,
    server_pids,
)
from faults.server_process import ServerProcess  # noqa: E402

from helppoint.domain.model import Role  # noqa: E402
from helppoint.gcpauses import LinkFreezer, tune_for_serving  # noqa: E402
from helppoint.services.operators import add_operator  # noqa: E402
from helppoint.sim.fleet import Fleet  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store import tables_supervision as ts  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402


def raise_file_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def provision_many(url: str, units: int) -> list[tuple[str, str]]:
    """Units in bulk (the key hashes as `helppoint unit add` stores them)."""
    import hashlib
    import secrets

    engine = make_engine(url)
    upgrade(engine)
    credentials = [(f"L{n:05d}", secrets.token_urlsafe(32)) for n in range(units)]
    with engine.begin() as conn:
        conn.execute(t.zones.insert().values(id="load", name="Load test"))
        rows = []
        for n, (unit_id, key) in enumerate(credentials):
            rows.append(
                {
                    "id": unit_id,
                    "name": f"Load {n}",
                    "zone_id": "load",
                    "latitude": 52.0 + (n % 1000) * 1e-4,
                    "longitude": -1.0 + (n // 1000) * 1e-4,
                    "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                }
            )
        for start in range(0, len(rows), 5000):
            conn.execute(t.help_points.insert(), rows[start : start + 5000])
    add_operator(UnitOfWork(make_session_factory(engine)), "bench", PASSWORD, Role.OPERATOR)
    engine.dispose()
    return credentials


# -- a background fleet process --------------------------------------------------------


async def background_fleet(
    server_url: str,
    credentials: list[tuple[str, str]],
    heartbeat: float,
    ramp_up: float,
    source_address: str,
) -> None:
    fleet = Fleet(
        server_url,
        credentials,
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,  # the device link and the writer are measured here, not still uploads
        ramp_up=ramp_up,
        source_address=source_address,
        backoff_base=2.0,
        backoff_cap=60.0,
        heartbeat_override=heartbeat,
    )
    # The fleet's collector tuned as a serving process's is, its links frozen as they pile
    # up: untuned, a fleet of 12,500 units ran full collections of ~3 s (1 s of CPU) that
    # found nothing, its heartbeats went out that late, and the servers reported live units
    # down (docs/performance.md).
    tune_for_serving()
    freezer = LinkFreezer(lambda: fleet.connected)
    freezer.start()
    started = time.monotonic()
    await fleet.start()
    await fleet.wait_connected(timeout=3600)
    print(json.dumps({"connected": len(credentials), "seconds": time.monotonic() - started}))
    sys.stdout.flush()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    commands = asyncio.create_task(obey(fleet, credentials))
    commands.add_done_callback(lambda _: stop.set())
    await stop.wait()
    commands.cancel()
    await freezer.stop()
    await fleet.stop()


async def obey(fleet: Fleet, credentials: list[tuple[str, str]]) -> None:
    """Commands from the bench on standard input, one a line, until it is closed:
    `burst N` makes N presses spread over this fleet's units, 200 in each transaction of its
    outbox, and prints when every one is acknowledged (time.monotonic(), one clock for the
    processes of the machine)."""
    while line := await asyncio.to_thread(sys.stdin.readline):
        command, _, count = line.partition(" ")
        if command != "burst":
            raise ValueError(f"unknown command {line!r}")
        presses = int(count)
        await press_together(fleet, credentials, presses)
        await fleet.wait_all_acked(timeout=1200)
        print(json.dumps({"burst": presses, "acked_at": time.monotonic()}), flush=True)


def spawn_fleets(
    background: list[tuple[str, str]],
    count: int,
    port: int,
    heartbeat: float,
    ramp: float,
    workdir: Path,
) -> list[subprocess.Popen[str]]:
    """Start `count` fleet processes, each with its share of the units; together they start
    `ramp` units a second."""
    ramp_up = max(1.0, len(background) / ramp)
    per = (len(background) + count - 1) // count
    fleets = []
    for n in range(count):
        part = background[n * per : (n + 1) * per]
        if not part:
            continue
        path = workdir / f"fleet-{n}.json"
        path.write_text(json.dumps(part))
        fleets.append(
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--fleet-worker",
                    f"ws://127.0.0.1:{port}/device/v1",
                    str(path),
                    str(heartbeat),
                    str(ramp_up),
                    # Each fleet connects from its own loopback address: one address has only
                    # ~28,000 ports towards the server's address and port.
                    f"127.0.0.{n + 2}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    return fleets


def burst_from_fleets(fleets: list[subprocess.Popen[str]], presses: int) -> float:
    """The fleet processes make `presses` presses together (shared out by each fleet's units);
    seconds from the command until the last of them is acknowledged."""
    began = time.monotonic()
    share, extra = divmod(presses, len(fleets))
    for n, fleet_process in enumerate(fleets):
        assert fleet_process.stdin is not None
        fleet_process.stdin.write(f"burst {share + (1 if n < extra else 0)}\n")
        fleet_process.stdin.flush()
    acked_at = began
    for fleet_process in fleets:
        assert fleet_process.stdout is not None
        line = fleet_process.stdout.readline()
        if not line:
            raise RuntimeError("a fleet process ended during the burst")
        acked_at = max(acked_at, float(json.loads(line)["acked_at"]))
    return acked_at - began


# -- the run -----------------------------------------------------------------------------


async def report_links(url: str, began: float, every: float = 30.0) -> None:
    """Print how many unit links the servers have recorded, while the fleets connect."""
    engine = make_engine(url)
    try:
        while True:
            await asyncio.sleep(every)
            with engine.connect() as conn:
                linked = conn.execute(text("SELECT count(*) FROM unit_links")).scalar()
            load = os.getloadavg()[0]
            print(
                f"  {time.monotonic() - began:4.0f} s: {linked} units linked (load {load:.1f})",
                flush=True,
            )
    finally:
        engine.dispose()


#: The tables every heartbeat rewrites a row of (last-seen times; power reports).
HEARTBEAT_TABLES = ("help_points", "unit_power")


async def vacuum_now_and_then(url: str, every: float, done: list[dict[str, float]]) -> None:
    """Vacuum and analyze the tables heartbeats rewrite every `every` seconds, as autovacuum
    does on a production PostgreSQL (it visits each database once a minute by default). This
    machine's PostgreSQL runs with autovacuum off (its 90-ci.conf): without it, at 50,000
    units the rows' dead versions piled up by ~1,000 a second, and every heartbeat's update
    and the sweep's look for the next deadline grew slower as the run went on."""
    engine = make_engine(url)
    try:
        while True:
            await asyncio.sleep(every)

            def vacuum() -> None:
                began = time.time()
                with engine.connect() as conn:
                    autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
                    autocommit.execute(text(f"VACUUM (ANALYZE) {', '.join(HEARTBEAT_TABLES)}"))
                # (Unix time, as the samples' start: a slow sample can be set beside them.)
                done.append({"at": round(began, 3), "took_s": round(time.time() - began, 3)})

            await asyncio.to_thread(vacuum)
    finally:
        engine.dispose()


async def probe(
    server: ServerProcess,
    credentials: list[tuple[str, str]],
    samples: int,
    heartbeat: float,
    server_family: list[int],
    fleet_pids: list[int],
    settle: float = 0.0,
    warmup: int = 0,
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        login.raise_for_status()
        token = login.cookies["helppoint_session"]
    seen: dict[tuple[str, int], float] = {}
    ready = asyncio.Event()

    async def console() -> None:
        async with connect(
            # As the console page asks: what queued up comes in batch frames (web/feeds.py).
            f"ws://127.0.0.1:{server.port}/console/ws?batch=1",
            additional_headers={"Cookie": f"helppoint_session={token}"},
            max_size=None,
        ) as ws:
            async for raw in ws:
                now = time.monotonic()
                frame = json.loads(raw)
                for message in frame["messages"] if frame["type"] == "batch" else [frame]:
                    if message["type"] == "snapshot":
                        ready.set()
                    elif message["type"] == "incident":
                        incident = message["incident"]
                        seen.setdefault((incident["unit_id"], incident["event_count"]), now)

    watcher = asyncio.create_task(console())
    await asyncio.wait_for(ready.wait(), 120)
    acked: dict[tuple[str, int], float] = {}

    def on_ack(unit_id: str, seq: int, status: str) -> None:
        acked.setdefault((unit_id, seq), time.monotonic())

    fleet = Fleet(
        f"ws://127.0.0.1:{server.port}/device/v1",
        credentials,
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,  # the device link and the writer are measured here, not still uploads
        ramp_up=max(1.0, len(credentials) / 200),
        on_ack=on_ack,
        heartbeat_override=heartbeat,
    )
    await fleet.start()
    await fleet.wait_connected(timeout=600)
    # The probe's own units have just connected (and a serving process freezes a thousand new
    # links out of the collector within 5 s): settle again, as after the fleets.
    await asyncio.sleep(settle)
    presses: Counter[str] = Counter()

    async def press_and_wait(unit_id: str) -> tuple[float, float]:
        """One press, when nothing else is pending: (press -> ack, press -> console) ms."""
        event = fleet.press(unit_id)
        assert event is not None
        pressed = fleet.press_time(unit_id, event.seq)
        assert pressed is not None
        presses[unit_id] += 1
        key = (unit_id, presses[unit_id])
        deadline = time.monotonic() + 30
        while key not in seen or fleet.pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"a press on {unit_id} did not reach the console")
            await asyncio.sleep(0.001)
        return (acked[(unit_id, event.seq)] - pressed) * 1000, (seen[key] - pressed) * 1000

    # A server's first presses take paths nothing has taken yet: not counted.
    for n in range(warmup):
        await press_and_wait(credentials[-1 - n % len(credentials)][0])
        await asyncio.sleep(0.05)
    ack_ms: list[float] = []
    console_ms: list[float] = []
    scraped_before = await asyncio.to_thread(histograms, base)
    # The scrape is work for the server (counts from the database): not in the samples.
    await asyncio.sleep(2)
    groups = (server_family, fleet_pids, [os.getpid()])
    cpu_before = [sum(cpu_seconds(pid) for pid in group) for group in groups]
    sampling = time.monotonic()
    sampling_wall = time.time()
    slowest: list[tuple[float, float, str]] = []  # (console ms, seconds into sampling, unit)
    for n in range(samples):
        unit_id = credentials[n % len(credentials)][0]
        pressed = time.monotonic()
        to_ack, to_console = await press_and_wait(unit_id)
        ack_ms.append(to_ack)
        console_ms.append(to_console)
        slowest.append((to_console, pressed - sampling, unit_id))
        await asyncio.sleep(0.05)
    wall = time.monotonic() - sampling
    shares = [
        round((sum(cpu_seconds(pid) for pid in group) - before) / wall, 2)
        for group, before in zip(groups, cpu_before, strict=True)
    ]
    slowest = sorted(slowest, reverse=True)[:5]
    scraped_after = await asyncio.to_thread(histograms, base)
    during = gc_during(scraped_before[GC_PAUSES], scraped_after[GC_PAUSES])
    writer = batches_during(scraped_before[WRITER_BATCHES], scraped_after[WRITER_BATCHES])
    writer["mean_part_ms"] = parts_during(scraped_before[WRITER_PARTS], scraped_after[WRITER_PARTS])
    pauses = gc_pauses(base)
    await fleet.stop()
    watcher.cancel()
    return {
        "samples": samples,
        # (Unix time: to find a slow sample in a profile taken beside the run.)
        "sampling_started_at": round(sampling_wall, 3),
        "warmup_presses": warmup,
        "ack_p50_ms": round(statistics.median(ack_ms), 1),
        "ack_p99_ms": round(percentile(ack_ms, 99), 1),
        "console_p50_ms": round(statistics.median(console_ms), 1),
        "console_p99_ms": round(percentile(console_ms, 99), 1),
        "console_max_ms": round(max(console_ms), 1),
        # CPU during the samples, in cores: above ~0.9 a figure measures a saturated core.
        "cpu_share_servers": shares[0],
        "cpu_share_fleets": shares[1],
        "cpu_share_probe": shares[2],
        "slowest_samples": [
            {"console_ms": round(ms), "at_s": round(at, 1), "unit": unit}
            for ms, at, unit in slowest
        ],
        "gc_pauses": pauses,
        "gc": gc_summary(pauses),
        # The collections of the server's processes while the samples ran (the figures above
        # are since each process started, connecting included), by generation.
        "gc_during_samples": during,
        # The event writer's batches while the samples ran: the part of a press's time to its
        # ack that is the writer's (waiting for it, storing, the commit), and where it went.
        "writer_batches_during_samples": writer,
    }


#: The bench's server answers /metrics to this token (web/metrics.py).
METRICS_TOKEN = "load-bench-metrics-token"
#: Pause lengths (seconds) the collections during the samples are counted above; each is one
#: of the histogram's bucket bounds (web/metrics.py GC_BUCKETS).
GC_OVER = (0.01, 0.025, 0.05, 0.1)


def histograms(base: str) -> dict[str, dict[str, dict[float, float]]]:
    """The server processes' garbage-collection pauses and event writer batches from /metrics
    (all processes added up, prometheus-client's multiprocess mode): per histogram and label
    (a collection's generation; "" for the batches), how many took at most each bound."""
    answer = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=None
    )
    answer.raise_for_status()
    found: dict[str, dict[str, dict[float, float]]] = {
        GC_PAUSES: {},
        WRITER_BATCHES: {},
        WRITER_PARTS: {},
    }
    for family in text_string_to_metric_families(answer.text):
        if family.name not in found:
            continue
        for sample in family.samples:
            label = sample.labels.get("generation", sample.labels.get("part", ""))
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                found[family.name].setdefault(label, {})[bound] = sample.value
            elif sample.name.endswith("_sum"):
                found[family.name].setdefault(label, {})[SUM] = sample.value
    return found


GC_PAUSES = "helppoint_gc_pause_seconds"
WRITER_BATCHES = "helppoint_ingest_batch_seconds"
WRITER_PARTS = "helppoint_ingest_batch_part_seconds"
#: Where `histograms` keeps a histogram's sum among its bounds.
SUM = -1.0


def parts_during(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, float]:
    """Where the writer process's batches' time went between two scrapes: the mean of each
    part (ms): to the writer, storing, and the answer back to the serving loop."""
    means = {}
    for part, now in sorted(after.items()):
        was = before.get(part, {})
        count = now.get(float("inf"), 0.0) - was.get(float("inf"), 0.0)
        if count:
            means[part] = round((now[SUM] - was.get(SUM, 0.0)) / count * 1000, 2)
    return means


def batches_during(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, Any]:
    """The event writer's batches between two scrapes: how many, and what share of them were
    answered within each bound (ms)."""
    now, was = after.get("", {}), before.get("", {})
    count = now.get(float("inf"), 0.0) - was.get(float("inf"), 0.0)
    within = {
        f"{bound * 1000:g}": round((now[bound] - was.get(bound, 0.0)) / count, 3)
        for bound in sorted(now)
        if 0 < bound <= 0.1 and count
    }
    return {"batches": int(count), "share_answered_within_ms": within}


def gc_during(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, dict[str, int]]:
    """Per generation: the collections between two scrapes, and how many took longer than
    each of GC_OVER."""
    during: dict[str, dict[str, int]] = {}
    for generation, buckets in sorted(after.items()):
        was = before.get(generation, {})
        count = buckets[float("inf")] - was.get(float("inf"), 0.0)
        figures = {"collections": int(count)}
        for bound in GC_OVER:
            within = buckets[bound] - was.get(bound, 0.0)
            figures[f"over_{bound * 1000:g}_ms"] = int(count - within)
        during[generation] = figures
    return during


def gc_pauses(base: str) -> dict[str, dict[str, Any]]:
    """Each server process's garbage-collection pauses (its /healthz), by process.

    Blocking (a few requests between measurements): with an asyncio client,
    bench/activation_latency.py did not exit after its run (not understood).
    """
    found: dict[str, dict[str, Any]] = {}
    for _ in range(16):
        # Several processes answer on one port: a new connection each time reaches most.
        with httpx.Client(base_url=base) as http:
            health = http.get("/healthz").json()
        found[str(health["process"])] = health["gc_pauses"]
    return found


def gc_summary(pauses: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """All processes' collections since they started; the longest pause and worst p99."""
    return {
        "processes": len(pauses),
        "collections": sum(p["collections"] for p in pauses.values()),
        "full_collections": sum(p["full_collections"] for p in pauses.values()),
        "longest_ms": max((p["longest_ms"] for p in pauses.values()), default=0.0),
        # CPU time: on a busy machine a pause's wall time includes waiting for a core.
        "longest_cpu_ms": max((p.get("longest_cpu_ms", 0.0) for p in pauses.values()), default=0.0),
        "p99_ms": max((p.get("p99_ms", 0.0) for p in pauses.values()), default=0.0),
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url, cleanup = make_database(args.db, workdir)
    fleets: list[subprocess.Popen[str]] = []
    try:
        began = time.monotonic()
        credentials = provision_many(url, args.units + args.probe)
        print(
            f"provisioned {len(credentials)} units in {time.monotonic() - began:.0f} s", flush=True
        )
        background, probe_units = credentials[: args.units], credentials[args.units :]
        server = ServerProcess(
            url, free_port(), workdir / "server.log", extra_args=["--workers", str(args.workers)]
        )
        os.environ["HELPPOINT_PRESS_LISTEN"] = "true" if args.press_listen == "on" else "false"
        os.environ["HELPPOINT_METRICS_TOKEN"] = METRICS_TOKEN
        try:
            server.start(timeout=120)
        finally:
            del os.environ["HELPPOINT_PRESS_LISTEN"], os.environ["HELPPOINT_METRICS_TOKEN"]
        assert server.process is not None
        vacuums: list[dict[str, float]] = []
        vacuuming = (
            asyncio.create_task(vacuum_now_and_then(url, args.vacuum_every, vacuums))
            if args.db == "postgres" and args.vacuum_every > 0
            else None
        )
        try:
            pids = server_pids(url, server.process.pid, args.workers)
            await asyncio.sleep(2)
            idle = sum(rss_mb(pid) for pid in pids)
            began = time.monotonic()
            fleets.extend(
                await asyncio.to_thread(
                    spawn_fleets,
                    background,
                    args.fleets,
                    server.port,
                    args.heartbeat,
                    args.ramp,
                    workdir,
                )
            )
            progress = asyncio.create_task(report_links(url, began))
            for fleet_process in fleets:
                assert fleet_process.stdout is not None
                line = await asyncio.to_thread(fleet_process.stdout.readline)
                if not line:
                    raise RuntimeError("a fleet process ended before connecting its units")
            progress.cancel()
            connect_s = time.monotonic() - began
            print(f"{len(background)} units connected in {connect_s:.0f} s", flush=True)
            await asyncio.sleep(args.settle)
            connected_rss = sum(rss_mb(pid) for pid in pids)
            fleet_rss = sum(rss_mb(p.pid) for p in fleets)
            family = [p for pid in pids for p in process_family(pid)]
            figures = await probe(
                server,
                probe_units,
                args.samples,
                args.heartbeat,
                family,
                [p.pid for p in fleets],
                args.settle,
                args.warmup,
            )
            fleet_pids = [p.pid for p in fleets]
            cpu_before = [sum(map(cpu_seconds, group)) for group in (family, fleet_pids)]
            drain = await asyncio.to_thread(burst_from_fleets, fleets, args.burst)
            figures["burst"] = args.burst
            figures["burst_drain_s"] = round(drain, 2)
            figures["burst_per_s"] = round(args.burst / drain)
            # CPU during the burst, in cores (2 here): what bounds its rate.
            figures["burst_cpu_share_servers"], figures["burst_cpu_share_fleets"] = (
                round((sum(map(cpu_seconds, group)) - before) / drain, 2)
                for group, before in zip((family, fleet_pids), cpu_before, strict=True)
            )
            figures["gc_after_burst"] = gc_summary(gc_pauses(f"http://127.0.0.1:{server.port}"))
            engine = make_engine(url)
            with engine.connect() as conn:
                stored = int(
                    conn.execute(select(func.count()).select_from(t.device_events)).scalar() or 0
                )
                keys = Counter(
                    conn.execute(select(t.device_events.c.unit_id, t.device_events.c.seq)).all()
                )
                linked = int(conn.execute(text("SELECT count(*) FROM unit_links")).scalar() or 0)
                # Every background unit is connected and heartbeating throughout: supervision
                # reporting one down is a false alarm (and a fault incident for the console).
                # The probe's units are left out: the probe stops them once it has sampled,
                # and they are rightly reported down 38 s later, during the burst.
                flips = ts.unit_flips.c
                reported_down = int(
                    conn.execute(
                        select(func.count())
                        .select_from(ts.unit_flips)
                        .where(flips.new_status == "down")
                        .where(flips.unit_id.not_in([unit for unit, _ in probe_units]))
                    ).scalar()
                    or 0
                )
            engine.dispose()
            expected = args.warmup + args.samples + args.burst
            return {
                "db": args.db,
                "press_listen": args.press_listen,
                "units": len(background) + len(probe_units),
                "workers": args.workers,
                "fleet_processes": len(fleets),
                "heartbeat_s": args.heartbeat,
                "vacuum_every_s": args.vacuum_every if args.db == "postgres" else None,
                "vacuums": vacuums,
                "ramp_per_s": args.ramp,
                "connect_s": round(connect_s),
                "server_rss_mb_idle": round(idle),
                "server_rss_mb_connected": round(connected_rss),
                "kib_per_connection": round((connected_rss - idle) * 1024 / len(background), 1),
                "fleet_rss_mb": round(fleet_rss),
                "links_recorded": linked,
                "reported_down": reported_down,
                **figures,
                "stored": stored,
                "lost": max(0, expected - stored),
                "doubled": sum(n - 1 for n in keys.values()) + max(0, stored - expected),
                "load_average": round(os.getloadavg()[0], 2),
            }
        finally:
            if vacuuming is not None:
                vacuuming.cancel()
            for fleet_process in fleets:
                if fleet_process.stdin is not None:
                    fleet_process.stdin.close()  # its command reader ends
                fleet_process.terminate()
            for fleet_process in fleets:
                try:
                    fleet_process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    fleet_process.kill()
            server.stop()
    finally:
        cleanup()


def main() -> int:
    if len(sys.argv) == 7 and sys.argv[1] == "--fleet-worker":
        raise_file_limit()
        logging.basicConfig(level=logging.ERROR)
        credentials = [(a, b) for a, b in json.loads(Path(sys.argv[3]).read_text())]
        asyncio.run(
            background_fleet(
                sys.argv[2], credentials, float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
            )
        )
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=50000, help="background units (50000)")
    parser.add_argument(
        "--db", choices=("postgres", "sqlite"), default="postgres", help="database (postgres)"
    )
    parser.add_argument(
        "--press-listen",
        choices=("off", "on"),
        default="off",
        help="the server listens to each press (default off: see the module's text)",
    )
    parser.add_argument("--workers", type=int, default=4, help="server processes (4)")
    parser.add_argument("--fleets", type=int, default=4, help="fleet processes (4)")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="heartbeat period s (30)")
    parser.add_argument(
        "--ramp", type=float, default=250.0, help="units started per second, all fleets (250)"
    )
    parser.add_argument("--probe", type=int, default=1000, help="units of the probe fleet (1000)")
    parser.add_argument("--samples", type=int, default=300, help="latency samples (300)")
    parser.add_argument("--burst", type=int, default=10000, help="presses in the burst (10000)")
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds before measuring, after the fleets and again after the probe connect (30)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="presses before the samples, not counted (20)"
    )
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=60.0,
        help="on PostgreSQL, vacuum the tables heartbeats rewrite every so many seconds, as "
        "autovacuum would (60; 0: never)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.db == "sqlite" and args.workers != 1:
        parser.error("several server processes need PostgreSQL: --workers 1 with --db sqlite")
    limit = raise_file_limit()
    per_process = max(args.units / args.workers, args.units / args.fleets)
    if per_process + 500 > limit:
        parser.error(
            f"{per_process:.0f} sockets per process is over the open-file limit {limit}: "
            "use more --workers and --fleets"
        )
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("HELPPOINT_LOG_LEVEL", "warning")
    with tempfile.TemporaryDirectory(prefix="helppoint-load-") as workdir:
        try:
            result = asyncio.run(run(args, Path(workdir)))
        finally:
            # The run's directory goes with it: what the servers said is kept to read.
            log = Path(workdir) / "server.log"
            if log.exists():
                kept = Path(tempfile.gettempdir()) / f"helppoint-load-{os.getpid()}-server.log"
                shutil.copyfile(log, kept)
                print(f"the servers' log is kept in {kept}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
