"""Scripted, repeatable fault scenarios (docs/reliability.md).

Each scenario starts real server processes on a real database, floods them with presses from
a simulated fleet, injects one fault in the middle of the flood, and counts: presses sent,
acknowledged, stored, duplicated, and acknowledged-but-lost (which must be zero, every time).
The CI tests in this directory run each scenario small; `bench/faults.py` runs them full size
and prints the tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select, text

from helppoint.services.units import ensure_zone, provision_unit
from helppoint.sim.fleet import Fleet
from helppoint.store import tables as t
from helppoint.store.database import make_engine, make_session_factory
from helppoint.store.migrate import upgrade
from helppoint.store.tables_cluster import server_processes
from helppoint.store.uow import UnitOfWork
from tests.ports import free_port

from .server_process import ServerProcess

PG_ADMIN_URL = os.environ.get(
    "HELPPOINT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Tally:
    """What happened to the presses of one run."""

    scenario: str
    sent: int = 0
    acked: int = 0
    stored: int = 0
    duplicated: int = 0
    acked_lost: int = 0
    out_of_order: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (
            f"{self.scenario:<18} sent {self.sent:>6}  acked {self.acked:>6}  stored "
            f"{self.stored:>6}  duplicated {self.duplicated}  acked-but-lost {self.acked_lost}  "
            f"out of order {self.out_of_order}  {self.seconds:.1f} s{extra}"
        )

    @property
    def ok(self) -> bool:
        return (
            self.acked_lost == 0
            and self.duplicated == 0
            and self.out_of_order == 0
            and self.stored == self.sent
        )


# -- databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server; yields its database URL."""
    schema = f"f_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_ADMIN_URL else "?"
    try:
        yield f"{PG_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        for _ in range(20):  # after a PostgreSQL restart the server may need a moment
            try:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                break
            except Exception:
                time.sleep(0.5)
        admin.dispose()


def provision(url: str, units: int) -> tuple[Engine, list[tuple[str, str]]]:
    engine = make_engine(url)
    upgrade(engine)
    uow = UnitOfWork(make_session_factory(engine))
    credentials = []
    with uow:
        ensure_zone(uow, "z", "Zone")
        uow.flush()
        for n in range(units):
            unit = provision_unit(uow, f"U{n:04d}", f"Unit {n}", "z", 52.2, -0.9)
            credentials.append((unit.unit_id, unit.key))
        uow.commit()
    return engine, credentials


def count(engine: Engine, tally: Tally, acked: set[tuple[str, int]]) -> Tally:
    """Fill in stored / duplicated / acknowledged-but-lost / out-of-order from the database."""
    for attempt in range(30):
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(t.device_events.c.id, t.device_events.c.unit_id, t.device_events.c.seq)
                ).all()
            break
        except Exception:
            if attempt == 29:
                raise
            time.sleep(1)
    stored = Counter((unit_id, seq) for _, unit_id, seq in rows)
    tally.stored = len(rows)
    tally.duplicated = sum(n - 1 for n in stored.values())
    tally.acked = len(acked)
    tally.acked_lost = len(acked - set(stored))
    # In order: each unit's presses were stored in the order it numbered them.
    by_unit: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row_id, unit_id, seq in rows:
        by_unit[unit_id].append((row_id, seq))
    for stored_rows in by_unit.values():
        seqs = [seq for _, seq in sorted(stored_rows)]
        tally.out_of_order += sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    return tally


# -- a link that can be cut --------------------------------------------------------------


