#!/usr/bin/env python3
"""Benchmark calls: answer → first audio frame at both ends, and one-way audio latency.

Runs `helppoint serve` as its own process (the media hub) and, in this process, one simulated
unit (the real agent with its aiortc peer and synthetic media) and an aiortc peer standing in
for the operator's browser. For each of N calls it times, from the answer request:

- the first audio frame heard by the operator (unit → server → operator),
- the first audio frame heard by the unit (operator → server → unit),

then sends a loud click each way and times it (one-way audio latency), and hangs up.

One-way audio is timed from the moment the sending end's source track hands the click's first
20 ms frame to its WebRTC sender, to the moment the far end's audio track delivers the first
decoded frame loud enough to be the click. Both ends run in this process, so one monotonic
clock (time.monotonic) times both; the media goes through the hub in the server process over
the machine's own interface. It includes encoding, the hub, every receive buffer and decoding.
It leaves out what real sound devices add: a microphone delivers a frame 20 ms after its first
sample, and a speaker's buffer holds some more (typically 10-40 ms at each end).

The unit is the real agent. The operator's browser is stood in for by an aiortc peer with
aiortc's default receiver, which holds audio 80 ms (a browser's adaptive buffer is not modelled),
so "unit → operator" carries that hold; --operator-buffer none gives the stand-in the unit's
hold-free receiver instead, which leaves the path through the hub on its own.

    python bench/call_latency.py            # 50 calls
    python bench/call_latency.py --calls 3  # a smoke run
    python bench/call_latency.py --operator-buffer none  # without the stand-in's 80 ms hold

Not a test: nothing here passes or fails on timing. Goals (docs/performance.md): set-up ≤ 1 s,
one-way audio ≤ 150 ms (ITU-T G.114).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from helppoint.agent.call import CallMedia  # noqa: E402
from helppoint.calls.media import AudioMeter, ToneTrack  # noqa: E402
from helppoint.calls.opus import OpusDecodeTrack, tap_audio, transceiver_of  # noqa: E402
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
UNIT = "HP-01"


@dataclass
class Figures:
    calls: int
    setup_operator_ms: list[float] = field(default_factory=list)
    setup_unit_ms: list[float] = field(default_factory=list)
    one_way_to_unit_ms: list[float] = field(default_factory=list)
    one_way_to_operator_ms: list[float] = field(default_factory=list)
    failures: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def until(predicate: object, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.002)


async def one_call(
    http: object, fleet: Fleet, incident_id: int, figures: Figures, operator_buffer: str
) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    voice = ToneTrack(silent=True)
    pc.addTrack(voice)
    pc.addTransceiver("video", direction="recvonly")
    meters: dict[str, AudioMeter] = {}

    def track(t: object) -> None:
        if operator_buffer == "none" and t.kind == "audio":  # type: ignore[attr-defined]
            tap = tap_audio(transceiver_of(pc, t))  # type: ignore[arg-type]
            t = OpusDecodeTrack(tap.subscribe())
        meter = AudioMeter(t)  # type: ignore[arg-type]
        meter.start()
        meters[t.kind] = meter  # type: ignore[attr-defined]

    pc.on("track", track)
    calls = fleet.unit(UNIT).calls
    assert calls is not None
    try:
        await pc.setLocalDescription(await pc.createOffer())
        started = time.monotonic()  # the answer click
        response = await http.post(  # type: ignore[attr-defined]
            f"/api/incidents/{incident_id}/call",
            json={"type": "offer", "sdp": pc.localDescription.sdp},
        )
        response.raise_for_status()
        await pc.setRemoteDescription(RTCSessionDescription(response.json()["sdp"], "answer"))
        unit_call = await calls.wait_for_call(10)
        await until(lambda: "audio" in meters and meters["audio"].stats.first_frame_at)
        await until(lambda: unit_call.meter is not None and unit_call.meter.stats.first_frame_at)
        assert unit_call.meter is not None
        figures.setup_operator_ms.append(1000 * (meters["audio"].stats.first_frame_at - started))  # type: ignore[operator]
        figures.setup_unit_ms.append(1000 * (unit_call.meter.stats.first_frame_at - started))  # type: ignore[operator]

        await asyncio.sleep(0.5)  # let jitter buffers settle, as in a real conversation
        heard = len(unit_call.meter.stats.markers)
        voice.marker()
        await until(lambda: len(unit_call.meter.stats.markers) > heard)  # type: ignore[union-attr]
        assert voice.marker_sent_at is not None
        figures.one_way_to_unit_ms.append(
            1000 * (unit_call.meter.stats.markers[-1] - voice.marker_sent_at)
        )
        if unit_call.voice is not None:
            unit_call.voice.silent = True
            await asyncio.sleep(0.2)
            heard = len(meters["audio"].stats.markers)
            unit_call.voice.marker()
            await until(lambda: len(meters["audio"].stats.markers) > heard)
            assert unit_call.voice.marker_sent_at is not None
            figures.one_way_to_operator_ms.append(
                1000 * (meters["audio"].stats.markers[-1] - unit_call.voice.marker_sent_at)
            )
        hangup = await http.post(f"/api/incidents/{incident_id}/call/hangup")  # type: ignore[attr-defined]
        hangup.raise_for_status()
    except (TimeoutError, AssertionError, OSError) as exc:
        figures.failures += 1
        logging.warning("call failed: %r", exc, exc_info=True)
    finally:
        for meter in meters.values():
            await meter.stop()
        await pc.close()


async def run(calls: int, workdir: Path, record: bool, operator_buffer: str) -> Figures:
    url = f"sqlite:///{workdir / 'bench.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    units = seed_demo(UnitOfWork(factory))
    add_operator(UnitOfWork(factory), "bench", PASSWORD, Role.OPERATOR)
    engine.dispose()
    port = free_port()
    server = ServerProcess(url, port, workdir / "server.log")
    import os

    os.environ["HELPPOINT_CALL_RECORDING"] = "true" if record else "false"
    os.environ["HELPPOINT_RECORDINGS_DIR"] = str(workdir / "recordings")
    server.start()
    key = next(u.key for u in units if u.unit_id == UNIT)
    fleet = Fleet(f"http://127.0.0.1:{port}", [(UNIT, key)], call_media=CallMedia())
    http = async_http_client(f"http://127.0.0.1:{port}", timeout=30)
    figures = Figures(calls)
    try:
        await fleet.start()
        await fleet.wait_connected(20)
        response = await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        response.raise_for_status()
        fleet.press(UNIT)
        incident_id = None
        for _ in range(200):
            queue = (await http.get("/api/incidents/queue")).json()
            if queue:
                incident_id = queue[0]["id"]
                break
            await asyncio.sleep(0.05)
        assert incident_id is not None, "the press did not open an incident"
        (await http.post(f"/api/incidents/{incident_id}/acknowledge")).raise_for_status()
        for n in range(calls):
            await one_call(http, fleet, incident_id, figures, operator_buffer)
            print(f"\rcall {n + 1}/{calls}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        await http.aclose()
        await fleet.stop()
        server.stop()
    return figures


def report(figures: Figures) -> None:
    rows = [
        ("answer → first audio at operator", figures.setup_operator_ms, "≤ 1000"),
        ("answer → first audio at unit", figures.setup_unit_ms, "≤ 1000"),
        ("one-way audio operator → unit", figures.one_way_to_unit_ms, "≤ 150"),
        ("one-way audio unit → operator", figures.one_way_to_operator_ms, "≤ 150"),
    ]
    print(f"\n{figures.calls} calls on one machine, {figures.failures} failed")
    print("(p99 is nearest-rank: with fewer than 100 calls it is the slowest call)\n")
    print(f"{'measure':36} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  goal ms")
    for name, values, goal in rows:
        print(
            f"{name:36} {len(values):>4} {percentile(values, 50):>8.1f} "
            f"{percentile(values, 99):>8.1f} {max(values, default=float('nan')):>8.1f}  {goal}"
        )
    if figures.setup_operator_ms:
        print(f"\nmean set-up at operator: {statistics.mean(figures.setup_operator_ms):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="number of calls (default 50)")
    parser.add_argument("--no-record", action="store_true", help="turn server-side recording off")
    parser.add_argument(
        "--operator-buffer",
        choices=("aiortc", "none"),
        default="aiortc",
        help="receive buffer of the operator stand-in: aiortc's default (80 ms hold, default) "
        "or none (the unit's hold-free receiver)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="helppoint-call-bench-") as tmp:
        figures = asyncio.run(run(args.calls, Path(tmp), not args.no_record, args.operator_buffer))
    report(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(figures), indent=1))


if __name__ == "__main__":
    main()
