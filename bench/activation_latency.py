#!/usr/bin/env python3
"""Benchmark the activation path: press → durable ack, press → operator console, and a flood.

Runs `helppoint serve` as its own process (one core) and, in this process (the other core), a
fleet of N simulated units (real agents and WebSockets, virtual buttons) plus one logged-in
operator console. Prints a table and, with --json, writes the figures.

    python bench/activation_latency.py --units 1000 10000 --db sqlite postgres

Press-time listening (docs/triage.md) is off in the server by default here (`--press-listen
on` turns it on): with it, every press opens a listen-only WebRTC call to its unit for 20 s (32
at once), and the simulated units' side of those calls (Opus encoding and SRTP of up to 32
audio streams) runs in this process, beside the units' links. On a quiet machine at 1,000
units that took 57% of this process's samples and made press → ack 64 ms at the median
instead of 9: it measured the simulator, not the server, whose units each encode their own
audio. bench/listen_storm.py measures listening. The CPU share of the server's processes and
of this one during the latency samples is printed: above ~90% the figures measure a
saturated core.

Not a test: nothing here passes or fails on timing. See docs/performance.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)

from faults.server_process import ServerProcess  # noqa: E402

from helppoint.domain.model import Role  # noqa: E402
from helppoint.services.operators import add_operator  # noqa: E402
from helppoint.services.units import ensure_zone, provision_unit  # noqa: E402
from helppoint.sim.fleet import Fleet  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

PG_URL = os.environ.get(
    "HELPPOINT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "benchmark-password"


@dataclass
class Result:
    db: str
    units: int
    connect_seconds: float
    server_rss_mb_idle: float
    server_rss_mb_connected: float
    kib_per_connection: float
    samples: int
    ack_p50_ms: float
    ack_p99_ms: float
    console_p50_ms: float
    console_p99_ms: float
    flood_presses: int
    flood_drain_seconds: float
    flood_per_second: float
    stored: int
    lost: int
    doubled: int
    load_average: float
    #: The server processes' garbage collections over the run (helppoint/gcpauses.py): all
    #: processes' collections, full ones, and the longest pause and the worst p99 of any.
    gc_collections: int = 0
    gc_full_collections: int = 0
    gc_longest_ms: float = 0.0
    #: The most CPU time one collection took (a busy machine's wall time is more).
    gc_longest_cpu_ms: float = 0.0
    gc_p99_ms: float = 0.0
    #: Whether the server listened to each press (--press-listen).
    press_listen: bool = False
    #: Share of a core used during the latency samples by the server's processes (summed) and
    #: by this benchmark's process (the simulated fleet and console).
    server_cpu_share: float = 0.0
    bench_cpu_share: float = 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (its children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_family(pid: int) -> list[int]:
    """The process and its descendants (a server's writer process is its child)."""
    found = [pid]
    for child in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(child.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found.extend(process_family(int(child.parent.name)))
    return found


def server_pids(url: str, parent: int, workers: int) -> list[int]:
    """The processes serving: the one server, or the `--workers` processes (they register)."""
    if workers == 1:
        return [parent]
    engine = make_engine(url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                pids = [pid for (pid,) in conn.execute(text("SELECT pid FROM server_processes"))]
            if len(pids) >= workers:
                return pids
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise RuntimeError(f"{workers} worker processes did not register")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_database(kind: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL, and a cleanup callable."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite'}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def provision(url: str, units: int) -> list[tuple[str, str]]:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    uow = UnitOfWork(factory)
    credentials = []
    with uow:
        ensure_zone(uow, "bench", "Benchmark")
        uow.flush()
        for n in range(units):
            unit = provision_unit(
                uow, f"B{n:05d}", f"Bench {n}", "bench", 52.2 + n * 1e-5, -0.9, actor="bench"
            )
            credentials.append((unit.unit_id, unit.key))
        uow.commit()
    add_operator(UnitOfWork(factory), "bench", PASSWORD, Role.OPERATOR)
    engine.dispose()
    return credentials


async def run_one(
    kind: str,
    units: int,
    samples: int,
    flood: int,
    workdir: Path,
    workers: int = 1,
    heartbeat: float | None = None,
    press_listen: bool = False,
) -> Result:
    url, cleanup = make_database(kind, workdir)
    try:
        credentials = provision(url, units)
        extra = ["--workers", str(workers)] if workers > 1 else []
        server = ServerProcess(
            url, free_port(), workdir / f"server-{kind}-{units}.log", extra_args=extra
        )
        os.environ["HELPPOINT_PRESS_LISTEN"] = "true" if press_listen else "false"
        try:
            server.start()
        finally:
            del os.environ["HELPPOINT_PRESS_LISTEN"]
        try:
            result = await measure(
                kind, url, server, credentials, samples, flood, workers, heartbeat
            )
            result.press_listen = press_listen
            return result
        finally:
            server.stop()
            # The server's log goes with the temporary directory: keep its long pauses (200 ms
            # or more, with their generation) on the record.
            for line in server.log_path.read_text(errors="replace").splitlines():
                if "garbage collection" in line:
                    print(f"server: {line}", flush=True)
    finally:
        cleanup()


async def press_together(fleet: Fleet, credentials: list[tuple[str, str]], presses: int) -> None:
    """`presses` presses spread over the units, 200 stored in each transaction of the fleet's
    outbox (each unit stores its own press in parallel; one fsync each in this one process
    measured the simulator), with a turn for the loop between."""
    for first in range(0, presses, 200):
        with fleet.presses_together():
            for n in range(first, min(presses, first + 200)):
                fleet.press(credentials[n % len(credentials)][0])
        await asyncio.sleep(0)


async def measure(
    kind: str,
    url: str,
    server: ServerProcess,
    credentials: list[tuple[str, str]],
    samples: int,
    flood: int,
    workers: int = 1,
    heartbeat: float | None = None,
) -> Result:
    assert server.process is not None
    pids = server_pids(url, server.process.pid, workers)
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base) as http:
        login = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        login.raise_for_status()
        token = login.cookies["helppoint_session"]

    console_seen: dict[tuple[str, int], float] = {}
    console_ready = asyncio.Event()

    async def console() -> None:
        # As the console page asks: what queued up comes in batch frames (web/feeds.py).
        ws_url = f"ws://127.0.0.1:{server.port}/console/ws?batch=1"
        async with connect(
            ws_url, additional_headers={"Cookie": f"helppoint_session={token}"}, max_size=None
        ) as ws:
            async for raw in ws:
                now = time.monotonic()
                frame = json.loads(raw)
                for message in frame["messages"] if frame["type"] == "batch" else [frame]:
                    if message["type"] == "snapshot":
                        console_ready.set()
                    elif message["type"] == "incident":
                        incident = message["incident"]
                        key = (incident["unit_id"], incident["event_count"])
                        console_seen.setdefault(key, now)

    console_task = asyncio.create_task(console())
    await asyncio.wait_for(console_ready.wait(), 30)

    rss_idle = sum(rss_mb(pid) for pid in pids)
    acked_at: dict[tuple[str, int], float] = {}

    def on_ack(unit_id: str, seq: int, status: str) -> None:
        acked_at.setdefault((unit_id, seq), time.monotonic())

    fleet = Fleet(
        f"ws://127.0.0.1:{server.port}/device/v1",
        credentials,
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,  # the device link and the writer are measured here, not still uploads
        # Spread the first connections (about 300 a second), as a real fleet's power-on is.
        ramp_up=max(1.0, len(credentials) / 300),
        backoff_base=1.0,
        backoff_cap=30.0,
        on_ack=on_ack,
        heartbeat_override=heartbeat,
    )
    started = time.monotonic()
    await fleet.start()
    await fleet.wait_connected(timeout=600)
    connect_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    rss_connected = sum(rss_mb(pid) for pid in pids)

    # Latency: one press at a time on distinct units, so each one opens a new incident.
    family = [p for pid in pids for p in process_family(pid)]
    cpu_before = sum(cpu_seconds(p) for p in family), cpu_seconds(os.getpid())
    wall_before = time.monotonic()
    ack_ms: list[float] = []
    console_ms: list[float] = []
    for n in range(samples):
        unit_id = credentials[n % len(credentials)][0]
        event = fleet.press(unit_id)
        assert event is not None
        pressed_at = fleet.press_time(unit_id, event.seq)
        assert pressed_at is not None
        count = n // len(credentials) + 1
        deadline = time.monotonic() + 10
        while (unit_id, count) not in console_seen or fleet.pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"press {n} on {unit_id} did not reach the console")
            await asyncio.sleep(0.001)
        ack_ms.append((acked_at[(unit_id, event.seq)] - pressed_at) * 1000)
        console_ms.append((console_seen[(unit_id, count)] - pressed_at) * 1000)
        await asyncio.sleep(0.01)
    wall = time.monotonic() - wall_before
    server_share = (sum(cpu_seconds(p) for p in family) - cpu_before[0]) / wall
    bench_share = (cpu_seconds(os.getpid()) - cpu_before[1]) / wall

    # Flood: as many presses as fast as the fleet can make them, spread over every unit, 200
    # at a time stored in one transaction of the fleet's outbox (each unit stores its own
    # press in parallel; one fsync each in this one process measured the simulator).
    flood_start = time.monotonic()
    await press_together(fleet, credentials, flood)
    await fleet.wait_all_acked(timeout=600)
    drain = time.monotonic() - flood_start
    pauses = gc_pauses(base, workers)

    await fleet.stop()
    console_task.cancel()

    engine = make_engine(url)
    with engine.connect() as conn:
        stored = int(conn.execute(select(func.count()).select_from(t.device_events)).scalar() or 0)
        keys = Counter(conn.execute(select(t.device_events.c.unit_id, t.device_events.c.seq)).all())
    engine.dispose()
    expected = samples + flood
    connections = len(credentials)
    return Result(
        db=kind if workers == 1 else f"{kind} x{workers}",
        units=connections,
        connect_seconds=round(connect_seconds, 1),
        server_rss_mb_idle=round(rss_idle, 1),
        server_rss_mb_connected=round(rss_connected, 1),
        kib_per_connection=round((rss_connected - rss_idle) * 1024 / connections, 1),
        samples=samples,
        ack_p50_ms=round(statistics.median(ack_ms), 2),
        ack_p99_ms=round(percentile(ack_ms, 99), 2),
        console_p50_ms=round(statistics.median(console_ms), 2),
        console_p99_ms=round(percentile(console_ms, 99), 2),
        flood_presses=flood,
        flood_drain_seconds=round(drain, 2),
        flood_per_second=round(flood / drain),
        stored=stored,
        lost=max(0, expected - stored),
        doubled=sum(n - 1 for n in keys.values()) + max(0, stored - expected),
        # Other work on the machine shows in the tail latencies: keep it on the record.
        load_average=round(os.getloadavg()[0], 2),
        gc_collections=sum(p["collections"] for p in pauses.values()),
        gc_full_collections=sum(p["full_collections"] for p in pauses.values()),
        gc_longest_ms=max((p["longest_ms"] for p in pauses.values()), default=0.0),
        gc_longest_cpu_ms=max((p["longest_cpu_ms"] for p in pauses.values()), default=0.0),
        gc_p99_ms=max((p["p99_ms"] for p in pauses.values()), default=0.0),
        server_cpu_share=round(server_share, 2),
        bench_cpu_share=round(bench_share, 2),
    )


def gc_pauses(base: str, workers: int) -> dict[str, dict[str, Any]]:
    """Each server process's garbage-collection pauses (its /healthz), by process.

    Blocking, once the measuring is over: with an asyncio client here the benchmark process
    did not exit after the run (not understood; the synchronous client does not do that).
    """
    found: dict[str, dict[str, Any]] = {}
    for _ in range(max(1, workers) * 16):
        # Several processes answer on one port: a new connection each time reaches most.
        # Long: after a flood at 10,000 units on a busy machine the server took more than
        # httpx's 5 s to answer, and the whole run was lost.
        with httpx.Client(base_url=base, timeout=120) as http:
            health = http.get("/healthz").json()
        found[str(health["process"])] = health["gc_pauses"]
        if len(found) >= workers:
            break
    return found


def run_to_end(work: Coroutine[Any, Any, Result]) -> Result:
    """Run one measurement on a loop of its own, and leave it within seconds.

    `asyncio.run` waits, when it ends, for every task still there to finish its cancellation:
    at 10,000 units some task of the simulated fleet did not (the loop sat on a timer minutes
    away, found with gdb's py-bt), and the benchmark neither printed nor exited. What is still
    running after five seconds is named and left behind.
    """
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(work)
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left, timeout=5))
        stuck = [task for task in left if not task.done()]
        if stuck:
            names = ", ".join(sorted({repr(task.get_coro()) for task in stuck}))
            print(f"note: {len(stuck)} task(s) did not end when cancelled: {names}", flush=True)
        return result
    finally:
        if not any(not task.done() for task in asyncio.all_tasks(loop)):
            loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--samples", type=int, default=300, help="latency samples per run")
    parser.add_argument("--flood", type=int, default=10000, help="presses in the flood")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (serve --workers; PostgreSQL)"
    )
    parser.add_argument(
        "--heartbeat", type=float, help="units' heartbeat period in seconds (default: server's)"
    )
    parser.add_argument(
        "--press-listen",
        choices=["off", "on"],
        default="off",
        help="the server listens to each press (default off: see the module's text)",
    )
    args = parser.parse_args()
    if args.workers > 1 and "sqlite" in args.db:
        parser.error("--workers above 1 needs --db postgres")
    # Thousands of simulated units would otherwise log every reconnect.
    logging.basicConfig(level=logging.ERROR)

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if max(args.units) + 200 > hard:
        print(f"warning: open-file limit {hard} may be too low for {max(args.units)} units")

    results: list[Result] = []
    for kind in args.db:
        for units in args.units:
            with tempfile.TemporaryDirectory(prefix="helppoint-bench-") as workdir:
                print(f"== {kind}, {units} units …", flush=True)
                result = run_to_end(
                    run_one(
                        kind,
                        units,
                        args.samples,
                        args.flood,
                        Path(workdir),
                        args.workers,
                        args.heartbeat,
                        args.press_listen == "on",
                    )
                )
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)

    header = (
        "| db | units | press→ack p50 / p99 ms | press→console p50 / p99 ms | "
        "flood drain s (presses/s) | lost | doubled | server KiB/conn | "
        "GC pauses: count (full), longest (most CPU) / p99 ms | CPU server / bench | load avg |"
    )
    print()
    print(header)
    print("|" + "---|" * 11)
    for r in results:
        listening = ", listening" if r.press_listen else ""
        print(
            f"| {r.db}{listening} | {r.units} | {r.ack_p50_ms} / {r.ack_p99_ms} | "
            f"{r.console_p50_ms} / {r.console_p99_ms} | {r.flood_drain_seconds} "
            f"({r.flood_per_second}) | {r.lost} | {r.doubled} | {r.kib_per_connection} | "
            f"{r.gc_collections} ({r.gc_full_collections}), {r.gc_longest_ms} "
            f"({r.gc_longest_cpu_ms}) / {r.gc_p99_ms} | "
            f"{r.server_cpu_share:.0%} / {r.bench_cpu_share:.0%} | {r.load_average} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
