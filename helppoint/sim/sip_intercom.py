"""A SIP intercom made of Debian's baresip, headless: the demo's SIP help point, and the
third-party SIP user agent of the tests (tests/sip/).

It registers with the account it is given, plays a WAV file (a tone) as its microphone,
records what it hears (baresip's sndfile module writes `dump-…-dec.wav`, and what it sent as
`…-enc.wav`) and is driven through baresip's TCP control interface (netstring JSON), whose
events (calls, DTMF received) it keeps.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from helppoint.sim.ports import free_port

BARESIP = "/usr/bin/baresip"


def write_tone(
    path: Path, hz: float, seconds: float = 60.0, rate: int = 8000, channels: int = 1
) -> Path:
    """A 16-bit WAV of a sine tone (the same on every channel)."""
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    samples = np.repeat(samples, channels)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


#: How many times baresip is started on fresh ports when one was taken (see start).
PORT_ATTEMPTS = 3
#: What baresip says when a port it was given is taken.
_PORT_TAKEN = "Address already in use"


class _PortTaken(Exception):
    """baresip could not bind one of its ports."""


class BaresipIntercom:
    """baresip as a SIP intercom with one account at helppoint's SIP server."""

    def __init__(
        self,
        home: Path,
        username: str,
        password: str,
        registrar: tuple[str, int],
        tone_hz: float = 440.0,
        codecs: str = "PCMU",
        regint: int = 60,
        answer: str = "auto",
        mediaenc: str = "",
    ) -> None:
        """`codecs`: baresip's audio_codecs (e.g. "PCMU", "opus/48000/2"); `answer`: how it
        answers a call to it (auto, as a help point takes the control room's call; manual);
        `mediaenc`: its media encryption ("" none; "srtp-mand": SDES-SRTP only)."""
        self.home = home
        self.username = username
        self.registrar = registrar
        home.mkdir(parents=True, exist_ok=True)
        self.recordings = home / "recordings"
        self.recordings.mkdir(exist_ok=True)
        # baresip's file source must match the encoder: 48 kHz stereo for Opus (its SDP says
        # opus/48000/2), 8 kHz mono for G.711.
        opus = codecs.lower().startswith("opus")
        self.tone = write_tone(
            home / "tone.wav", tone_hz, rate=48000 if opus else 8000, channels=2 if opus else 1
        )
        self._pick_ports()
        host, port = registrar
        (home / "accounts").write_text(
            f"<sip:{username}@{host}:{port}>;auth_pass={password};regint={regint};"
            f"audio_codecs={codecs};answermode={answer}"
            + (f";mediaenc={mediaenc}" if mediaenc else "")
            + "\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.events: list[dict[str, Any]] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._responses: dict[str, dict[str, Any]] = {}
        self._tokens = 0

    def _pick_ports(self) -> None:
        """Its SIP port (and the next, for TLS) and its control port: free now, all different."""
        self.sip_port = free_port(pair=True)
        self.control_port = free_port()
        while self.control_port in (self.sip_port, self.sip_port + 1):
            self.control_port = free_port()
        (self.home / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    f"audio_source aufile,{self.tone}",
                    "audio_player aubridge,nil",
                    "audio_alert aubridge,nil",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module opus.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module srtp.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.control_port}",
                    f"snd_path {self.recordings}",
                    "",
                ]
            )
        )

    def start(self) -> BaresipIntercom:
        """Start baresip; return once its control port answers.

        Its ports are picked free and bound by baresip a moment later: should another program
        take one in between ("Address already in use" in its log), it is started again on
        fresh ports (up to PORT_ATTEMPTS times).
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start()
            except _PortTaken:
                if attempt == PORT_ATTEMPTS:
                    raise RuntimeError(f"baresip did not start: {self.log()[-2000:]}") from None
                self._pick_ports()
        raise AssertionError("not reached")

    def _start(self) -> BaresipIntercom:
        log = (self.home / "baresip.log").open("wb")
        self.process = subprocess.Popen(
            [shutil.which("baresip") or BARESIP, "-f", str(self.home)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            if _PORT_TAKEN in self.log():
                self._end_process()
                raise _PortTaken
            try:
                listener = socket.create_connection(("127.0.0.1", self.control_port), 0.2)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    if _PORT_TAKEN in self.log():
                        self._end_process()
                        raise _PortTaken from None
                    raise RuntimeError(f"baresip did not start: {self.log()[-2000:]}") from None
                time.sleep(0.05)
        listener.settimeout(None)
        self._listener = listener
        threading.Thread(target=self._listen, args=(listener,), daemon=True).start()
        return self

    def _listen(self, conn: socket.socket) -> None:
        """Keep every event baresip tells its control clients (calls, DTMF received)."""
        buffer = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            messages, buffer = _split_netstrings(buffer)
            for message in messages:
                if message.get("event"):
                    self.events.append(message)
                elif message.get("response"):
                    with self._lock:
                        self._responses[str(message.get("token"))] = message

    def dtmf_received(self) -> str:
        """The digits the device has received so far (RFC 4733 or SIP INFO)."""
        return "".join(
            str(e.get("param", "")) for e in self.events if e.get("type") == "CALL_DTMF_START"
        )

    def command(self, command: str, params: str = "") -> dict[str, Any]:
        """Run a baresip command (e.g. dial, hangup); its response.

        baresip's control module talks to one client at a time, so commands and events share
        the device's one connection (read by `_listen`).
        """
        assert self._listener is not None
        with self._lock:
            self._tokens += 1
            token = f"t{self._tokens}"
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._listener.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                found = self._responses.pop(token, None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise RuntimeError(f"baresip did not answer {command}")

    def pause(self) -> None:
        """Freeze the device (it answers nothing, as a dead or cut-off intercom)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def log(self) -> str:
        path = self.home / "baresip.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _end_process(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _split_netstrings(buffer: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """The complete netstrings (JSON) at the start of `buffer`, and what is left."""
    messages = []
    while b":" in buffer:
        length, _, rest = buffer.partition(b":")
        if not length.isdigit() or len(rest) < int(length) + 1:
            break
        body, buffer = rest[: int(length)], rest[int(length) + 1 :]
        messages.append(json.loads(body))
    return messages, buffer
