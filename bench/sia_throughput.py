#!/usr/bin/env python3
"""Benchmark the SIA DC-09 receiver against pysiaalarm's: the whole curve, both databases.

For every number of connections (panels; default 1, 10, 100, 400), every message mix and
every database (SQLite and PostgreSQL), `helppoint serve` is measured beside pysiaalarm's
asyncio TCP receiver in the same run, the two alternating (which goes first changes every
round), for `--rounds` rounds (default 3): the median and the spread (lowest-highest) of the
rounds are printed, with the ratio of each round.

- **helppoint**: `helppoint serve` (its own process and its ingest writer process, uvloop),
  every event committed durably before its ACK: SQLite in WAL mode with synchronous=FULL (an
  fsync per commit, on the disk that holds the temporary directory), or PostgreSQL with
  fsync and synchronous_commit on (a schema of its own per round). A fresh database for
  every round and number of connections; the mixes of a round run on it one after another,
  with sequence numbers of their own, so none is taken for another's retransmission.
- **pysiaalarm**: its asyncio TCP receiver in its own process on uvloop (so receivers are
  compared, not event loops); it ACKs first and then hands each event to a function that
  counts it: it stores nothing.
- **This process** is the load generator, apart from both: every message is built (framed,
  encrypted) before the clock starts and every answer is checked after it stops.

Mixes (`--mix`):
- `plain`: every message a panic alarm (SIA-DCS `PA`, plain), each panel sending one at a
  time and waiting for its answer, on one connection: the worst case for us (each alarm joins
  or opens an incident, writes an audit entry and reaches the consoles).
- `aes`: the same, AES-128 encrypted.
- `flood`: plain panic alarms, each on a connection of its own (connect, send, ACK, close),
  as many panels send: a flood of connections as well as alarms.
- `supervised`: what an alarm receiving centre mostly receives: link tests (NULL) from every
  panel, with an event as every tenth message (panic alarm, its restoral, a periodic test,
  mains fault and restoral, in turn).

One connection that waits for each answer is bound by the time a durable commit takes (the
ACK waits for it): the bench measures that time on each database (a one-row insert and
commit, one after another) and prints the bound, 1 / commit time, beside what we reach.

It also prints the CPU time per message of each process on our path, from their own CPU
clocks (/proc/PID/stat): the serving process, the writer process and, on PostgreSQL, the
server processes serving our connections (found by their application_name, the run's
schema), beside pysiaalarm's. Unlike messages per second it hardly depends on how busy the
machine is, so old and new code can be compared on a shared machine; and on N cores a path
that keeps them busy reaches at most N / (its CPU per message) messages per second.

    python bench/sia_throughput.py                          # the whole curve (long)
    python bench/sia_throughput.py --connections 100 --mix plain --database sqlite

Not a test: nothing here passes or fails on timing. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import uvloop
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # (tests/faults imports tests.ports)

from faults.server_process import ServerProcess  # noqa: E402

from helppoint.gateway.sia.codec import (  # noqa: E402
    FrameError,
    FrameReader,
    Response,
    Token,
    encode,
    parse_answer,
)
from helppoint.services.sia_accounts import save_account  # noqa: E402
from helppoint.services.units import ensure_zone, provision_unit  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

T = TypeVar("T")

#: pysiaalarm takes 16 key characters and uses their ASCII bytes.
ASCII_KEY = "0123456789ABCDEF"
KEY = ASCII_KEY.encode()
PG_URL = os.environ.get(
    "HELPPOINT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MIXES = ("plain", "aes", "flood", "supervised")
DATABASES = ("sqlite", "postgresql")
#: Messages per run by number of connections: long enough to measure, short enough that a
#: run stays inside the receivers' 40-second timestamp window.
DEFAULT_MESSAGES = {1: 300, 10: 1500, 100: 5000, 400: 8000}
#: The first DC-09 sequence number of each mix (the mixes of a round share a database: their
#: messages must not look like retransmissions of one another's). `aes` has its own accounts.
SEQ_BASE = {"plain": 0, "aes": 0, "flood": 3000, "supervised": 6000}
#: How old a message's timestamp may be, for both receivers (seconds): the messages of a run
#: are built before its clock starts, and a run on a busy machine may outlast the usual 40.
TOLERANCE = 600
#: The sequence number of each panel's warm-up alarm, sent to both receivers before the first
#: mix (so the first mix does not pay for first reads of accounts and units).
WARM_UP_SEQ = 9001
#: The events of the `supervised` mix, in turn, one every tenth message.
SUPERVISED_EVENTS = ("Nri1/PA1", "Nri1/PR1", "Nri1/RP", "Nri1/AT", "Nri1/AR")

PYSIAALARM_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pysiaalarm import SIAAccount
    from pysiaalarm.aio import SIAClient

    port, key, plain, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if sys.argv[5] == "uvloop":
        import uvloop
        uvloop.install()
    count = 0

    async def handle(event):
        global count
        count += 1

    async def main():
        band = (int(sys.argv[6]), 20)
        accounts = [SIAAccount(a, None, band) for a in plain.split(",")]
        accounts += [SIAAccount(a, key, band) for a in secret.split(",")]
        client = SIAClient("127.0.0.1", port, accounts, handle)
        await client.async_start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@dataclass
class Run:
    receiver: str
    database: str
    connections: int
    mix: str
    round: int
    messages: int
    seconds: float
    acks: int
    p50_ms: float
    p99_ms: float
    #: Events stored durably by the run (ours), and how many it sent.
    stored: int | None
    events: int
    #: CPU seconds the receiver's processes used while the load ran (ours: the serving
    #: process and its descendants, the writer process among them).
    server_cpu: float
    #: The share of the whole machine's CPU (all cores) that was busy meanwhile.
    machine_busy: float
    #: Of server_cpu, the receiver's own process (ours: the serving process; the rest is the
    #: writer process).
    serving_cpu: float = 0.0
    #: CPU seconds of the PostgreSQL server processes that served our connections (None on
    #: SQLite, and for pysiaalarm).
    database_cpu: float | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        """The receiver's CPU time per message (µs): steadier than messages/s on a busy machine."""
        return self.server_cpu / self.messages * 1e6

    @property
    def serving_us(self) -> float:
        """The serving process's CPU time per message (µs)."""
        return self.serving_cpu / self.messages * 1e6

    @property
    def writer_us(self) -> float:
        """The writer process's (the serving process's descendants') CPU per message (µs)."""
        return (self.server_cpu - self.serving_cpu) / self.messages * 1e6

    @property
    def database_us(self) -> float:
        """The database server's CPU per message for our connections (µs; 0 on SQLite)."""
        return (self.database_cpu or 0.0) / self.messages * 1e6

    @property
    def path_us(self) -> float:
        """The whole path's CPU per message (µs): ours and the database server's for us."""
        return self.cpu_us + self.database_us


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def accounts(connections: int, encrypted: bool) -> list[str]:
    """The panels' accounts: plain ones from A000, encrypted ones from C000."""
    first = 0xC000 if encrypted else 0xA000
    return [f"{first + n:X}" for n in range(connections)]


