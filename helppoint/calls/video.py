"""The unit's video forwarded as it was encoded: the hub neither decodes nor re-encodes it.

The unit's agent sends VP8. aiortc's receiver puts the RTP packets back together into whole
encoded pictures in its jitter buffer and then decodes them; :class:`VideoPacketTap` stands in
for that jitter buffer on the hub's receiver from the unit: it lets aiortc's own buffer put
the pictures together (and ask the unit for a key frame when one is lost, as before), hands
each whole picture on as an ``av.Packet`` to every subscribed track, and gives the decoder
nothing. The browser's sender packetizes those bytes without encoding (aiortc sends an
``av.Packet`` as it is), and the recorder writes them into the call's WebM as they are.

A viewer can only start at a key frame. The agent's encoder makes one at the start and when
asked (a picture-loss report, RTCP PLI), so a new viewer, and the browser's own picture-loss
reports (:func:`forward_keyframe_requests`), ask the unit for one through the hub's receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from typing import Any

import aiortc
import av
from aiortc import MediaStreamTrack, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription

from helppoint.calls.opus import IncompatibleAiortc

log = logging.getLogger(__name__)

#: Video RTP runs a 90 kHz clock (RFC 3551).
VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
#: A viewer further behind than this many pictures skips to the next key frame.
MAX_BACKLOG = 90

# As in calls/opus.py: aiortc has no public hook for received encoded media, and its receiver
# hands each depayloaded packet to this private jitter buffer and decodes what it returns.
_JITTER_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


def is_vp8_keyframe(data: bytes) -> bool:
    """Whether a VP8 picture is a key frame (RFC 6386 section 9.1: bit 0 of its first byte
    is 0, and the start code follows the 3-byte frame tag)."""
    return len(data) >= 10 and not data[0] & 1 and data[3:6] == b"\x9d\x01\x2a"


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a VP8 key frame, from its header (14 bits each)."""
    if not is_vp8_keyframe(data):
        return None
    width = int.from_bytes(data[6:8], "little") & 0x3FFF
    height = int.from_bytes(data[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


class VideoPacketTap:
    """Stands in for an aiortc receiver's video jitter buffer (see :func:`tap_video`): whole
    VP8 pictures go to the subscribed tracks instead of the decoder."""

    def __init__(self, inner: JitterBuffer, request_keyframe: Any) -> None:
        self._inner = inner
        self._request_keyframe = request_keyframe
        self._subscribers: set[VideoPacketTrack] = set()
        self._first_timestamp: int | None = None
        self._last_timestamp = 0
        self._pts = 0
        self.ssrc: int | None = None
        self.pictures = 0
        self.closed = False

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """The receiver's jitter-buffer call: (send a picture-loss report?, frame to decode)."""
        self.ssrc = packet.ssrc
        pli, picture = self._inner.add(packet)
        if picture is not None:
            self.pictures += 1
            pts = self._unwrap(picture.timestamp)
            keyframe = is_vp8_keyframe(picture.data)
            for track in tuple(self._subscribers):
                track.put(picture.data, pts, keyframe)
        # Nothing for aiortc's decoder: the hub does not decode the unit's video.
        return pli, None

    def _unwrap(self, timestamp: int) -> int:
        if self._first_timestamp is not None:
            delta = (timestamp - self._last_timestamp) & 0xFFFFFFFF
            self._pts += delta - (1 << 32) if delta >= 1 << 31 else delta
        else:
            self._first_timestamp = timestamp
        self._last_timestamp = timestamp
        return self._pts

    def request_keyframe(self) -> None:
        """Ask the unit for a key frame (an RTCP picture-loss report from the hub's receiver)."""
        if self.ssrc is not None and not self.closed:
            self._request_keyframe(self.ssrc)

    def subscribe(self) -> VideoPacketTrack:
        """A track of this tap's pictures, starting at the next key frame."""
        return VideoPacketTrack(self)

    def close(self) -> None:
        """End every subscribed track (the call is over)."""
        self.closed = True
        for track in tuple(self._subscribers):
            track.put_end()
        self._subscribers.clear()

    def _attach(self, track: VideoPacketTrack) -> None:
        if self.closed:
            track.put_end()
        elif track not in self._subscribers:
            self._subscribers.add(track)
            self.request_keyframe()

    def _detach(self, track: VideoPacketTrack) -> None:
        self._subscribers.discard(track)


class VideoPacketTrack(MediaStreamTrack):
    """VP8 pictures from a tap, as ``av.Packet`` (90 kHz time base), from a key frame on.

    A track gets pictures from its first recv() on and drops what comes before a key frame
    (a decoder cannot start without one). One that falls more than MAX_BACKLOG pictures behind
    skips to the next key frame rather than making the hub hold pictures.
    """

    kind = "video"

    def __init__(self, tap: VideoPacketTap) -> None:
        super().__init__()
        self._tap: VideoPacketTap | None = tap
        self._queue: asyncio.Queue[tuple[bytes, int, bool] | None] = asyncio.Queue()
        self._started = False
        #: Pictures dropped while waiting for a key frame.
        self.skipped = 0

    @property
    def backlog(self) -> int:
        """Pictures received but not yet taken."""
        return self._queue.qsize()

    def put(self, data: bytes, pts: int, keyframe: bool) -> None:
        if self._queue.qsize() >= MAX_BACKLOG:
            self._drain()
            self._started = False
            if self._tap is not None:
                self._tap.request_keyframe()
        if not self._started and not keyframe:
            self.skipped += 1
            return
        self._started = True
        self._queue.put_nowait((data, pts, keyframe))

    def _drain(self) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                item = self._queue.get_nowait()
                if item is None:  # the end stays the end
                    self._queue.put_nowait(None)
                    return
                self.skipped += 1

    def put_end(self) -> None:
        self._queue.put_nowait(None)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._tap is not None:
            self._tap._attach(self)
        item = await self._queue.get()
        if item is None:
            self.stop()
            raise MediaStreamError
        data, pts, keyframe = item
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = pts
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = keyframe
        return packet

    def stop(self) -> None:
        super().stop()
        if self._tap is not None:
            self._tap._detach(self)
            self._tap = None


def tap_video(transceiver: RTCRtpTransceiver) -> VideoPacketTap:
    """Take a video transceiver's received pictures before aiortc's decoder.

    Call it before media flows. Its receiver's own track then shows nothing; subscribe to
    the tap.
    """
    if transceiver.kind != "video":
        raise ValueError(f"only video can be tapped here, not {transceiver.kind}")
    receiver = transceiver.receiver
    current = getattr(receiver, _JITTER_BUFFER_ATTRIBUTE, None)
    if isinstance(current, VideoPacketTap):
        return current
    if not isinstance(current, JitterBuffer):
        raise IncompatibleAiortc(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver has no jitter buffer at "
            f"{_JITTER_BUFFER_ATTRIBUTE}; helppoint.calls.video must be updated for this aiortc"
        )
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def send_pli(ssrc: int) -> None:
        task = loop.create_task(receiver._send_rtcp_pli(ssrc))
        pending.add(task)
        task.add_done_callback(pending.discard)

    tap = VideoPacketTap(current, send_pli)
    setattr(receiver, _JITTER_BUFFER_ATTRIBUTE, tap)
    return tap


def forward_keyframe_requests(sender: RTCRtpSender, tap: VideoPacketTap) -> None:
    """Pass the browser's picture-loss reports (PLI, FIR) for forwarded video on to the unit.

    aiortc's sender answers them by making its encoder's next picture a key frame; a sender
    that forwards has no encoder, so the request goes to the unit that encodes."""
    sender._send_keyframe = tap.request_keyframe  # type: ignore[method-assign]


def vp8_only(transceiver: RTCRtpTransceiver) -> None:
    """Offer VP8 only (with its retransmissions) on a video transceiver, so what the unit
    sends can be forwarded to a browser as it is."""
    codecs = [
        codec
        for codec in RTCRtpSender.getCapabilities("video").codecs
        if codec.mimeType.lower() in ("video/vp8", "video/rtx")
    ]
    transceiver.setCodecPreferences(codecs)


def prefers_vp8(sdp: str) -> bool:
    """Whether an offer's video (if any) lists VP8 first, the codec a forwarding answer picks."""
    try:
        description = SessionDescription.parse(sdp)
    except (ValueError, IndexError, KeyError, AssertionError):  # aiortc asserts on some input
        return False
    for media in description.media:
        if media.kind == "video":
            codecs = [c for c in media.rtp.codecs if c.mimeType.lower() != "video/rtx"]
            return bool(codecs) and codecs[0].mimeType.lower() == "video/vp8"
    return False
