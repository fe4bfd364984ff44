#!/usr/bin/env python3
"""Benchmark SIP help points: presses, call set-up, audio latency, supervision, calls at once.

Runs `helppoint serve` as its own process with its SIP side on (Kamailio and rtpengine, which
it starts), SIP units SIP-001 … SIP-N in the database, and Debian's baresip as the devices:
one baresip process holding all N accounts (each a user agent of its own, registering and
answering keepalives for itself), speaking G.711 (PCMU), as most intercoms do
(`--device-codec opus`: Opus, which rtpengine passes through). The operator is an aiortc peer
(as the console's browser) in this process; the console is a real console feed (the WebSocket
the browser uses). Each round, in a fresh server:

1. **Registered and supervised**: from the devices' start until the server reports all N up
   (`/api/health/units`); then the CPU of the server, Kamailio and rtpengine over a window of
   steady supervision (keepalives every `--keepalive` seconds); then the devices are frozen
   (SIGSTOP: they answer nothing) and the time until each is reported down, against its
   keepalive + grace.
2. **Presses and calls**, one at a time, `--calls` of them, each from another account:
   - INVITE → incident on the console: from the device's dial to the console feed's incident
     (the digest challenge round trip included);
   - answer → first audio at the operator, and at the device (call set-up);
   - one-way audio each way: the device's tone has a loud click every 2 s; baresip writes what
     it sends and what it hears to WAV files as it goes (its sndfile module), which this process
     reads every 2 ms. Device → operator: from the click appearing in the device's sent file to
     the operator's peer decoding it; operator → device: from the operator's peer sending a click
     to it appearing in the device's received file. Both ends are on this machine, timed by
     one clock; it includes the relay's G.711 ↔ Opus transcoding, the hub and the receive
     buffers, and leaves out what sound devices add.
3. **Calls at once**: `--simultaneous` devices press together (a second baresip process
   without file recording), the operator answers them all, one after another; a call carries
   audio when its operator has heard 400 ms of the device (each is given until 20 s after the
   last answer; one that has none by then is described: the operator's peer, the server's
   record of the call and the device's call events); answer -> audio is timed for each. Then
   the CPU of the server, Kamailio and rtpengine over a window with all calls up, less the
   same window idle, is divided by the number of calls (recording on, as in service).

Needs Debian's kamailio, rtpengine-daemon and baresip-core (scripts/test installs them).

    python bench/sip_calls.py                   # 100 devices, 20 calls, 50 at once, 3 rounds
    python bench/sip_calls.py --devices 10 --calls 3 --simultaneous 5 --rounds 1   # smoke

All devices reach the server from 127.0.0.1, so the SIP server's per-address flood limit is
raised for the run (`HELPPOINT_SIP_RATE`); in the field each device has its own address.

Not a test: nothing here passes or fails on timing. Goals (issue 19, docs/performance.md):
call set-up ≤ 1 s, one-way audio ≤ 150 ms (ITU-T G.114).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from aiortc import MediaStreamTrack  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from helppoint.calls.opus import OpusDecodeTrack, tap_audio, transceiver_of  # noqa: E402
from helppoint.domain.model import Role  # noqa: E402
from helppoint.services.operators import add_operator  # noqa: E402
from helppoint.services.seed import seed_demo  # noqa: E402
from helppoint.services.sip_units import add_sip_unit  # noqa: E402
from helppoint.sim.ports import free_port  # noqa: E402
from helppoint.sim.sip_intercom import BaresipIntercom  # noqa: E402
from helppoint.store.database import make_engine, make_session_factory  # noqa: E402
from helppoint.store.migrate import upgrade  # noqa: E402
from helppoint.store.uow import UnitOfWork  # noqa: E402
from tests.calls.operator_peer import OperatorPeer  # noqa: E402
from tests.conftest import async_http_client  # noqa: E402
from tests.faults.server_process import ServerProcess  # noqa: E402

PASSWORD = "benchmark-password"
SIP_PASSWORD = "benchmark-sip-password"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: What the devices speak, and the sample rate and channels of baresip's files for it (its
#: source file must match the encoder; what it heard is written as decoded).
CODECS = {"PCMU": ("PCMU", 8000, 1), "opus": ("opus/48000/2", 48000, 2)}
CLICK_EVERY = 2.0
LOUD = 0.5  # RMS (of full scale) of a click; the tone under it is at 0.035


def unit_id(n: int) -> str:
    return f"SIP-{n:03d}"


@dataclass
class Round:
    devices: int
    registered_s: float = float("nan")
    supervision_cpu: dict[str, float] = field(default_factory=dict)
    down_after_s: list[float] = field(default_factory=list)
    down_expected_s: float = float("nan")
    console_ms: list[float] = field(default_factory=list)
    setup_operator_ms: list[float] = field(default_factory=list)
    setup_device_ms: list[float] = field(default_factory=list)
    device_to_operator_ms: list[float] = field(default_factory=list)
    operator_to_device_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    simultaneous: int = 0
    simultaneous_up: int = 0
    simultaneous_setup_ms: list[float] = field(default_factory=list)
    idle_cpu: dict[str, float] = field(default_factory=dict)
    calls_cpu: dict[str, float] = field(default_factory=dict)


# ---------- CPU of the server and the SIP servers it started ----------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return ""


def cpu_by_part(root: int) -> dict[str, float]:
    """CPU seconds so far of the server (`root`) and its kamailio and rtpengine processes."""
    stats = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        if stat is not None:
            children.setdefault(stat[0], []).append(pid)
    parts = {"server": 0.0, "kamailio": 0.0, "rtpengine": 0.0}
    todo = [root]
    while todo:
        pid = todo.pop()
        stat = stats.get(pid)
        if stat is not None:
            name = _name(pid)
            part = (
                "kamailio" if "kamailio" in name else "rtpengine" if "rtpengine" in name else None
            )
            parts[part or "server"] += stat[1]
        todo.extend(children.get(pid, []))
    return parts


async def cpu_percent(root: int, window: float) -> dict[str, float]:
    """% of one core used by each part over `window` seconds."""
    before = cpu_by_part(root)
    started = time.monotonic()
    await asyncio.sleep(window)
    after = cpu_by_part(root)
    elapsed = time.monotonic() - started
    return {part: 100 * (after[part] - before[part]) / elapsed for part in before}


# ---------- the devices' WAV files, read as baresip writes them ----------


class WavWatch:
    """Reads a WAV file as it is written and notes when each loud 20 ms block appears."""

    def __init__(self, path: Path, rate: int, channels: int) -> None:
        self.path = path
        #: Bytes of 20 ms of 16-bit samples.
        self.block = rate // 50 * channels * 2
        self.channels = channels
        self.loud_at: list[float] = []
        self.first_sound_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        offset = None
        pending = b""
        was_loud = False
        with self.path.open("rb") as file:
            while not self._stop.is_set():
                if offset is None:
                    head = file.read(4096)
                    data = head.find(b"data")
                    if data < 0:
                        file.seek(0)
                        time.sleep(0.002)
                        continue
                    offset = data + 8
                    pending = head[offset:]
                else:
                    pending += file.read()
                now = time.monotonic()
                size = self.block
                whole = len(pending) // size * size
                for start in range(0, whole, size):
                    samples = np.frombuffer(pending[start : start + size], "<i2")
                    block = samples[:: self.channels] / 32768.0
                    level = float(np.sqrt(np.mean(block**2)))
                    if level > 0.01 and self.first_sound_at is None:
                        self.first_sound_at = now
                    loud = level > LOUD
                    if loud and not was_loud:
                        self.loud_at.append(now)
                    was_loud = loud
                pending = pending[whole:]
                time.sleep(0.002)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def click_tone(path: Path, rate: int, channels: int, seconds: float = 120.0) -> Path:
    """A quiet 440 Hz tone with a loud 100 ms click every 2 s (from 1 s)."""
    t = np.arange(int(rate * seconds)) / rate
    level = np.full(t.shape, 0.05)
    for start in np.arange(1.0, seconds, CLICK_EVERY):
        level[int(start * rate) : int((start + 0.1) * rate)] = 0.9
    samples = np.repeat((level * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2"), channels)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def baresip(
    home: Path, first: int, count: int, port: int, codec: str, record: bool = True
) -> BaresipIntercom:
    """One baresip process with the accounts of units first … first+count-1."""
    name, rate, channels = CODECS[codec]
    device = BaresipIntercom(home, unit_id(first), SIP_PASSWORD, ("127.0.0.1", port), codecs=name)
    click_tone(home / "tone.wav", rate, channels)
    (home / "accounts").write_text(
        "".join(
            f"<sip:{unit_id(n)}@127.0.0.1:{port}>;auth_pass={SIP_PASSWORD};regint=600;"
            f"audio_codecs={name};answermode=manual\n"
            for n in range(first, first + count)
        )
    )
    config = (home / "config").read_text()
    # baresip holds 5-10 frames (100-200 ms) before decoding by default; a help point's own
    # receive buffer is its maker's choice, so the device holds as little as it can here
    # (one frame) and the figure is helppoint's path rather than baresip's buffer.
    config += "jitter_buffer_delay 1-5\n"
    if not record:
        config = config.replace("module sndfile.so\n", "")
    (home / "config").write_text(config)
    return device


def select(device: BaresipIntercom, n: int, port: int) -> None:
    response = device.command("uafind", f"sip:{unit_id(n)}@127.0.0.1:{port}")
    if not response.get("ok", True):
        raise RuntimeError(f"baresip has no account {unit_id(n)}: {response}")


# ---------- one round ----------


class Console:
    """A console feed (the browser's WebSocket): when each unit's incident first appears."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready = asyncio.Event()

        async def run() -> None:
            async with connect(
                self.url, additional_headers={"Cookie": f"helppoint_session={self.token}"}
            ) as feed:
                async for raw in feed:
                    message = json.loads(raw)
                    if message["type"] == "snapshot":
                        ready.set()
                    elif message["type"] == "incident":
                        unit = message["incident"]["unit_id"]
                        self.seen.setdefault(unit, time.monotonic())

        self._task = asyncio.create_task(run())
        await asyncio.wait_for(ready.wait(), 20)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def until(predicate: Any, timeout: float, what: str) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def health(http: Any) -> dict[str, str]:
    response = await http.get("/api/health/units")
    response.raise_for_status()
    return {row["id"]: row["status"] for row in response.json()}


class HoldFreeOperator(OperatorPeer):
    """The operator's stand-in with the unit's hold-free receiver (calls/opus.py) instead of
    aiortc's, which holds audio 80 ms: what is left is helppoint's path and the device."""

    def _track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            tap = tap_audio(transceiver_of(self.pc, track))
            track = OpusDecodeTrack(tap.subscribe())
        super()._track(track)


async def one_call(
    http: Any,
    console: Console,
    device: BaresipIntercom,
    n: int,
    port: int,
    figures: Round,
    operator_buffer: str = "aiortc",
    codec: str = "PCMU",
) -> None:
    unit = unit_id(n)
    select(device, n, port)
    known = set(device.recordings.glob("dump-*.wav"))
    started = time.monotonic()
    device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
    await until(lambda: unit in console.seen, 20, f"{unit}'s incident on the console")
    figures.console_ms.append(1000 * (console.seen[unit] - started))
    queue = (await http.get("/api/incidents/queue")).json()
    incident_id = next(i["id"] for i in queue if i["unit_id"] == unit)
    (await http.post(f"/api/incidents/{incident_id}/acknowledge")).raise_for_status()
    operator = HoldFreeOperator() if operator_buffer == "none" else OperatorPeer()
    watches: list[WavWatch] = []
    try:
        offer = await operator.offer()
        answered = time.monotonic()
        response = await http.post(
            f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": offer}
        )
        response.raise_for_status()
        await operator.accept(response.json())
        files = await until(
            lambda: {p for p in device.recordings.glob("dump-*.wav")} - known, 10, "its files"
        )
        sent = next(p for p in files if p.name.endswith("-enc.wav"))
        await until(lambda: len(set(device.recordings.glob("dump-*.wav")) - known) >= 2, 5, "")
        heard = next(
            p for p in set(device.recordings.glob("dump-*.wav")) - known if "-dec" in p.name
        )
        _, rate, channels = CODECS[codec]
        watches = [WavWatch(sent, rate, channels), WavWatch(heard, rate, channels)]
        on_device_sent, on_device_heard = watches
        await until(lambda: operator.audio and operator.audio.stats.first_loud_at, 10, "audio")
        assert operator.audio is not None
        figures.setup_operator_ms.append(1000 * (operator.audio.stats.first_loud_at - answered))  # type: ignore[operator]
        await until(lambda: on_device_heard.first_sound_at, 10, "audio at the device")
        figures.setup_device_ms.append(1000 * (on_device_heard.first_sound_at - answered))  # type: ignore[operator]
        # Device -> operator: the clicks of its tone (every 2 s). G.711 transcoded to Opus
        # arrives a little softer (a click peaks at ~0.45 of full scale): the operator's meter
        # takes 0.25 as a click, far above the tone under it.
        meter = operator.audio
        meter.MARKER = 0.25
        for _ in range(2):
            count = len(on_device_sent.loud_at)
            await until(lambda: len(on_device_sent.loud_at) > count, 5, "a click sent")  # noqa: B023
            sent_at = on_device_sent.loud_at[-1]
            await until(
                lambda: any(t > sent_at - 0.05 for t in meter.stats.markers),  # noqa: B023
                5,
                "the click heard",
            )
            heard_at = min(t for t in meter.stats.markers if t > sent_at - 0.05)
            figures.device_to_operator_ms.append(1000 * (heard_at - sent_at))
        # Operator -> device: a click between two of the device's (its received file is
        # quiet then: the operator's voice is at 0.3 of full scale, under the click threshold).
        for _ in range(2):
            await asyncio.sleep(0.6)
            count = len(on_device_heard.loud_at)
            assert operator.voice is not None
            operator.voice.marker()
            await until(lambda: len(on_device_heard.loud_at) > count, 5, "the click at the device")  # noqa: B023
            await until(lambda: operator.voice.marker_sent_at, 1, "")
            figures.operator_to_device_ms.append(
                1000 * (on_device_heard.loud_at[count] - operator.voice.marker_sent_at)  # type: ignore[operator]
            )
        (await http.post(f"/api/incidents/{incident_id}/call/hangup")).raise_for_status()
    except (TimeoutError, AssertionError, OSError, StopIteration) as exc:
        detail = ""
        if operator.audio is not None:
            detail = (
                f" (operator: peak {operator.audio.stats.peak_level:.2f}, "
                f"{len(operator.audio.stats.markers)} clicks; device: "
                f"{[len(w.loud_at) for w in watches]} clicks sent/heard)"
            )
        figures.failures.append(f"{unit}: {exc!r}{detail}")
        logging.warning("call of %s failed: %r", unit, exc)
        await http.post(f"/api/incidents/{incident_id}/call/hangup")
    finally:
        for watch in watches:
            watch.stop()
        await operator.close()


async def simultaneous_calls(
    http: Any,
    console: Console,
    server: ServerProcess,
    home: Path,
    port: int,
    count: int,
    first: int,
    window: float,
    figures: Round,
    codec: str,
) -> None:
    assert server.process is not None
    device = baresip(home, first, count, port, codec, record=False).start()
    operators: list[OperatorPeer] = []
    try:
        # Registered first (the health board shows them up).
        await until_up(http, {unit_id(n) for n in range(first, first + count)}, 60)
        figures.idle_cpu = await with_others(cpu_percent(server.process.pid, window), device)
        # The presses come 0.2 s apart (a wave of presses, not one instant), and each is
        # answered as it comes.
        units = {unit_id(n) for n in range(first, first + count)}
        incidents: dict[int, str] = {}
        for n in range(first, first + count):
            select(device, n, port)
            device.command("dial", f"sip:helppoint@127.0.0.1:{port}")
            await asyncio.sleep(0.2)
        try:
            await until(lambda: units <= set(console.seen), 60, "every press on the console")
        except TimeoutError:
            figures.failures.append(f"{len(units - set(console.seen))} presses not on the console")
        queue = (await http.get("/api/incidents/queue")).json()
        incidents = {i["id"]: i["unit_id"] for i in queue if i["unit_id"] in units}
        answered: dict[int, tuple[OperatorPeer, float]] = {}
        for incident_id in incidents:
            (await http.post(f"/api/incidents/{incident_id}/acknowledge")).raise_for_status()
            operator = OperatorPeer()
            operators.append(operator)
            offer = await operator.offer()
            started = time.monotonic()
            response = await http.post(
                f"/api/incidents/{incident_id}/call", json={"type": "offer", "sdp": offer}
            )
            if response.status_code != 200:
                figures.failures.append(f"answer {incident_id}: {response.text[:200]}")
                continue
            await operator.accept(response.json())
            answered[incident_id] = (operator, started)

        # Each answered call is given until 20 s after the last answer to carry audio (400 ms
        # of it): what has none by then has none, and is described (not a matter of timing).
        def with_audio() -> list[int]:
            return [
                i
                for i, (o, _) in answered.items()
                if o.audio is not None and o.audio.stats.loud_frames > 20
            ]

        with contextlib.suppress(TimeoutError):
            await until(lambda: len(with_audio()) == len(answered), 20, "")
        figures.simultaneous = count
        figures.simultaneous_up = len(with_audio())
        for operator, started in answered.values():
            stats = operator.audio.stats if operator.audio is not None else None
            if stats is not None and stats.first_loud_at is not None:
                figures.simultaneous_setup_ms.append(1000 * (stats.first_loud_at - started))
        for incident_id in sorted(set(answered) - set(with_audio())):
            figures.failures.append(
                await no_audio(http, device, incidents[incident_id], incident_id, answered)
            )
        figures.calls_cpu = await with_others(cpu_percent(server.process.pid, window), device)
        for incident_id in incidents:
            await http.post(f"/api/incidents/{incident_id}/call/hangup")
    finally:
        for operator in operators:
            await operator.close()
        device.stop()


async def no_audio(
    http: Any,
    device: BaresipIntercom,
    unit: str,
    incident_id: int,
    answered: dict[int, tuple[OperatorPeer, float]],
) -> str:
    """Why a call at once carried no audio, as far as each side can tell."""
    operator = answered[incident_id][0]
    stats = operator.audio.stats if operator.audio is not None else None
    heard = (
        f"{stats.frames} frames, {stats.loud_frames} loud, peak {stats.peak_level:.3f}"
        if stats is not None
        else "no audio track"
    )
    info = (await http.get(f"/api/incidents/{incident_id}/call")).json()
    calls = [
        f"{c.get('end_reason') or 'up'}: {c.get('detail') or ''}".strip()
        for c in info.get("calls", [])
        if c.get("kind") == "call"
    ]
    seen = [
        f"{e.get('type')} {e.get('param') or ''}".strip()
        for e in device.events
        if f"sip:{unit}@" in str(e.get("accountaor", "")) and e.get("class") == "call"
    ]
    return (
        f"{unit} (incident {incident_id}) no audio: operator {operator.pc.connectionState}/"
        f"ICE {operator.pc.iceConnectionState}, {heard}; server: {calls}; device: {seen}"
    )


async def with_others(measured: Any, device: BaresipIntercom) -> dict[str, float]:
    """What `measured` (cpu_percent) says, with the % of a core this process (the operators'
    peers) and the devices' baresip used over the same window: the rest of the machine."""
    assert device.process is not None
    pid = device.process.pid
    own, theirs, started = os.times(), _stat(pid), time.monotonic()
    parts: dict[str, float] = await measured
    elapsed = time.monotonic() - started
    after, theirs_after = os.times(), _stat(pid)
    parts["bench (operators)"] = 100 * (after.user + after.system - own.user - own.system) / elapsed
    if theirs is not None and theirs_after is not None:
        parts["devices (baresip)"] = 100 * (theirs_after[1] - theirs[1]) / elapsed
    return parts


async def until_up(http: Any, units: set[str], timeout: float) -> float:  # noqa: ASYNC109
    started = time.monotonic()
    while True:
        status = await health(http)
        if all(status.get(u) == "up" for u in units):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            down = sorted(u for u in units if status.get(u) != "up")
            raise TimeoutError(f"not up within {timeout} s: {down[:5]} … ({len(down)})")
        await asyncio.sleep(0.1)


async def run_round(args: argparse.Namespace, workdir: Path) -> Round:
    figures = Round(args.devices)
    url = f"sqlite:///{workdir / 'bench.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    seed_demo(UnitOfWork(factory))
    total = args.devices + args.simultaneous
    with UnitOfWork(factory) as uow:
        for n in range(1, total + 1):
            add_sip_unit(
                uow,
                unit_id(n),
                f"Bench intercom {n}",
                "racecourse",
                52.2364,
                -0.9025,
                realm="helppoint",
                keepalive=args.keepalive,
                password=SIP_PASSWORD,
            )
        uow.commit()
    add_operator(UnitOfWork(factory), "bench", PASSWORD, Role.SUPERVISOR)
    engine.dispose()
    port, sip_port = free_port(), free_port()
    os.environ.update(
        HELPPOINT_SIP_PORT=str(sip_port),
        HELPPOINT_SIP_KEEPALIVE=str(args.keepalive),
        HELPPOINT_SIP_RATE="10000",
        HELPPOINT_RECORDINGS_DIR=str(workdir / "recordings"),
        HELPPOINT_DATA_DIR=str(workdir),
    )
    server = ServerProcess(url, port, workdir / "server.log")
    server.start()
    assert server.process is not None
    http = async_http_client(f"http://127.0.0.1:{port}", timeout=30)
    console: Console | None = None
    device: BaresipIntercom | None = None
    try:
        (
            await http.post("/api/login", json={"username": "bench", "password": PASSWORD})
        ).raise_for_status()
        console = Console(f"ws://127.0.0.1:{port}/console/ws", http.cookies["helppoint_session"])
        await console.start()
        # 1. registered and supervised
        device = baresip(workdir / "devices", 1, args.devices, sip_port, args.device_codec)
        started = time.monotonic()
        device.start()
        units = {unit_id(n) for n in range(1, args.devices + 1)}
        await until_up(http, units, 120)
        figures.registered_s = time.monotonic() - started
        figures.supervision_cpu = await cpu_percent(server.process.pid, args.window)
        # 2. presses and calls, one at a time
        for n in range(1, min(args.calls, args.devices) + 1):
            await one_call(
                http, console, device, n, sip_port, figures, args.operator_buffer, args.device_codec
            )
            print(f"\rcall {n}/{args.calls}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        # Supervision: freeze every device; when is each reported down?
        assert device.process is not None
        grace = 8  # the default grace of a unit
        figures.down_expected_s = args.keepalive + grace
        device.pause()
        frozen = time.monotonic()
        down_at: dict[str, float] = {}
        while (
            len(down_at) < len(units)
            and time.monotonic() - frozen < 3 * (args.keepalive + grace) + 30
        ):
            status = await health(http)
            for unit in units:
                if status.get(unit) == "down" and unit not in down_at:
                    down_at[unit] = time.monotonic() - frozen
            await asyncio.sleep(0.1)
        figures.down_after_s = sorted(down_at.values())
        if len(down_at) < len(units):
            figures.failures.append(f"{len(units) - len(down_at)} devices never reported down")
        device.stop()
        device = None
        # 3. calls at once
        if args.simultaneous:
            await simultaneous_calls(
                http,
                console,
                server,
                workdir / "simultaneous",
                sip_port,
                args.simultaneous,
                args.devices + 1,
                args.window,
                figures,
                args.device_codec,
            )
    finally:
        if device is not None:
            device.stop()
        if console is not None:
            await console.stop()
        await http.aclose()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(20)
        except Exception:
            server.process.kill()
    return figures


# ---------- the report ----------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def spread(values: list[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "n/a"
    return f"{statistics.median(values):8.1f}  ({min(values):.1f}-{max(values):.1f})"


def report(rounds: list[Round]) -> None:
    print(f"\n{len(rounds)} rounds; per measure: the median over rounds (min-max over rounds)")
    print("(p99 is nearest-rank: with fewer than 100 samples it is the slowest)\n")
    rows: list[tuple[str, Any]] = [
        ("INVITE -> incident on console p50 ms", lambda r: percentile(r.console_ms, 50)),
        ("INVITE -> incident on console p99 ms", lambda r: percentile(r.console_ms, 99)),
        ("answer -> audio at operator p50 ms", lambda r: percentile(r.setup_operator_ms, 50)),
        ("answer -> audio at operator p99 ms", lambda r: percentile(r.setup_operator_ms, 99)),
        ("answer -> audio at device p50 ms", lambda r: percentile(r.setup_device_ms, 50)),
        ("answer -> audio at device p99 ms", lambda r: percentile(r.setup_device_ms, 99)),
        ("one-way device -> operator p50 ms", lambda r: percentile(r.device_to_operator_ms, 50)),
        ("one-way device -> operator p99 ms", lambda r: percentile(r.device_to_operator_ms, 99)),
        ("one-way operator -> device p50 ms", lambda r: percentile(r.operator_to_device_ms, 50)),
        ("one-way operator -> device p99 ms", lambda r: percentile(r.operator_to_device_ms, 99)),
        ("devices start -> all up s", lambda r: r.registered_s),
        ("supervision: server % core", lambda r: r.supervision_cpu.get("server", float("nan"))),
        ("supervision: kamailio % core", lambda r: r.supervision_cpu.get("kamailio", float("nan"))),
        ("frozen -> down p50 s", lambda r: percentile(r.down_after_s, 50)),
        ("frozen -> down max s", lambda r: max(r.down_after_s, default=float("nan"))),
    ]
    rows.append(("calls at once carrying audio", lambda r: float(r.simultaneous_up)))
    rows.append(
        ("calls at once: answer -> audio p50 ms", lambda r: percentile(r.simultaneous_setup_ms, 50))
    )
    rows.append(
        ("calls at once: answer -> audio p99 ms", lambda r: percentile(r.simultaneous_setup_ms, 99))
    )
    for part in ("server", "kamailio", "rtpengine"):
        rows.append(
            (
                f"per call at once: {part} % core",
                lambda r, part=part: (
                    (r.calls_cpu.get(part, 0) - r.idle_cpu.get(part, 0)) / r.simultaneous_up
                    if r.simultaneous_up
                    else float("nan")
                ),
            )
        )
    for name, measure in rows:
        print(f"{name:40} {spread([measure(r) for r in rounds])}")
    for index, r in enumerate(rounds, 1):
        print(
            f"round {index}: {r.devices} devices, {len(r.console_ms)} presses, "
            f"{len(r.setup_operator_ms)} calls, {r.simultaneous_up}/{r.simultaneous} calls at "
            f"once carrying audio, down expected after {r.down_expected_s:.0f} s + up to a "
            f"keepalive; failures: {r.failures or 'none'}"
        )
        for name, cpu in (
            ("idle", r.idle_cpu),
            ("calls", r.calls_cpu),
            ("supervision", r.supervision_cpu),
        ):
            shown = ", ".join(f"{part} {value:.1f}" for part, value in cpu.items())
            print(f"  % of a core, {name}: {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100, help="SIP devices registered (100)")
    parser.add_argument("--calls", type=int, default=20, help="presses answered one by one (20)")
    parser.add_argument("--simultaneous", type=int, default=50, help="calls at once (50)")
    parser.add_argument("--keepalive", type=int, default=10, help="OPTIONS period, s (10)")
    parser.add_argument("--window", type=float, default=10.0, help="CPU window, s (10)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh servers (3)")
    parser.add_argument(
        "--operator-buffer",
        choices=("aiortc", "none"),
        default="aiortc",
        help="receive buffer of the operator's stand-in: aiortc's (80 ms hold, default) or none "
        "(the unit's hold-free receiver), as in bench/call_latency.py",
    )
    parser.add_argument(
        "--device-codec",
        choices=sorted(CODECS),
        default="PCMU",
        help="what the devices speak: PCMU (default, as most intercoms; rtpengine transcodes "
        "it to and from Opus) or opus (passed through)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep each round's files and logs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"load before: {os.getloadavg()}", file=sys.stderr)
    rounds = []
    for index in range(args.rounds):
        if args.keep:
            tmp = tempfile.mkdtemp(prefix="helppoint-sip-bench-")
            print(f"round {index + 1}: logs kept in {tmp}", file=sys.stderr)
            rounds.append(asyncio.run(run_round(args, Path(tmp))))
        else:
            with tempfile.TemporaryDirectory(prefix="helppoint-sip-bench-") as tmp:
                rounds.append(asyncio.run(run_round(args, Path(tmp))))
        print(f"round {index + 1} done; load {os.getloadavg()}", file=sys.stderr)
    report(rounds)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rounds], indent=1))


if __name__ == "__main__":
    main()
