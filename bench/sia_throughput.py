#!/usr/bin/env python3
"""Benchmark the SIA DC-09 receiver against pysiaalarm's receiver on the same message load.

Starts `helppoint serve` (its own process and its ingest writer process, DC-09 on a TCP port,
every event committed durably before its ACK: SQLite in WAL mode with synchronous=FULL, an
fsync per commit, on the disk that holds the temporary directory) and, separately,
pysiaalarm's asyncio TCP receiver (its own process; it ACKs first and then hands each event to
a function that counts it: it stores nothing). Both run on uvloop, as `helppoint serve` does,
so the receivers are compared and not their event loops (`--pysiaalarm-loop asyncio` gives
pysiaalarm asyncio's own loop).

This process is the load generator, apart from both: C connections (panels), each sending its
share of M messages one at a time and waiting for the answer, as panels do. Every message is
built (framed, encrypted) before the clock starts and every answer is checked after it stops,
so the generator spends its time on the sockets, not on AES; the CPU each side used is
printed, to show which one was the bottleneck, and the receiver's CPU time per message, which
a busy machine disturbs less than messages per second.

The message mix (`--mix`): `alarms` is every message a panic alarm (SIA-DCS `PA`), the worst
case for us (each one joins or opens an incident, writes an audit entry and reaches the
consoles); `supervised` is what an alarm receiving centre mostly receives: link tests (NULL)
from every panel, with an event as every tenth message (panic alarm, its restoral, a periodic
test, mains fault and restoral, in turn).

    python bench/sia_throughput.py --messages 4000 --connections 100 --mode plain encrypted

Not a test: nothing here passes or fails on timing. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import uvloop
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

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

PYSIAALARM_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pysiaalarm import SIAAccount
    from pysiaalarm.aio import SIAClient

    port, key, accounts = int(sys.argv[1]), sys.argv[2] or None, sys.argv[3].split(",")
    if sys.argv[4] == "uvloop":
        import uvloop
        uvloop.install()
    count = 0

    async def handle(event):
        global count
        count += 1

    async def main():
        client = SIAClient("127.0.0.1", port, [SIAAccount(a, key) for a in accounts], handle)
        await client.async_start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


#: The events of the `supervised` mix, in turn, one every tenth message.
SUPERVISED_EVENTS = ("Nri1/PA1", "Nri1/PR1", "Nri1/RP", "Nri1/AT", "Nri1/AR")


@dataclass
class Run:
    receiver: str
    mode: str
    mix: str
    messages: int
    seconds: float
    acks: int
    p50_ms: float
    p99_ms: float
    stored: int | None
    #: CPU seconds the receiver's process and the load generator used while the load ran.
    server_cpu: float
    client_cpu: float
    #: The share of the whole machine's CPU (all cores) that was busy meanwhile.
    machine_busy: float
    #: Events per batch the receiver handed to its writer (ours only).
    batch: float | None = None
    #: Of server_cpu, what the serving process itself used (ours: the rest is its writer).
    receiver_only_cpu: float | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us(self) -> float:
        """The receiver's CPU time per message (µs): steadier than messages/s on a busy machine."""
        return self.server_cpu / self.messages * 1e6


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


def accounts(connections: int) -> list[str]:
    return [f"{0xA000 + n:X}" for n in range(connections)]


def provision(url: str, connections: int, key: bytes | None) -> None:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        ensure_zone(uow, "bench", "Bench")
        uow.commit()
    for n, account in enumerate(accounts(connections)):
        with UnitOfWork(factory) as uow:
            provision_unit(uow, f"SIA-{n:04d}", f"Panel {n}", "bench", 52.0, -0.9)
            uow.flush()
            save_account(uow, account, f"SIA-{n:04d}", key_hex=key.hex() if key else None)
            uow.commit()
    engine.dispose()


def process_cpu(pid: int, descendants: bool = True) -> float:
    """CPU seconds (user + system, every thread) a process and its descendants have used so far.

    Descendants count: our server commits in a writer process (a grandchild, through
    multiprocessing's fork server).
    """
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent pid, CPU seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        stats[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        )
    children: dict[int, list[int]] = {}
    for child, (parent, _) in stats.items():
        children.setdefault(parent, []).append(child)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        if descendants:
            todo.extend(children.get(current, ()))
    return total


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


