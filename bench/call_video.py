#!/usr/bin/env python3
"""Benchmark the media hub's CPU per call with the unit's video: N calls at once.

Runs `helppoint serve` as its own process (the media hub, recording on) and, in this process,
N simulated units (the real agent, sending its VP8 test pattern, 320x240, and a synthetic
voice) and N aiortc peers in place of the operators' browsers (audio both ways, the unit's
video received and counted, not decoded). Each round presses every unit, answers all N calls,
lets them settle, and reads the server process's CPU (user + system from /proc) over a
window; per call is (that - the same window before the presses) / N. Each peer's received
video frame rate is printed too (a hub that cannot keep up shows there).

It measures whatever code the server runs: run it with PYTHONPATH pointing at a checkout of
another commit to compare (docs/performance.md compares the hub forwarding the unit's VP8
with the hub decoding and re-encoding it, the commit before).

    python bench/call_video.py                       # 4 calls at once, 3 rounds
    python bench/call_video.py --calls 2 --rounds 1 --window 5   # a smoke run

Not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from helppoint.agent.call import CallMedia  # noqa: E402
from helppoint.calls.media import ToneTrack  # noqa: E402
from helppoint.domain.model import Role  # noqa: E402
from helppoint.services.operators import add_operator  # noqa: E402
from helppoint.services.seed import seed_demo  # noqa: E402
from helppoint.sim.fleet import Fleet  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402
from tests.conftest import async_http_client  # noqa: E402
from tests.faults.server_process import ServerProcess  # noqa: E402

PASSWORD = "benchmark-password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def cpu_percent(pid: int, window: float) -> float:
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


class Operator:
    """An aiortc peer as the console offers: audio both ways, video received (frames counted
    from the RTP marker bit, nothing decoded, so this process leaves the cores to the hub)."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(frequency=330.0))
        self.video = self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0

    def count_frames(self) -> None:
        receiver = self.video.receiver
        handle = receiver._handle_rtp_packet
        operator = self

        async def counted(packet: RtpPacket, arrival_time_ms: int) -> None:
            if packet.marker:
                operator.frames += 1
            await handle(packet, arrival_time_ms)

        receiver._handle_rtp_packet = counted  # type: ignore[method-assign]


async def one_round(
    http: Any, fleet: Fleet, units: list[str], pid: int, window: float
) -> dict[str, Any]:
    idle = await cpu_percent(pid, window)
    operators: list[Operator] = []
    incidents: list[int] = []
    try:
        for unit in units:
            fleet.press(unit)
        for _ in range(400):
            queue = (await http.get("/api/incidents/queue")).json()
            incidents = [i["id"] for i in queue if i["unit_id"] in units]
            if len(incidents) == len(units):
                break
            await asyncio.sleep(0.05)
        for incident_id in incidents:
            await http.post(f"/api/incidents/{incident_id}/acknowledge")
            operator = Operator()
            operators.append(operator)
            await operator.pc.setLocalDescription(await operator.pc.createOffer())
            response = await http.post(
                f"/api/incidents/{incident_id}/call",
                json={"type": "offer", "sdp": operator.pc.localDescription.sdp},
            )
            response.raise_for_status()
            await operator.pc.setRemoteDescription(
                RTCSessionDescription(response.json()["sdp"], "answer")
            )
            operator.count_frames()
        await asyncio.sleep(5)  # settle: every call connected, video flowing
        frames = [o.frames for o in operators]
        busy = await cpu_percent(pid, window)
        rates = [(o.frames - f) / window for o, f in zip(operators, frames, strict=True)]
    finally:
        for incident_id in incidents:
            await http.post(f"/api/incidents/{incident_id}/call/hangup")
        for operator in operators:
            await operator.pc.close()
    return {
        "idle": idle,
        "busy": busy,
        "per_call": (busy - idle) / len(units),
        "fps": statistics.median(rates) if rates else 0.0,
    }


async def run(calls: int, rounds: int, window: float, workdir: Path) -> list[dict[str, Any]]:
    url = f"sqlite:///{workdir / 'bench.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    seeded = seed_demo(UnitOfWork(factory))
    add_operator(UnitOfWork(factory), "bench", PASSWORD, Role.OPERATOR)
    engine.dispose()
    units = [u.unit_id for u in seeded][:calls]
    keys = [(u.unit_id, u.key) for u in seeded if u.unit_id in units]
    port = free_port()
    os.environ["HELPPOINT_CALL_RECORDING"] = "true"
    os.environ["HELPPOINT_RECORDINGS_DIR"] = str(workdir / "recordings")
    server = ServerProcess(url, port, workdir / "server.log")
    server.start()
    assert server.process is not None
    fleet = Fleet(f"http://127.0.0.1:{port}", keys, call_media=CallMedia())
    http = async_http_client(f"http://127.0.0.1:{port}", timeout=30)
    results = []
    try:
        await fleet.start()
        await fleet.wait_connected(30)
        (
            await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        ).raise_for_status()
        for index in range(rounds):
            results.append(await one_round(http, fleet, units, server.process.pid, window))
            print(f"round {index + 1}: {results[-1]}; load {os.getloadavg()}", file=sys.stderr)
    finally:
        await http.aclose()
        await fleet.stop()
        server.stop()
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4, help="calls at once (default 4, max 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--window", type=float, default=10.0, help="CPU window, s (default 10)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import helppoint

    print(
        f"server code: {Path(helppoint.__file__).parent}; load {os.getloadavg()}", file=sys.stderr
    )
    with tempfile.TemporaryDirectory(prefix="helppoint-call-video-") as tmp:
        results = asyncio.run(run(min(args.calls, 8), args.rounds, args.window, Path(tmp)))
    for name in ("idle", "busy", "per_call", "fps"):
        values = [r[name] for r in results]
        print(
            f"{name:10} median {statistics.median(values):6.1f}  "
            f"({min(values):.1f}-{max(values):.1f})  over {len(values)} rounds"
        )
    print("(idle, busy, per_call: % of one core of the server process; fps: median per call)")


if __name__ == "__main__":
    main()
