#!/usr/bin/env python3
"""Benchmark the SIA DC-09 receiver against pysiaalarm's receiver on the same message load.

Starts `helppoint serve` (its own process, DC-09 on a TCP port, every event committed durably
before its ACK) and, separately, pysiaalarm's asyncio TCP receiver (its own process, events
handed to a function that counts them). The same load goes to each: C connections (panels),
each sending its share of M messages one at a time and waiting for the answer, as panels do.
Prints throughput and ack latency p50/p99 side by side.

    python bench/sia_throughput.py --messages 5000 --connections 50 --mode plain encrypted

Not a test: nothing here passes or fails on timing. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from faults.server_process import ServerProcess  # noqa: E402

from helppoint.gateway.sia.codec import FrameReader, Response, Token, encode, parse_answer  # noqa: E402
from helppoint.services.sia_accounts import save_account  # noqa: E402
from helppoint.services.units import ensure_zone, provision_unit  # noqa: E402
from helppoint.store import tables as t  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402

#: pysiaalarm takes 16 key characters and uses their ASCII bytes.
ASCII_KEY = "0123456789ABCDEF"

PYSIAALARM_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from pysiaalarm import SIAAccount
    from pysiaalarm.aio import SIAClient

    port, key, accounts = int(sys.argv[1]), sys.argv[2] or None, sys.argv[3].split(",")
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


@dataclass
class Run:
    receiver: str
    mode: str
    messages: int
    seconds: float
    acks: int
    p50_ms: float
    p99_ms: float
    stored: int | None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


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


def stored_events(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(t.device_events)).scalar_one())
    engine.dispose()
    return count


async def drive(
    port: int, messages: int, connections: int, key: bytes | None
) -> tuple[float, list[float], int]:
    """Send the load; elapsed seconds, per-message ack latencies, and the number of ACKs."""
    names = accounts(connections)
    per = messages // connections
    latencies: list[float] = []
    acks = 0

    async def panel(account: str) -> None:
        nonlocal acks
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        frames = FrameReader()
        for seq in range(1, per + 1):
            message = encode(
                Token.SIA_DCS,
                seq,
                account,
                f"Nri1/PA{seq % 999 + 1}",
                key=key,
                at=datetime.now(UTC),
            )
            started = time.perf_counter()
            writer.write(message)
            await writer.drain()
            answers: list[bytes] = []
            while not answers:
                data = await reader.read(4096)
                if not data:
                    raise RuntimeError("receiver closed the connection")
                answers = [a for a in frames.feed(data) if isinstance(a, bytes)]
            latencies.append(time.perf_counter() - started)
            if parse_answer(answers[0], key).kind is Response.ACK:
                acks += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(panel(a) for a in names))
    return time.perf_counter() - started, latencies, acks


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def run_ours(
    mode: str, messages: int, connections: int, workdir: Path, profile: Path | None = None
) -> Run:
    key = ASCII_KEY.encode() if mode == "encrypted" else None
    url = f"sqlite:///{workdir / f'sia-{mode}.sqlite'}"
    provision(url, connections, key)
    sia_port = free_port()
    os.environ.update({"HELPPOINT_SIA_PORT": str(sia_port), "HELPPOINT_SIA_RATE": "1000000"})
    server = ServerProcess(url, free_port(), workdir / f"server-{mode}.log")
    server.start()
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
                    "--rate",
                    "200",
                    "-o",
                    str(profile.with_suffix(f".{mode}.txt")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # let py-spy attach
        seconds, latencies, acks = asyncio.run(drive(sia_port, messages, connections, key))
    finally:
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
            spy.wait(timeout=30)
        server.stop()
    return Run(
        "helppoint",
        mode,
        len(latencies),
        seconds,
        acks,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        stored_events(url),
    )


def run_pysiaalarm(mode: str, messages: int, connections: int) -> Run:
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
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # "ready"
        seconds, latencies, acks = asyncio.run(drive(port, messages, connections, key))
    finally:
        process.terminate()
        process.wait(timeout=10)
    return Run(
        "pysiaalarm",
        mode,
        len(latencies),
        seconds,
        acks,
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--mode", nargs="+", choices=("plain", "encrypted"), default=["plain", "encrypted"]
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="PATH",
        help="profile our server with py-spy (pip install py-spy) into PATH.<mode>.txt "
        "(collapsed stacks)",
    )
    parser.add_argument("--skip-pysiaalarm", action="store_true", help="run only ours")
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.mode:
            if not args.skip_pysiaalarm:
                runs.append(run_pysiaalarm(mode, args.messages, args.connections))
            runs.append(run_ours(mode, args.messages, args.connections, Path(tmp), args.py_spy))
    print(f"{args.messages} messages over {args.connections} connections, one at a time each")
    print("| receiver | mode | messages/s | ack p50 ms | ack p99 ms | ACKs | stored durably |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        stored = "—" if r.stored is None else str(r.stored)
        print(
            f"| {r.receiver} | {r.mode} | {r.per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.acks} | {stored} |"
        )
    for mode in [] if args.skip_pysiaalarm else args.mode:
        ours = next(r for r in runs if r.mode == mode and r.receiver == "helppoint")
        theirs = next(r for r in runs if r.mode == mode and r.receiver == "pysiaalarm")
        ratio = ours.per_second / theirs.per_second
        print(f"{mode}: helppoint / pysiaalarm throughput = {ratio:.2f} times")


if __name__ == "__main__":
    main()