class CuttableLink:
    """A TCP proxy between the units and the server that can be cut and restored.

    Cutting closes every connection through it and refuses new ones, like a failed mobile
    link or a dug-up cable between the help points and the control room.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except (OSError, asyncio.CancelledError):
            writer.close()
            self._pipes.discard(task)
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        try:
            # Cancelled by cut(): the connection simply ends, as a dropped link does.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
            self._pipes.discard(task)


# -- the flood ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fleet_of(
    url: str, credentials: list[tuple[str, str]], tmp: Path, acked: set[tuple[str, int]]
) -> AsyncIterator[Fleet]:
    def on_ack(unit_id: str, seq: int, status: str) -> None:
        acked.add((unit_id, seq))

    fleet = Fleet(
        url,
        credentials,
        str(tmp / f"outbox-{uuid.uuid4().hex[:6]}.sqlite"),
        gpio_mock=False,
        bounce_time=0.0,
        stills=False,  # what is measured here is the presses
        on_ack=on_ack,
        backoff_base=0.05,
        backoff_cap=1.0,
    )
    await fleet.start()
    try:
        await fleet.wait_connected(timeout=120)
        yield fleet
    finally:
        await fleet.stop()


async def flood(fleet: Fleet, credentials: list[tuple[str, str]], presses: int, rate: float) -> int:
    """Press round-robin at about `rate` presses a second; returns presses made."""
    made = 0
    start = time.monotonic()
    for i in range(presses):
        if fleet.press(credentials[i % len(credentials)][0]) is not None:
            made += 1
        wait = start + (i + 1) / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
    return made


async def until_acked(acked: set[tuple[str, int]], n: int, pressing: asyncio.Task[int]) -> None:
    """Return once `n` presses are acknowledged (or the pressing is over)."""
    # Acks are counted by the fleet's callback; polling a set is simplest here.
    while len(acked) < n and not pressing.done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


# -- the scenarios -----------------------------------------------------------------------


async def kill_worker(tmp: Path, units: int = 40, presses: int = 2000, rate: float = 400) -> Tally:
    """`serve --workers 2` on PostgreSQL; SIGKILL one worker process mid-flood."""
    tally = Tally("kill-worker")
    acked: set[tuple[str, int]] = set()
    began = time.monotonic()
    with postgres_schema() as url:
        engine, credentials = provision(url, units)
        server = ServerProcess(url, free_port(), tmp / "server.log", extra_args=["--workers", "2"])
        server.start()
        try:
            pids = await asyncio.to_thread(_worker_pids, engine, 2)
            async with fleet_of(
                f"ws://127.0.0.1:{server.port}/device/v1", credentials, tmp, acked
            ) as fleet:
                half = asyncio.create_task(flood(fleet, credentials, presses, rate))
                await until_acked(acked, presses // 3, half)
                victim = pids[0]
                in_flight = fleet.pending
                os.kill(victim, signal.SIGKILL)
                tally.notes.append(f"worker {victim} killed with {in_flight} presses in flight")
                tally.sent = await half
                await fleet.wait_all_acked(timeout=180)
        finally:
            server.stop()
        count(engine, tally, acked)
        engine.dispose()
    tally.seconds = time.monotonic() - began
    return tally


async def kill_writer(
    tmp: Path, units: int = 40, presses: int = 2000, rate: float = 400, url: str | None = None
) -> Tally:
    """One server (SQLite by default); SIGKILL its ingest writer process mid-flood."""
    tally = Tally("kill-writer")
    acked: set[tuple[str, int]] = set()
    began = time.monotonic()
    url = url or f"sqlite:///{tmp / 'kill-writer.sqlite'}"
    engine, credentials = provision(url, units)
    server = ServerProcess(url, free_port(), tmp / "server.log")
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        device_url = f"ws://127.0.0.1:{server.port}/device/v1"
        async with fleet_of(device_url, credentials, tmp, acked) as fleet:
            pressing = asyncio.create_task(flood(fleet, credentials, presses, rate))
            await until_acked(acked, presses // 3, pressing)
            async with httpx.AsyncClient(timeout=None) as client:
                writer = (await client.get(f"{base}/healthz")).json()["ingest"]["writer"]
            in_flight = fleet.pending
            os.kill(writer["pid"], signal.SIGKILL)
            tally.notes.append(
                f"writer process {writer['pid']} killed with {in_flight} presses in flight"
            )
            tally.sent = await pressing
            await fleet.wait_all_acked(timeout=180)
            async with httpx.AsyncClient(timeout=None) as client:
                after = (await client.get(f"{base}/healthz")).json()["ingest"]["writer"]
            tally.notes.append(f"writer processes started: {after['starts']}")
    finally:
        server.stop()
    count(engine, tally, acked)
    engine.dispose()
    tally.seconds = time.monotonic() - began
    return tally


def _worker_pids(engine: Engine, n: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pids = [pid for (pid,) in conn.execute(select(server_processes.c.pid))]
        if len(pids) >= n:
            return pids
        time.sleep(0.2)
    raise RuntimeError(f"{n} worker processes did not register within {timeout} s")


def restart_postgres() -> None:
    """Restart the local PostgreSQL cluster (Debian's pg_ctlcluster, as CI's machine has)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=120,
    )