def load(messages: int, connections: int, key: bytes | None, mix: str) -> dict[str, list[bytes]]:
    """Each panel's messages, framed (and encrypted) now.

    They carry this moment's timestamp: a run longer than the receivers' 40-second window
    would be answered NAK, which the ACKs column would show.
    """
    per = messages // connections
    at = datetime.now(UTC)
    panels: dict[str, list[bytes]] = {}
    for account in accounts(connections):
        sent: list[bytes] = []
        for seq in range(1, per + 1):
            if mix == "alarms":
                token, data = Token.SIA_DCS, f"Nri1/PA{seq % 999 + 1}"
            elif seq % 10:
                token, data = Token.NULL, ""
            else:
                token, data = Token.SIA_DCS, SUPERVISED_EVENTS[seq // 10 % len(SUPERVISED_EVENTS)]
            sent.append(encode(token, seq, account, data, key=key, at=at))
        panels[account] = sent
    return panels


def filesystem(path: Path) -> str:
    """The type of the file system holding `path` (ext4, tmpfs, …): tmpfs would make fsync free."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def stored_events(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(t.device_events)).scalar_one())
    engine.dispose()
    return count


class Panel(asyncio.Protocol):
    """One connection sending its messages one at a time, each after the previous answer.

    A protocol on the generator's uvloop, not streams: the load generator shares the machine
    with the receiver, so it should cost as little CPU per message as it can.
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
    port: int, panels: dict[str, list[bytes]], key: bytes | None
) -> tuple[float, list[float], int]:
    """Send the load; elapsed seconds, per-message ack latencies, and the number of ACKs."""
    latencies: list[float] = []
    answers: list[bytes] = []
    loop = asyncio.get_running_loop()

    async def panel(messages: list[bytes]) -> None:
        _, protocol = await loop.create_connection(
            lambda: Panel(messages, latencies, answers), "127.0.0.1", port
        )
        await protocol.done

    started = time.perf_counter()
    await asyncio.gather(*(panel(messages) for messages in panels.values()))
    seconds = time.perf_counter() - started
    acks = sum(parse_answer(answer, key).kind is Response.ACK for answer in answers)
    return seconds, latencies, acks


