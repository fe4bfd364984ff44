"""Running the SIP server (Kamailio) and the media relay (rtpengine) beside helppoint.

helppoint starts both as child processes with a configuration made for this run (ports on
loopback for their control, a fresh working directory), reads their logs into its own, and
stops them when it stops. A child that dies is reported and started again by the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from helppoint.sip.kamailio_cfg import EVENT_MARKER, KamailioPorts, render
from helppoint.tasks import cancelled_here

log = logging.getLogger(__name__)

#: How long a child program has to come up (seconds).
START_TIMEOUT = 15.0


class SipServerError(Exception):
    """The SIP server or the media relay could not be started or asked."""


#: How many times the SIP server and media relay are started on fresh ports when one of
#: their loopback ports was taken between being picked and being bound (by anything else on
#: the machine).
PORT_ATTEMPTS = 3

#: What Kamailio and rtpengine say when a port they were given is taken.
_PORT_TAKEN = "Address already in use"


class SipPortTaken(SipServerError):
    """The SIP server could not listen on its SIP port (`sip_port`): another program has it."""


class _PortTaken(SipServerError):
    """A child program stopped at start because one of its ports was taken."""


def free_ports(count: int, avoid: Collection[int] = ()) -> list[int]:
    """`count` different ports on 127.0.0.1 that nothing uses now (UDP and TCP), none in `avoid`.

    Each is held until all are picked, so two picks never give the same port (a port only
    noted is free to be picked again), nor one that is noted in `avoid` but not yet bound.
    Another program may still take one before its child binds it: see SipServers.start.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(first)
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            if port in avoid:
                continue  # (kept held, so not picked again)
            second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(second)
            try:
                second.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def port_in_use(host: str, port: int) -> bool:
    """Whether another program has `port` on `host` (UDP or TCP) now."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def media_address(towards: str) -> str:
    """This machine's address on the way to `towards` (not loopback where there is another).

    WebRTC peers in the media hub (aiortc) leave loopback addresses out, so the media relay
    must offer them an address of a real interface.
    """
    target = towards if towards not in ("", "0.0.0.0", "127.0.0.1", "::", "::1") else "192.0.2.1"
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((target, 9))
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


#: util-linux's setpriv (Debian: essential) starts a program with a parent-death signal.
SETPRIV = "/usr/bin/setpriv"


def dying_with_parent(argv: list[str]) -> list[str]:
    """`argv` started so that the program gets SIGTERM if helppoint dies without stopping it
    (Linux's parent-death signal, set by setpriv before it becomes the program; the same
    process, so its pid is the program's). Set by setpriv, not by a `preexec_fn`: Python code
    run in a child forked from a process with threads can deadlock before the program starts
    (a lock another thread held at the fork), and the start then waits for ever."""
    if not os.path.exists(SETPRIV):
        return argv
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv]


class ManagedProcess:
    """A child program whose standard output and error are read line by line into our log.

    Started by `subprocess.Popen`, which execs the program from a vfork'd child without
    running any Python there, not by the event loop's subprocess support: uvloop forks and runs
    Python's after-fork handling in the child, which frees what the process's other threads
    held (their thread-local objects). One of those was a PyAV video reformatter left by a
    video call's thread; freeing it waited, in the child, for FFmpeg's worker threads, which a
    forked child does not have, and uvloop waits for the child's exec holding the GIL: the whole
    server froze (tests/sip/test_managed_process.py).
    """

    def __init__(self, name: str, argv: list[str], on_line: Callable[[str], None]) -> None:
        self.name = name
        self.argv = argv
        self._on_line = on_line
        self.process: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.Task[None] | None = None
        #: It said one of its ports was taken.
        self.port_taken = False

    async def start(self) -> None:
        if not os.path.exists(self.argv[0]):  # noqa: ASYNC240  (one stat, at start)
            raise SipServerError(
                f"{self.argv[0]} is not installed: SIP help points need the Debian packages "
                "kamailio and rtpengine-daemon (docs/sip.md)"
            )
        # (A vfork and an exec: no longer than the loop's own subprocess start.)
        self.process = subprocess.Popen(  # noqa: ASYNC220
            dying_with_parent(self.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        loop = asyncio.get_running_loop()
        lines = asyncio.StreamReader(loop=loop)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(lines, loop=loop), self.process.stdout
        )
        self._reader = loop.create_task(self._read(lines), name=self.name)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait(self) -> int:
        """Its exit status, once it has ended (waited for on a thread)."""
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait)

    async def _read(self, lines: asyncio.StreamReader) -> None:
        while line := await lines.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if _PORT_TAKEN in text:
                self.port_taken = True
            if text:
                try:
                    self._on_line(text)
                except Exception:
                    log.exception("%s: could not handle a log line", self.name)

    async def output_read(self) -> None:
        """Wait (2 s at most) until what it wrote before it stopped has been read."""
        await self._reader_done(keep_reading=True)

    async def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(5):
                    await self.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await self.wait()
        await self._reader_done(keep_reading=False)

    async def _reader_done(self, keep_reading: bool) -> None:
        """Wait 2 s at most for the output reader to end; past that, it goes on reading if
        `keep_reading`, else it is cancelled. A cancel of the caller is not swallowed."""
        if self._reader is None:
            return
        try:
            async with asyncio.timeout(2):
                await (asyncio.shield(self._reader) if keep_reading else self._reader)
        except asyncio.CancelledError:
            if cancelled_here():
                raise
        except Exception:
            pass  # (not all read within 2 s, or the reader ended with an error)


def _kamailio_log(line: str, on_event: Callable[[dict[str, Any]], None]) -> None:
    marker = line.find(EVENT_MARKER)
    if marker >= 0:
        try:
            event = json.loads(line[marker + len(EVENT_MARKER) :])
        except ValueError:
            log.warning("kamailio: unreadable event line: %s", line[:300])
            return
        if isinstance(event, dict):
            on_event(event)
        return
    level = logging.DEBUG
    if "exited normally" in line or "receive_msg()" in line:
        # Its processes stopping with it; a message it could not parse (told as "malformed",
        # once a minute per address, rather than a line per message of a flood).
        level = logging.DEBUG
    elif " ERROR: " in line or " CRITICAL: " in line or " ALERT: " in line:
        level = logging.ERROR
    elif " WARNING: " in line:
        level = logging.WARNING
    log.log(level, "kamailio: %s", line[:500])


def _rtpengine_log(line: str) -> None:
    level = logging.DEBUG
    if "no crypto suite was negotiated" in line:
        # Media from the device before the hub's DTLS handshake is done: dropped, as it
        # should be, at the start of every call.
        level = logging.DEBUG
    elif "ERR:" in line or "CRIT:" in line:
        level = logging.ERROR
    elif "WARNING:" in line:
        level = logging.WARNING
    log.log(level, "rtpengine: %s", line[:500])


@dataclass
class SipServerConfig:
    """What the SIP server and media relay are started with."""

    kamailio: str
    rtpengine: str
    host: str
    port: int
    realm: str
    keepalive: int
    rate: int
    media_address: str
    rtp_ports: tuple[int, int]
    #: Port of helppoint's own user agent on 127.0.0.1 (sip/agent.py).
    agent_port: int
    #: Seconds a call may ring unanswered (`sip_ring_seconds`).
    ring_seconds: int = 600
    #: rtpengine's threads' real-time priority (`sip_media_priority`; 0: ordinary).
    media_priority: int = 10


class SipServers:
    """Kamailio and rtpengine for one run of helppoint, and their control channels."""

    def __init__(self, config: SipServerConfig, on_event: Callable[[dict[str, Any]], None]):
        self.config = config
        self._on_event = on_event
        self.workdir = Path(tempfile.mkdtemp(prefix="helppoint-sip-"))
        rpc_port, internal_port, rtpengine_port = self._loopback_ports()
        self.ports = KamailioPorts(
            host=config.host,
            port=config.port,
            rpc_port=rpc_port,
            internal_port=internal_port,
            agent_port=config.agent_port,
            rtpengine_port=rtpengine_port,
            realm=config.realm,
            keepalive=config.keepalive,
            rate=config.rate,
            ring_seconds=config.ring_seconds,
        )
        self.kamailio: ManagedProcess | None = None
        self.rtpengine: ManagedProcess | None = None
        self._http = self._rpc_client()
        self._ng: RtpengineControl | None = None

    def _loopback_ports(self) -> list[int]:
        # Not the SIP port nor the agent's: the SIP port is not bound until Kamailio starts.
        return free_ports(3, avoid={self.config.port, self.config.agent_port})

    def _rpc_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.ports.rpc_port}", timeout=5.0)

    async def start(self) -> None:
        """Start rtpengine, then Kamailio; return once both answer their control channel.

        Their loopback ports are picked free here and bound by them a moment later; anything
        else on the machine may take one in between. Then they are started again on fresh
        ports (up to PORT_ATTEMPTS times). The SIP port is the setting's: if another program
        has it, SipPortTaken says so.
        """
        try:
            for attempt in range(1, PORT_ATTEMPTS + 1):
                try:
                    await self._start_rtpengine()
                    await self._start_kamailio()
                    return
                except _PortTaken as exc:
                    await self._stop_children()
                    if port_in_use(self.config.host, self.config.port):
                        raise SipPortTaken(
                            f"the SIP port {self.config.host}:{self.config.port} (sip_port) is "
                            "in use by another program"
                        ) from exc
                    if attempt == PORT_ATTEMPTS:
                        raise
                    log.warning("%s; starting the SIP server again on fresh ports", exc)
                    await self._http.aclose()
                    rpc_port, internal_port, rtpengine_port = self._loopback_ports()
                    self.ports = dataclasses.replace(
                        self.ports,
                        rpc_port=rpc_port,
                        internal_port=internal_port,
                        rtpengine_port=rtpengine_port,
                    )
                    self._http = self._rpc_client()
        except BaseException:
            await self.stop()
            raise

    async def _start_rtpengine(self) -> None:
        config = self.config
        self.rtpengine = ManagedProcess(
            "rtpengine",
            [
                config.rtpengine,
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "--log-level=5",
                "--table=-1",
                "--num-threads=2",
                f"--interface={config.media_address}",
                f"--listen-ng=127.0.0.1:{self.ports.rtpengine_port}",
                f"--port-min={config.rtp_ports[0]}",
                f"--port-max={config.rtp_ports[1]}",
                f"--pidfile={self.workdir / 'rtpengine.pid'}",
                "--delete-delay=0",
                "--timeout=60",
                *(
                    ["--scheduling=rr", f"--priority={config.media_priority}"]
                    if config.media_priority
                    else []
                ),
            ],
            _rtpengine_log,
        )
        await self.rtpengine.start()
        self._ng = RtpengineControl(self.ports.rtpengine_port)
        await self._until_up(self.rtpengine, self._ng.ping)

    async def _start_kamailio(self) -> None:
        cfg = self.workdir / "kamailio.cfg"
        cfg.write_text(render(self.ports))
        self.kamailio = ManagedProcess(
            "kamailio",
            [
                self.config.kamailio,
                "-f",
                str(cfg),
                "-DD",
                "-E",
                "-m",
                "64",
                "-M",
                "8",
                "-w",
                str(self.workdir),
                "-Y",
                str(self.workdir),
                "-P",
                str(self.workdir / "kamailio.pid"),
            ],
            lambda line: _kamailio_log(line, self._on_event),
        )
        await self.kamailio.start()
        await self._until_up(self.kamailio, self._rpc_ping)

    async def _until_up(self, process: ManagedProcess, ping: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while True:
            if not process.running:
                await process.output_read()  # its last words may still be in the pipe
                if process.port_taken:
                    raise _PortTaken(f"{process.name} stopped at start: a port of its was taken")
                raise SipServerError(
                    f"{process.name} stopped at start (exit status "
                    f"{process.process.returncode if process.process else '?'}); its log says why"
                )
            try:
                await ping()
                return
            except (SipServerError, httpx.HTTPError, OSError):
                if loop.time() > deadline:
                    raise SipServerError(f"{process.name} did not come up") from None
            await asyncio.sleep(0.1)

    async def _rpc_ping(self) -> None:
        await self.rpc("core.version")

    async def rpc(self, method: str, *params: Any) -> Any:
        """Call one of Kamailio's RPC commands; its result."""
        body = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        response = await self._http.post("/RPC", json=body)
        if response.status_code != 200:
            raise SipServerError(f"kamailio {method}: HTTP {response.status_code}")
        answer = response.json()
        if "error" in answer:
            raise SipServerError(f"kamailio {method}: {answer['error']}")
        return answer.get("result")

    @property
    def rtpengine_control(self) -> RtpengineControl:
        if self._ng is None:
            raise SipServerError("the media relay is not running")
        return self._ng

    async def _stop_children(self) -> None:
        for process in (self.kamailio, self.rtpengine):
            if process is not None:
                await process.stop()
        self.kamailio = self.rtpengine = None
        if self._ng is not None:
            self._ng.close()
            self._ng = None

    async def stop(self) -> None:
        await self._stop_children()
        await self._http.aclose()
        shutil.rmtree(self.workdir, ignore_errors=True)


class _NgProtocol(asyncio.DatagramProtocol):
    def __init__(self, waiting: dict[bytes, asyncio.Future[dict[str, Any]]]) -> None:
        self._waiting = waiting

    def datagram_received(self, data: bytes, addr: Any) -> None:
        cookie, _, body = data.partition(b" ")
        future = self._waiting.pop(cookie, None)
        if future is None or future.done():
            return
        try:
            answer = json.loads(body)
        except ValueError as exc:
            future.set_exception(SipServerError(f"rtpengine answered unreadably: {exc}"))
            return
        if isinstance(answer, dict):
            future.set_result(answer)
        else:
            future.set_exception(SipServerError("rtpengine answered unreadably"))


#: Seconds to wait for rtpengine's answer to a control command before sending it again, and
#: how many times it is sent: Kamailio's rtpengine module's defaults (rtpengine_tout_ms 1000,
#: rtpengine_retr 5, in its config.c). Giving up declines the call, which is worse than
#: waiting for a relay that a burst of answers has made late.
NG_WAIT = 1.0
NG_TRIES = 5


class RtpengineControl:
    """rtpengine's control protocol ("ng", over UDP on loopback), in its JSON form."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._transport: asyncio.DatagramTransport | None = None
        self._waiting: dict[bytes, asyncio.Future[dict[str, Any]]] = {}

    async def command(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Send one command (keyword arguments: call_id → "call-id"); its answer (result
        "ok"), or SipServerError saying why not."""
        loop = asyncio.get_running_loop()
        if self._transport is None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _NgProtocol(self._waiting), remote_addr=("127.0.0.1", self.port)
            )
            self._transport = transport
        cookie = secrets.token_hex(8).encode()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiting[cookie] = future
        message = {"command": command, **{k.replace("_", "-"): v for k, v in arguments.items()}}
        datagram = cookie + b" " + json.dumps(message).encode()
        try:
            # Sent again with the same cookie when no answer comes: rtpengine answers a
            # repeated cookie from its cache without doing the command twice (as Kamailio's
            # rtpengine module does it: a busy relay can take more than a second).
            for _ in range(NG_TRIES):
                self._transport.sendto(datagram)
                try:
                    async with asyncio.timeout(NG_WAIT):
                        answer = await asyncio.shield(future)
                    break
                except TimeoutError:
                    continue
            else:
                raise SipServerError(
                    f"rtpengine did not answer {command} within {NG_TRIES * NG_WAIT:g} s"
                )
        finally:
            self._waiting.pop(cookie, None)
            if not future.done():
                future.cancel()
        result = answer.get("result")
        if result not in ("ok", "pong"):
            reason = answer.get("error-reason") or result
            raise SipServerError(f"rtpengine {command}: {reason}")
        return answer

    async def ping(self) -> None:
        await self.command("ping")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