def can_restart_postgres() -> bool:
    return (
        os.geteuid() == 0
        and os.path.isdir("/etc/postgresql")
        and bool(subprocess.run(["which", "pg_ctlcluster"], capture_output=True).stdout)
    )


async def postgres_restart(
    tmp: Path, units: int = 40, presses: int = 2000, rate: float = 400
) -> Tally:
    """One server on PostgreSQL; PostgreSQL restarted (fast shutdown) mid-flood."""
    tally = Tally("postgres-restart")
    acked: set[tuple[str, int]] = set()
    began = time.monotonic()
    with postgres_schema() as url:
        engine, credentials = provision(url, units)
        server = ServerProcess(url, free_port(), tmp / "server.log")
        server.start()
        try:
            async with fleet_of(
                f"ws://127.0.0.1:{server.port}/device/v1", credentials, tmp, acked
            ) as fleet:
                pressing = asyncio.create_task(flood(fleet, credentials, presses, rate))
                await until_acked(acked, presses // 3, pressing)
                in_flight = fleet.pending
                stopped = time.monotonic()
                await asyncio.to_thread(restart_postgres)
                tally.notes.append(
                    f"restarted with {in_flight} presses in flight, "
                    f"down {time.monotonic() - stopped:.1f} s"
                )
                tally.sent = await pressing
                await fleet.wait_all_acked(timeout=180)
        finally:
            server.stop()
        count(engine, tally, acked)
        engine.dispose()
    tally.seconds = time.monotonic() - began
    return tally


async def link_cut(
    tmp: Path, units: int = 20, cut_seconds: float = 600, rate: float = 5, url: str | None = None
) -> Tally:
    """The unit <-> server link cut for `cut_seconds` while people keep pressing; the units
    store their presses and catch up, in order, when it comes back."""
    tally = Tally("link-cut")
    acked: set[tuple[str, int]] = set()
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        if url is None:
            url = f"sqlite:///{tmp / 'link-cut.sqlite'}"
        engine, credentials = provision(url, units)
        server = ServerProcess(url, free_port(), tmp / "server.log")
        server.start()
        stack.callback(server.stop)
        link = CuttableLink(server.port)
        await link.restore()
        async with fleet_of(
            f"ws://127.0.0.1:{link.port}/device/v1", credentials, tmp, acked
        ) as fleet:
            before = await flood(fleet, credentials, units * 2, rate=200)
            await fleet.wait_all_acked(timeout=60)
            await link.cut()
            acked_at_cut = len(acked)
            during = await flood(fleet, credentials, max(units, int(cut_seconds * rate)), rate)
            stored_offline = fleet.pending
            tally.notes.append(
                f"{during} presses during a {cut_seconds:.0f} s cut, {stored_offline} held by units"
            )
            if len(acked) != acked_at_cut:
                tally.notes.append("presses were acknowledged while the link was cut!")
            await link.restore()
            back = time.monotonic()
            await fleet.wait_all_acked(timeout=600)
            tally.notes.append(
                f"caught up {time.monotonic() - back:.1f} s after the link came back"
            )
            tally.sent = before + during
            await link.cut()
        count(engine, tally, acked)
        engine.dispose()
    tally.seconds = time.monotonic() - began
    return tally


def summary(tallies: list[Tally]) -> str:
    return "\n".join(t.line() for t in tallies)


def as_dict(tally: Tally) -> dict[str, Any]:
    return {k: v for k, v in tally.__dict__.items()}