def provision(url: str, connections: int) -> None:
    """Migrate, and give every panel (plain and encrypted) a unit and an account."""
    engine = make_engine(url)
    upgrade(engine)
    with UnitOfWork(make_session_factory(engine)) as uow:
        ensure_zone(uow, "bench", "Bench")
        uow.flush()
        for encrypted in (False, True):
            for n, account in enumerate(accounts(connections, encrypted)):
                unit = f"SIA-{'C' if encrypted else 'P'}{n:04d}"
                provision_unit(uow, unit, f"Panel {account}", "bench", 52.0, -0.9)
                uow.flush()
                save_account(
                    uow,
                    account,
                    unit,
                    key_hex=KEY.hex() if encrypted else None,
                    tolerance_past=TOLERANCE,
                )
        uow.commit()
    engine.dispose()


class Database:
    """A fresh database for one round and number of connections: a SQLite file or a
    PostgreSQL schema of its own (dropped afterwards)."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self._schema: str | None = None
        if kind == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="sia-", dir=workdir))
            self.url = f"sqlite:///{folder / 'sia.sqlite'}"
        else:
            self._schema = f"bench_{uuid.uuid4().hex[:12]}"
            self._admin("CREATE SCHEMA", self._schema)
            separator = "&" if "?" in PG_URL else "?"
            self.url = (
                f"{PG_URL}{separator}options=-csearch_path%3D{self._schema}"
                f"&application_name={self._schema}"
            )

    def backends(self) -> list[int]:
        """The PostgreSQL server processes now serving connections to this database (none on
        SQLite): every connection of ours names the schema as its application_name."""
        if self._schema is None:
            return []
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": self._schema},
            ).scalars()
            found = [int(pid) for pid in pids]
        admin.dispose()
        return found

    def _admin(self, statement: str, schema: str) -> None:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(
                text(f'{statement} "{schema}"' + (" CASCADE" if "DROP" in statement else ""))
            )
        admin.dispose()

    def stored_events(self) -> int:
        engine = make_engine(self.url)
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(t.device_events)).scalar_one()
        engine.dispose()
        return int(count)

    def drop(self) -> None:
        if self._schema is not None:
            self._admin("DROP SCHEMA", self._schema)


def commit_ms(url: str, commits: int = 200) -> float:
    """The median time (ms) of a durable one-row insert and commit, one after another."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_commit (n INTEGER, at TEXT)"))
    times = []
    with engine.connect() as conn:
        for n in range(commits):
            started = time.perf_counter()
            conn.execute(text("INSERT INTO bench_commit VALUES (:n, 'x')"), {"n": n})
            conn.commit()
            times.append(time.perf_counter() - started)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_commit"))
    engine.dispose()
    return statistics.median(times) * 1000


