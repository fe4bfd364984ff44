#!/usr/bin/env python3
"""Benchmark camera views: CPU of the server per viewed stream, forwarded vs re-encoded.

One council camera stand-in (GStreamer's RTSP server, helppoint/cameras/rtsp_source.py: H.264
main profile, 640x360, 15 fps, ~700 kbit/s, a key frame every second) and a server process
running helppoint's camera views (helppoint/cameras/stream.py and viewer.py: one RTSP session,
one WebRTC peer per view), without the web stack or the database, which a view does not use
once set up. This process opens V viewers (aiortc peers that count the RTP packets they receive
and decode nothing, so that 2 cores are left for the server) and measures, for each V:

- the server process's CPU (user + system, from /proc) over a window, in % of one core;
- CPU per view: (that - the same with the stream open and no viewer) / V;
- the frames each viewer got per second (a viewer that gets less than 95% of the camera's rate
  means the server, or this machine, no longer carries that many views).

Two modes: ``forwarded`` (the camera's H.264 sent as it is, what helppoint does) and
``re-encoded`` (decoded once, encoded to VP8 for each viewer by aiortc, what it does for a
camera that does not send H.264, and what the call hub did with the unit's video). Each
(mode, V) is measured in --rounds fresh server processes; the median and the spread
(min-max) are printed.

    python bench/camera_streams.py                          # 1, 4, 8, 16, 32 views; 3 rounds
    python bench/camera_streams.py --views 1 4 --rounds 1 --window 5   # a smoke run

Not a test: nothing here passes or fails. Figures in docs/performance.md and docs/cameras.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from helppoint.cameras.rtsp_source import RtspTestSource  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FPS = 15


# ---------- the server process ----------


async def serve() -> None:
    """Answer offers read from stdin (JSON lines) with helppoint's camera views."""
    from helppoint.cameras.stream import StreamPool
    from helppoint.cameras.viewer import CameraViews
    from helppoint.config import Settings
    from helppoint.domain.cameras import CameraAccess

    settings = Settings().with_values({"database_url": "sqlite:///:memory:"})
    pool = StreamPool(timeout=5, keep_seconds=0)
    views = CameraViews(lambda: None, lambda: None, settings, pool)  # type: ignore[arg-type,return-value]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    held = None
    while line := await reader.readline():
        request = json.loads(line)
        access = CameraAccess("BENCH", "bench", request["url"])
        if request["type"] == "open":
            held = await pool.acquire(access)
            await held.settled(10)
            reply: dict[str, Any] = {"state": held.state.value, "codec": held.codec}
        else:
            answer = await views.answer(
                access, 0, "bench", request["sdp"], forward=request["forward"]
            )
            reply = {"sdp": answer["sdp"], "forwarded": answer["forwarded"]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    await views.stop()


# ---------- the viewers ----------


class CountingBuffer:
    """Stands in for a viewer's video jitter buffer: counts packets and frames, decodes none."""

    def __init__(self) -> None:
        self.packets = 0
        self.frames = 0
        self._timestamp: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self.packets += 1
        if packet.timestamp != self._timestamp:
            self.frames += 1
            self._timestamp = packet.timestamp
        return False, None


class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver = self.pc.addTransceiver("video", direction="recvonly")
        self.counter = CountingBuffer()
        # Only the bench touches this aiortc internal (as calls/opus.py does for audio).
        self.transceiver.receiver._RTCRtpReceiver__jitter_buffer = self.counter  # type: ignore[attr-defined]

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        self.transceiver.receiver._RTCRtpReceiver__jitter_buffer = self.counter  # type: ignore[attr-defined]


class Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply: dict[str, Any] = json.loads(self.process.stdout.readline())
        return reply

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Round:
    mode: str
    views: int
    cpu: float  # % of one core, the server process
    idle_cpu: float  # the same with the stream open and no viewer
    fps: float  # frames per second per viewer (median)

    @property
    def per_view(self) -> float:
        return (self.cpu - self.idle_cpu) / self.views if self.views else 0.0


async def measure_cpu(server: Server, window: float) -> float:
    start_cpu, start = server.cpu_seconds(), time.monotonic()
    await asyncio.sleep(window)
    return 100 * (server.cpu_seconds() - start_cpu) / (time.monotonic() - start)


async def one_round(url: str, mode: str, count: int, window: float) -> Round:
    server = Server()
    viewers: list[Viewer] = []
    try:
        opened = await asyncio.to_thread(server.ask, {"type": "open", "url": url})
        assert opened["state"] == "live", opened
        await asyncio.sleep(2)  # the stream settles
        idle = await measure_cpu(server, window)
        for _ in range(count):
            viewer = Viewer()
            offer = await viewer.offer()
            reply = await asyncio.to_thread(
                server.ask,
                {"type": "view", "url": url, "sdp": offer, "forward": mode == "forwarded"},
            )
            assert reply["forwarded"] == (mode == "forwarded"), reply
            await viewer.accept(reply["sdp"])
            viewers.append(viewer)
        # Until every viewer gets frames, then a little longer for the peers to settle.
        deadline = time.monotonic() + 60
        # Polled: the counters are plain integers a packet bumps.
        while any(v.counter.frames < FPS for v in viewers) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        before = [v.counter.frames for v in viewers]
        start = time.monotonic()
        cpu = await measure_cpu(server, window)
        elapsed = time.monotonic() - start
        rates = [(v.counter.frames - b) / elapsed for v, b in zip(viewers, before, strict=True)]
        return Round(mode, count, cpu, idle, statistics.median(rates))
    finally:
        for viewer in viewers:
            await viewer.pc.close()
        await asyncio.to_thread(server.stop)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ({min(values):.1f}-{max(values):.1f})"


async def main(args: argparse.Namespace) -> None:
    source = RtspTestSource(width=640, height=360, fps=FPS, gop=FPS, kbps=700, profile="main")
    source.start()
    print(f"camera: {source.url} (H.264 main, 640x360, {FPS} fps, ~700 kbit/s)", flush=True)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores", flush=True)
    results: dict[tuple[str, int], list[Round]] = {}
    try:
        for mode in args.modes:
            for count in args.views:
                for n in range(args.rounds):
                    result = await one_round(source.url, mode, count, args.window)
                    results.setdefault((mode, count), []).append(result)
                    print(
                        f"  {mode:10} views={count:3} round {n + 1}: server {result.cpu:5.1f}% "
                        f"(idle stream {result.idle_cpu:4.1f}%), {result.per_view:5.2f}%/view, "
                        f"{result.fps:4.1f} fps/viewer",
                        flush=True,
                    )
    finally:
        source.stop()
    print(f"\nload after: {os.getloadavg()[0]:.2f} (1 min)")
    print("\nmode        views  server CPU %       per view %      fps/viewer   (median, min-max)")
    for (mode, count), rounds in results.items():
        print(
            f"{mode:10} {count:6}  {spread([r.cpu for r in rounds])}  "
            f"{spread([r.per_view for r in rounds])}  {spread([r.fps for r in rounds])}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--views", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["forwarded", "re-encoded"],
        choices=["forwarded", "re-encoded"],
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if arguments.serve:
        asyncio.run(serve())
    else:
        asyncio.run(main(arguments))