def run_load(load: Coroutine[None, None, T]) -> T:
    """Run the load generator on uvloop (cheaper per message than asyncio's own loop)."""
    return uvloop.run(load)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def run_ours(
    mode: str,
    mix: str,
    messages: int,
    connections: int,
    workdir: Path,
    profile: Path | None = None,
) -> Run:
    key = ASCII_KEY.encode() if mode == "encrypted" else None
    # A fresh database for every run: messages of an earlier run, stored under the same DC-09
    # sequence numbers, would be recognised as retransmissions and answered without storing.
    workdir = Path(tempfile.mkdtemp(prefix=f"{mode}-{mix}-", dir=workdir))
    url = f"sqlite:///{workdir / 'sia.sqlite'}"
    provision(url, connections, key)
    sia_port = free_port()
    os.environ["HELPPOINT_SIA_PORT"] = str(sia_port)  # (valid traffic is never rate-limited)
    server = ServerProcess(url, free_port(), workdir / "server.log")
    try:
        server.start()
    except RuntimeError:
        # The temporary directory goes with the exception: show why the server stopped.
        sys.stderr.write((workdir / "server.log").read_text()[-3000:])
        raise
    spy = None
    try:
        wait_for_port(sia_port)
        if profile is not None:
            assert server.process is not None
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(server.process.pid),
                    "--format",
                    "raw",
                    "--gil",
                    "--subprocesses",  # the ingest writer process too
                    "--rate",
                    "200",
                    "-o",
                    str(profile.with_suffix(f".{mode}.{mix}.txt")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # let py-spy attach
        panels = load(messages, connections, key, mix)
        assert server.process is not None
        server_before, client_before = process_cpu(server.process.pid), own_cpu()
        receiver_before = process_cpu(server.process.pid, descendants=False)
        machine_before = machine_ticks()
        seconds, latencies, acks = run_load(drive(sia_port, panels, key))
        machine = busy_share(machine_before, machine_ticks())
        server_cpu = process_cpu(server.process.pid) - server_before
        receiver_cpu = process_cpu(server.process.pid, descendants=False) - receiver_before
        client_cpu = own_cpu() - client_before
        ingest = httpx.get(f"http://127.0.0.1:{server.port}/healthz").json()["ingest"]
    finally:
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
            spy.wait(timeout=30)
        server.stop()
    return Run(
        "helppoint",
        mode,
        mix,
        len(latencies),
        seconds,
        acks,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        stored_events(url),
        server_cpu,
        client_cpu,
        machine,
        ingest["events"] / max(1, ingest["batches"]),
        receiver_cpu,
    )


def run_pysiaalarm(mode: str, mix: str, messages: int, connections: int, loop: str) -> Run:
    key = ASCII_KEY.encode() if mode == "encrypted" else None
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PYSIAALARM_SERVER,
            str(port),
            ASCII_KEY if key else "",
            ",".join(accounts(connections)),
            loop,
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "ready"
        panels = load(messages, connections, key, mix)
        server_before, client_before = process_cpu(process.pid), own_cpu()
        machine_before = machine_ticks()
        seconds, latencies, acks = run_load(drive(port, panels, key))
        machine = busy_share(machine_before, machine_ticks())
        server_cpu = process_cpu(process.pid) - server_before
        client_cpu = own_cpu() - client_before
    finally:
        process.terminate()
        process.wait(timeout=10)
    return Run(
        "pysiaalarm",
        mode,
        mix,
        len(latencies),
        seconds,
        acks,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        None,
        server_cpu,
        client_cpu,
        machine,
    )


def split(run: Run) -> str:
    """The serving process's and its writer's CPU per message, as ' (a + b)'."""
    if run.receiver_only_cpu is None:
        return ""
    own = run.receiver_only_cpu / run.messages * 1e6
    return f" ({own:.0f} + {run.cpu_us - own:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--mode", nargs="+", choices=("plain", "encrypted"), default=["plain", "encrypted"]
    )
    parser.add_argument(
        "--mix",
        nargs="+",
        choices=("alarms", "supervised"),
        default=["alarms", "supervised"],
        help="alarms: every message a panic alarm; supervised: NULL link tests with an event "
        "every tenth message (default: both)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="PATH",
        help="profile our server with py-spy (pip install py-spy) into PATH.<mode>.<mix>.txt "
        "(collapsed stacks)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat every pair of runs (alternating which receiver goes first, so a change "
        "in the machine's load hits both alike); the median ratio is printed",
    )
    parser.add_argument(
        "--pysiaalarm-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="pysiaalarm's event loop: uvloop, as `helppoint serve` uses (the default: receiver "
        "against receiver), or asyncio's own, as pysiaalarm starts by itself",
    )
    parser.add_argument("--skip-pysiaalarm", action="store_true", help="run only ours")
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        where = f"{tmp} ({filesystem(Path(tmp))})"
        for round_ in range(args.rounds):
            for mix in args.mix:
                for mode in args.mode:
                    theirs_first = round_ % 2 == 0 and not args.skip_pysiaalarm
                    if theirs_first:
                        runs.append(
                            run_pysiaalarm(
                                mode, mix, args.messages, args.connections, args.pysiaalarm_loop
                            )
                        )
                    runs.append(
                        run_ours(mode, mix, args.messages, args.connections, Path(tmp), args.py_spy)
                    )
                    if not theirs_first and not args.skip_pysiaalarm:
                        runs.append(
                            run_pysiaalarm(
                                mode, mix, args.messages, args.connections, args.pysiaalarm_loop
                            )
                        )
    per = args.messages // args.connections
    print(
        f"{per * args.connections} messages over {args.connections} connections, one at a time "
        f"each; {os.cpu_count()} CPUs; helppoint: uvloop, SQLite WAL, synchronous=FULL, in "
        f"{where}; pysiaalarm: {args.pysiaalarm_loop}, stores nothing"
    )
    print(
        "| receiver | mode | mix | messages/s | ack p50 ms | ack p99 ms | ACKs | stored durably "
        "| receiver CPU | receiver CPU µs/message (serving process + writer) | load generator CPU "
        "| machine busy | events per batch |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        per = args.messages // args.connections
        events = per if r.mix == "alarms" else per // 10
        stored = "—" if r.stored is None else f"{r.stored} of {events * args.connections}"
        print(
            f"| {r.receiver} | {r.mode} | {r.mix} | {r.per_second:,.0f} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.acks} | {stored} | {r.server_cpu / r.seconds:.0%} "
            f"| {r.cpu_us:.0f}{split(r)} | {r.client_cpu / r.seconds:.0%} | {r.machine_busy:.0%} "
            f"| {'—' if r.batch is None else f'{r.batch:.1f}'} |"
        )
    for mix in [] if args.skip_pysiaalarm else args.mix:
        for mode in args.mode:
            ours = [r for r in runs if (r.mode, r.mix, r.receiver) == (mode, mix, "helppoint")]
            theirs = [r for r in runs if (r.mode, r.mix, r.receiver) == (mode, mix, "pysiaalarm")]
            ratios = [a.per_second / b.per_second for a, b in zip(ours, theirs, strict=True)]
            cpu = [b.cpu_us / a.cpu_us for a, b in zip(ours, theirs, strict=True)]
            print(
                f"{mode}, {mix}: helppoint / pysiaalarm throughput = "
                f"{statistics.median(ratios):.2f} times (each round: "
                f"{', '.join(f'{x:.2f}' for x in ratios)}); pysiaalarm's CPU per message / "
                f"ours = {statistics.median(cpu):.2f}"
            )


if __name__ == "__main__":
    main()