def _stat(pid: int | str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds: user + system, every thread) of a process; None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:  # gone meanwhile
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds a process, and it with its descendants, have used so far.

    Descendants count: our server commits in a writer process (a grandchild, through
    multiprocessing's fork server).
    """
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent pid, CPU seconds)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(children.get(current, ()))
    return stats.get(pid, (0, 0.0))[1], total


def backends_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds each of these (PostgreSQL server) processes has used so far."""
    return {pid: stat[1] for pid in pids if (stat := _stat(pid)) is not None}


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far (/proc/stat; iowait counts as idle)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's CPU time that was busy between two machine_ticks()."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(messages: int, connections: int, mix: str) -> dict[str, list[bytes]]:
    """Each panel's messages, framed (and encrypted) now.

    They carry this moment's timestamp: a run longer than the receivers' 40-second window
    would be answered NAK, which the ACKs column would show.
    """
    per = messages // connections
    at = datetime.now(UTC)
    key = KEY if mix == "aes" else None
    base = SEQ_BASE[mix]
    panels: dict[str, list[bytes]] = {}
    for account in accounts(connections, mix == "aes"):
        sent: list[bytes] = []
        for n in range(1, per + 1):
            if mix != "supervised":
                token, data = Token.SIA_DCS, f"Nri1/PA{n % 999 + 1}"
            elif n % 10:
                token, data = Token.NULL, ""
            else:
                token, data = Token.SIA_DCS, SUPERVISED_EVENTS[n // 10 % len(SUPERVISED_EVENTS)]
            sent.append(encode(token, base + n, account, data, key=key, at=at))
        panels[account] = sent
    return panels


def events_in(messages: int, connections: int, mix: str) -> int:
    per = messages // connections
    return (per // 10 if mix == "supervised" else per) * connections


def filesystem(path: Path) -> str:
    """The type of the file system holding `path` (ext4, tmpfs, …): tmpfs would make fsync free."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


class Panel(asyncio.Protocol):
    """One connection sending messages one at a time, each after the previous answer.

    A protocol on the generator's uvloop, not streams: the load generator shares the machine
    with the receivers, so it should cost as little CPU per message as it can.
    """

    def __init__(self, messages: list[bytes], latencies: list[float], answers: list[bytes]) -> None:
        self.messages = messages
        self.latencies = latencies
        self.answers = answers
        self.frames = FrameReader()
        self.next = 0
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if self.next == len(self.messages):
            self.transport.close()
            if not self.done.done():
                self.done.set_result(None)
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.messages[self.next])
        self.next += 1

    def data_received(self, data: bytes) -> None:
        got = self.frames.feed(data)
        if not got:
            return
        self.latencies.append(time.perf_counter() - self.sent_at)
        answer = got[0]
        if isinstance(answer, FrameError):
            self.fail(RuntimeError(f"damaged answer: {answer}"))
            return
        self.answers.append(answer)
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.next < len(self.messages) or not self.answers:
            self.fail(RuntimeError(f"receiver closed the connection: {exc}"))

    def fail(self, error: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


async def drive(
    port: int, panels: dict[str, list[bytes]], key: bytes | None, per_message: bool
) -> tuple[float, list[float], int]:
    """Send the load; elapsed seconds, per-message ACK latencies (connecting included for
    `per_message`), and the number of ACKs."""
    latencies: list[float] = []
    answers: list[bytes] = []
    loop = asyncio.get_running_loop()

    async def panel(messages: list[bytes]) -> None:
        batches = [[m] for m in messages] if per_message else [messages]
        for batch in batches:
            started = time.perf_counter()
            _, protocol = await loop.create_connection(
                functools.partial(Panel, batch, latencies, answers), "127.0.0.1", port
            )
            if per_message:
                protocol.sent_at = started  # the connection's set-up is part of the wait
            await protocol.done

    started = time.perf_counter()
    await asyncio.gather(*(panel(messages) for messages in panels.values()))
    seconds = time.perf_counter() - started
    acks = sum(parse_answer(answer, key).kind is Response.ACK for answer in answers)
    return seconds, latencies, acks


def run_load(coroutine: Coroutine[None, None, T]) -> T:
    """Run the load generator on uvloop (cheaper per message than asyncio's own loop)."""
    return uvloop.run(coroutine)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def measure(
    receiver: str,
    pid: int,
    port: int,
    database: str,
    connections: int,
    mix: str,
    round_: int,
    messages: int,
    stored: Callable[[], int] | None,
    backends: Callable[[], list[int]] | None = None,
) -> Run:
    """Send one mix to a receiver and measure it."""
    panels = load(messages, connections, mix)
    key = KEY if mix == "aes" else None
    before = stored() if stored else 0
    backends_before = backends_cpu(backends()) if backends else {}
    (serving_before, server_before), machine_before = process_cpu(pid), machine_ticks()
    seconds, latencies, acks = run_load(drive(port, panels, key, mix == "flood"))
    machine = busy_share(machine_before, machine_ticks())
    serving_after, server_after = process_cpu(pid)
    database_cpu = None
    if backends:
        # (a backend that started during the run counts whole; none ends during one)
        after = backends_cpu(backends())
        database_cpu = sum(cpu - backends_before.get(p, 0.0) for p, cpu in after.items())
    return Run(
        receiver,
        database,
        connections,
        mix,
        round_,
        len(latencies),
        seconds,
        acks,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        stored() - before if stored else None,
        events_in(messages, connections, mix),
        server_after - server_before,
        machine,
        serving_after - serving_before,
        database_cpu,
    )


def warm_up(port: int, connections: int) -> None:
    """One alarm from every panel (plain and encrypted), not measured."""
    at = datetime.now(UTC)
    for key in (None, KEY):
        panels = {
            account: [encode(Token.SIA_DCS, WARM_UP_SEQ, account, "Nri1/PA1", key=key, at=at)]
            for account in accounts(connections, key is not None)
        }
        run_load(drive(port, panels, key, False))


def settle(pid: int, idle: float = 0.02, every: float = 0.5, at_most: float = 60.0) -> None:
    """Wait until the server has done what the warm-up set off (the triage worker evaluates
    every incident the warm-up opened, one after another: seconds of work on a busy machine,
    which would otherwise be counted against the first mix): until its processes use less
    than `idle` CPU seconds in `every` seconds."""
    deadline = time.monotonic() + at_most
    _, before = process_cpu(pid)
    while time.monotonic() < deadline:
        time.sleep(every)
        _, now = process_cpu(pid)
        if now - before < idle:
            return
        before = now


class Theirs:
    """pysiaalarm's receiver, with every panel's account, for one number of connections."""

    def __init__(self, connections: int, loop: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PYSIAALARM_SERVER,
                str(self.port),
                ASCII_KEY,
                ",".join(accounts(connections, False)),
                ",".join(accounts(connections, True)),
                loop,
                str(TOLERANCE),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "ready"
        warm_up(self.port, connections)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Ours:
    """`helppoint serve` with its DC-09 receiver on a fresh database."""

    def __init__(self, database: Database, connections: int, workdir: Path) -> None:
        provision(database.url, connections)
        self.database = database
        self.port = free_port()
        os.environ["HELPPOINT_SIA_PORT"] = str(self.port)  # (valid traffic is never limited)
        log = Path(tempfile.mkdtemp(prefix="log-", dir=workdir)) / "server.log"
        self.server = ServerProcess(database.url, free_port(), log)
        try:
            self.server.start(timeout=180)  # (a busy machine starts it slowly)
        except RuntimeError:
            self.server.stop()  # (it may still be starting)
            sys.stderr.write(log.read_text()[-3000:])
            raise
        wait_for_port(self.port)
        assert self.server.process is not None
        self.pid = self.server.process.pid
        warm_up(self.port, connections)
        settle(self.pid)

    def stop(self) -> None:
        self.server.stop()


def spread(values: list[float], fmt: str = ",.0f") -> str:
    """'median (lowest-highest)'."""
    return (
        f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"
        if values
        else "—"
    )


def cpu_per_process(runs: list[Run], args: argparse.Namespace) -> None:
    """CPU time per message of each process on the path, median (lowest-highest) of the rounds.

    Independent of how busy the machine is (each process's own CPU clock), so old and new code
    can be compared on a shared machine, and it says what 2x needs: on N cores, a path that
    keeps them all busy reaches N / (its CPU per message) at best.
    """
    print(
        "CPU µs per message, by process (median (lowest-highest) of the rounds; the "
        "database server's for our connections only):"
    )
    print()
    print(
        "| database | connections | mix | serving | writer | database server | whole path "
        "| pysiaalarm | whole path / pysiaalarm |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for database in args.database:
        for connections in args.connections:
            for mix in args.mix:
                key = (database, connections, mix)
                ours = [
                    r
                    for r in runs
                    if r.receiver == "helppoint" and (r.database, r.connections, r.mix) == key
                ]
                theirs = [
                    r
                    for r in runs
                    if r.receiver == "pysiaalarm" and (r.database, r.connections, r.mix) == key
                ]
                if not ours:
                    continue
                db = (
                    spread([r.database_us for r in ours])
                    if any(r.database_cpu is not None for r in ours)
                    else "(in the writer)"
                )
                path = statistics.median(r.path_us for r in ours)
                reference = statistics.median(r.cpu_us for r in theirs) if theirs else None
                print(
                    f"| {database} | {connections} | {mix} "
                    f"| {spread([r.serving_us for r in ours])} "
                    f"| {spread([r.writer_us for r in ours])} "
                    f"| {db} "
                    f"| {spread([r.path_us for r in ours])} "
                    f"| {spread([r.cpu_us for r in theirs]) if theirs else '—'} "
                    f"| {f'{path / reference:.2f}' if reference else '—'} |"
                )


def report(runs: list[Run], commits: dict[str, list[float]], args: argparse.Namespace) -> None:
    print(
        "| database | connections | mix | helppoint / pysiaalarm (each round) | helppoint msg/s "
        "| pysiaalarm msg/s | helppoint ack p50 / p99 ms | CPU µs/msg ours / theirs "
        "| stored durably | machine busy (ours) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    below: list[str] = []
    goal: list[str] = []
    for database in args.database:
        for connections in args.connections:
            for mix in args.mix:

                def pick(
                    receiver: str, d: str = database, c: int = connections, m: str = mix
                ) -> list[Run]:
                    return sorted(
                        (
                            r
                            for r in runs
                            if (r.receiver, r.database, r.connections, r.mix) == (receiver, d, c, m)
                        ),
                        key=lambda r: r.round,
                    )

                ours, theirs = pick("helppoint"), pick("pysiaalarm")
                if not ours or not theirs:
                    continue
                ratios = [a.per_second / b.per_second for a, b in zip(ours, theirs, strict=True)]
                median = statistics.median(ratios)
                complete = all(r.stored == r.events and r.acks == r.messages for r in ours)
                stored = "all" if complete else ", ".join(f"{r.stored}/{r.events}" for r in ours)
                print(
                    f"| {database} | {connections} | {mix} | **{median:.2f}** "
                    f"({', '.join(f'{x:.2f}' for x in ratios)}) "
                    f"| {spread([r.per_second for r in ours])} "
                    f"| {spread([r.per_second for r in theirs])} "
                    f"| {statistics.median(r.p50_ms for r in ours):.1f} / "
                    f"{statistics.median(r.p99_ms for r in ours):.1f} "
                    f"| {statistics.median(r.cpu_us for r in ours):.0f} / "
                    f"{statistics.median(r.cpu_us for r in theirs):.0f} "
                    f"| {stored} "
                    f"| {spread([r.machine_busy * 100 for r in ours], '.0f')}% |"
                )
                if median < 1:
                    below.append(f"{database}, {connections} connection(s), {mix}: {median:.2f}x")
                if connections >= 100:
                    goal.append(
                        f"{database}, {connections}, {mix}: {median:.2f}x "
                        f"({'met' if median >= 2 else 'NOT met'})"
                    )
    print()
    cpu_per_process(runs, args)
    print()
    for database, times in commits.items():
        ms = statistics.median(times)
        line = (
            f"{database}: a durable commit takes {spread(times, '.2f')} ms (median of each "
            f"round's 200): one stop-and-wait connection is bound by ~{1000 / ms:,.0f} msg/s"
        )
        ones = [
            r
            for r in runs
            if (r.receiver, r.database, r.connections, r.mix) == ("helppoint", database, 1, "plain")
        ]
        if ones:
            reached = statistics.median(r.per_second for r in ones)
            line += (
                f"; we reach {reached:,.0f} msg/s plain from 1 connection "
                f"({reached * ms / 10:.0f}% of the bound)"
            )
        print(line)
    print()
    print("Below pysiaalarm: " + ("; ".join(below) if below else "nowhere"))
    print("The 2x goal from 100 panels up: " + ("; ".join(goal) if goal else "not measured"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 10, 100, 400])
    parser.add_argument("--mix", nargs="+", choices=MIXES, default=list(MIXES))
    parser.add_argument("--database", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument(
        "--messages",
        type=int,
        help="messages per run (default by connections: "
        + ", ".join(f"{c}: {m}" for c, m in DEFAULT_MESSAGES.items())
        + "; at most 2,999 per connection)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds (at least 3 for a median and a spread; which receiver goes first "
        "alternates, so a change in the machine's load hits both alike)",
    )
    parser.add_argument(
        "--pysiaalarm-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="pysiaalarm's event loop: uvloop, as `helppoint serve` uses (the default: receiver "
        "against receiver), or asyncio's own, as pysiaalarm starts by itself",
    )
    parser.add_argument("--raw", action="store_true", help="also print every run")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    runs: list[Run] = []
    commits: dict[str, list[float]] = {d: [] for d in args.database}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for round_ in range(args.rounds):
            for connections in args.connections:
                messages = args.messages or DEFAULT_MESSAGES.get(connections, 60 * connections)
                theirs = Theirs(connections, args.pysiaalarm_loop)
                try:
                    for database_kind in args.database:
                        database = Database(database_kind, workdir)
                        try:
                            if connections == args.connections[0]:
                                commits[database_kind].append(commit_ms(database.url))
                            ours = Ours(database, connections, workdir)
                            try:
                                for mix in args.mix:
                                    both = [
                                        ("pysiaalarm", theirs.process.pid, theirs.port, None, None),
                                        (
                                            "helppoint",
                                            ours.pid,
                                            ours.port,
                                            database.stored_events,
                                            database.backends
                                            if database_kind != "sqlite"
                                            else None,
                                        ),
                                    ]
                                    order = both[:: -1 if round_ % 2 else 1]
                                    for name, pid, port, stored, backends in order:
                                        done = measure(
                                            name,
                                            pid,
                                            port,
                                            database_kind,
                                            connections,
                                            mix,
                                            round_,
                                            messages,
                                            stored,
                                            backends,
                                        )
                                        runs.append(done)
                                        if args.raw:
                                            print(done, flush=True)
                            finally:
                                ours.stop()
                        finally:
                            database.drop()
                finally:
                    theirs.stop()
            print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        where = f"{tmp} ({filesystem(workdir)})"
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(
        f"{os.cpu_count()} CPUs; load average {' '.join(load_before)} before, "
        f"{' '.join(load_after)} after; {args.rounds} rounds; helppoint: uvloop, SQLite WAL "
        f"synchronous=FULL in {where} / PostgreSQL fsync on; pysiaalarm: "
        f"{args.pysiaalarm_loop}, stores nothing"
    )
    busiest = max(float(x) for x in load_before[:1] + load_after[:1])
    if busiest > (os.cpu_count() or 1):
        print(
            f"NOTE: the machine was busy with other work (load average {busiest:.1f} on "
            f"{os.cpu_count()} CPUs): these figures are a floor, not the comparison; measure "
            "again on a quiet machine"
        )
    report(runs, commits, args)


if __name__ == "__main__":
    main()
