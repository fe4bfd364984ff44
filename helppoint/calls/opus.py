"""Encoded Opus audio taken straight from our aiortc receivers: the low-latency audio path.

aiortc's receiver puts every audio RTP packet in a jitter buffer that hands a packet on only
once four later ones have arrived (80 ms) and releases at most one per arriving packet; after a
single lost packet it waits for its 16-slot buffer to overflow and then stays 14 packets
(280 ms) behind for the rest of the call. It does not pace playout, so the hold buys tolerance
of packets that arrive out of order and nothing else. The hub would add that hold and a decode
and re-encode to every call, and the unit the hold again.

:class:`OpusPacketTap` takes the place of that jitter buffer on our own receivers (the hub's two
and the unit's): a packet is handed on the moment it is next in sequence; when one is missing,
later ones wait for it until ``window`` of them have arrived, then it is given up for lost.
Consumers get the packets as ``av.Packet`` (:meth:`OpusPacketTap.subscribe`): the hub forwards
them unchanged to the other peer (aiortc's sender packetizes an ``av.Packet`` without encoding)
and records from them; the unit decodes them for its speaker (:class:`OpusDecodeTrack`).
docs/calls.md explains the trade-off.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from dataclasses import dataclass
from typing import Any

import aiortc
import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription
from av.frame import Frame

log = logging.getLogger(__name__)

#: Opus always runs a 48 kHz RTP clock (RFC 7587).
OPUS_CLOCK = 48_000
OPUS_TIME_BASE = fractions.Fraction(1, OPUS_CLOCK)
#: How many later packets may arrive while a missing one is awaited (20 ms each) before it is
#: given up for lost. Packets in order are never held.
REORDER_WINDOW = 3
#: A jump in sequence numbers this large is a restarted stream, not loss or reordering.
RESTART_JUMP = 1000

# aiortc has no public hook for received encoded media: RTCRtpReceiver hands each depayloaded
# RTP packet to its private jitter buffer's add() and decodes what that returns. tap_audio()
# swaps that one object, and nothing else here touches aiortc's internals.
_JITTER_BUFFER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class IncompatibleAiortc(RuntimeError):
    """The installed aiortc no longer has the receiver internals that tap_audio() replaces."""


class NoOpusAudio(ValueError):
    """An SDP whose audio does not prefer Opus, so its packets cannot be forwarded as they are."""


@dataclass
class TapStats:
    """What a tap did with the packets it was given."""

    #: Handed on, in sequence order.
    packets: int = 0
    #: Given up for lost after ``window`` later packets had arrived.
    lost: int = 0
    #: Dropped: arrived after being given up, duplicates, or not Opus.
    dropped: int = 0


class SequenceOrder:
    """Puts RTP packets back in sequence order without holding the ones that arrive in order.

    A missing packet is awaited until ``window`` later packets are held, then skipped.
    """

    def __init__(self, window: int = REORDER_WINDOW) -> None:
        if window < 1:
            raise ValueError("the reorder window must be at least 1 packet")
        self.window = window
        self.stats = TapStats()
        self._next: int | None = None
        self._held: dict[int, RtpPacket] = {}

    @property
    def held(self) -> int:
        """Packets waiting for a missing one."""
        return len(self._held)

    def push(self, packet: RtpPacket) -> list[RtpPacket]:
        """Take one packet; the packets that can now be handed on, in order."""
        seq = packet.sequence_number
        if self._next is None:
            self._next = seq
        ahead = (seq - self._next) & 0xFFFF
        if ahead >= 0x8000 and 0x10000 - ahead <= RESTART_JUMP:
            self.stats.dropped += 1  # late (already handed on or given up) or a duplicate
            return []
        if ahead > RESTART_JUMP:  # far ahead or far behind: the sender started again
            self._held.clear()
            self._next = seq
        if seq in self._held:
            self.stats.dropped += 1
            return []
        self._held[seq] = packet
        released: list[RtpPacket] = []
        while self._held:
            ready = self._held.pop(self._next, None)
            if ready is None:
                if len(self._held) < self.window:
                    break
                start = self._next
                nearest = min(self._held, key=lambda s: (s - start) & 0xFFFF)
                self.stats.lost += (nearest - start) & 0xFFFF
                self._next = nearest
                continue
            released.append(ready)
            self._next = (self._next + 1) & 0xFFFF
        self.stats.packets += len(released)
        return released


class _TimestampUnwrapper:
    """RTP timestamps (32 bits, wrapping) as a count of samples since the first packet."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._pts = 0

    def unwrap(self, timestamp: int) -> int:
        if self._last is not None:
            delta = (timestamp - self._last) & 0xFFFFFFFF
            self._pts += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last = timestamp
        return self._pts


class OpusPacketTap:
    """Stands in for an aiortc receiver's audio jitter buffer (see :func:`tap_audio`) and hands
    the Opus packets, in order, to every subscribed track."""

    def __init__(self, window: int = REORDER_WINDOW, payload_types: set[int] | None = None):
        self._order = SequenceOrder(window)
        #: Payload types that carry Opus; None: all (the receiver already drops unknown ones).
        self.payload_types = payload_types
        self._timestamps = _TimestampUnwrapper()
        self._subscribers: set[OpusPacketTrack] = set()
        self.closed = False

    @property
    def stats(self) -> TapStats:
        return self._order.stats

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        """The receiver's jitter-buffer call: (send a picture-loss report?, frame to decode)."""
        if self.payload_types is not None and packet.payload_type not in self.payload_types:
            self.stats.dropped += 1
            return False, None
        for ready in self._order.push(packet):
            pts = self._timestamps.unwrap(ready.timestamp)
            for track in tuple(self._subscribers):
                track.put(ready.payload, pts)
        # Nothing for aiortc's decoder: its thread stays idle.
        return False, None

    def subscribe(self) -> OpusPacketTrack:
        """A track of this tap's packets, from its first recv() on."""
        return OpusPacketTrack(self)

    def close(self) -> None:
        """End every subscribed track (the call is over)."""
        self.closed = True
        for track in tuple(self._subscribers):
            track.put_end()
        self._subscribers.clear()

    def _attach(self, track: OpusPacketTrack) -> None:
        if self.closed:
            track.put_end()
        else:
            self._subscribers.add(track)

    def _detach(self, track: OpusPacketTrack) -> None:
        self._subscribers.discard(track)


class OpusPacketTrack(MediaStreamTrack):
    """Opus packets from a tap, as ``av.Packet`` (48 kHz time base).

    A track gets packets from its first recv() on: a consumer that starts late (a peer still
    connecting) gets live audio, not a burst of what it missed.
    """

    kind = "audio"

    def __init__(self, tap: OpusPacketTap) -> None:
        super().__init__()
        self._tap: OpusPacketTap | None = tap
        self._queue: asyncio.Queue[tuple[bytes, int] | None] = asyncio.Queue()

    @property
    def backlog(self) -> int:
        """Packets received but not yet taken."""
        return self._queue.qsize()

    def put(self, payload: bytes, pts: int) -> None:
        self._queue.put_nowait((payload, pts))

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
        payload, pts = item
        packet = av.Packet(payload)
        packet.pts = pts
        packet.time_base = OPUS_TIME_BASE
        return packet

    def stop(self) -> None:
        super().stop()
        if self._tap is not None:
            self._tap._detach(self)
            self._tap = None


def opus_decoder() -> av.AudioCodecContext:
    """A libopus decoder giving 48 kHz stereo s16 frames, as aiortc's own decoder does."""
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format = "s16"
    decoder.layout = "stereo"
    decoder.sample_rate = OPUS_CLOCK
    return decoder


class OpusDecodeTrack(MediaStreamTrack):
    """Decoded audio frames of an Opus packet track (decoded as they come: no hold)."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self._decoder = opus_decoder()
        self._pending: list[Frame] = []

    async def recv(self) -> Frame:
        while not self._pending:
            packet = await self.source.recv()
            try:
                self._pending = list(self._decoder.decode(packet))  # type: ignore[arg-type]
            except av.FFmpegError as exc:
                # A damaged packet costs its 20 ms; the decoder keeps its state for the next.
                log.warning("cannot decode an Opus packet: %s", exc)
        return self._pending.pop(0)

    def stop(self) -> None:
        super().stop()
        self.source.stop()


def tap_audio(
    transceiver: RTCRtpTransceiver,
    window: int = REORDER_WINDOW,
    payload_types: set[int] | None = None,
) -> OpusPacketTap:
    """Take an audio transceiver's received Opus packets before aiortc's jitter buffer and
    decoder.

    Call it before media flows (at the latest right after the description that created the
    transceiver is set). Its receiver's own track then stays silent; subscribe to the tap.
    """
    if transceiver.kind != "audio":
        raise ValueError(f"only audio can be tapped, not {transceiver.kind}")
    receiver = transceiver.receiver
    current = getattr(receiver, _JITTER_BUFFER_ATTRIBUTE, None)
    if isinstance(current, OpusPacketTap):
        return current
    if not isinstance(current, JitterBuffer):
        raise IncompatibleAiortc(
            f"aiortc {aiortc.__version__}: RTCRtpReceiver has no jitter buffer at "
            f"{_JITTER_BUFFER_ATTRIBUTE}; helppoint.calls.opus must be updated for this aiortc"
        )
    tap = OpusPacketTap(window, payload_types)
    setattr(receiver, _JITTER_BUFFER_ATTRIBUTE, tap)
    return tap


def transceiver_of(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpTransceiver:
    """The transceiver that receives a remote track (as given by the peer's "track" event)."""
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.track is track:
            return transceiver
    raise LookupError(f"{track.kind} track {track.id} is not received by this peer")


def opus_only(transceiver: RTCRtpTransceiver) -> None:
    """Offer Opus only on an audio transceiver, so both legs of a forwarded call agree."""
    codecs = [
        codec
        for codec in RTCRtpSender.getCapabilities("audio").codecs
        if codec.mimeType.lower() == "audio/opus"
    ]
    transceiver.setCodecPreferences(codecs)


def opus_payload_types(sdp: str) -> set[int]:
    """The Opus payload types of an SDP's audio; NoOpusAudio unless Opus is preferred.

    The far end sends its first listed codec, so Opus must be first for packets to be
    forwarded unchanged (every browser lists it first).
    """
    try:
        description = SessionDescription.parse(sdp)
    except (ValueError, IndexError, KeyError, AssertionError) as exc:  # aiortc asserts too
        raise NoOpusAudio(f"the SDP cannot be read: {exc}") from None
    for media in description.media:
        if media.kind != "audio":
            continue
        codecs = media.rtp.codecs
        if not codecs or codecs[0].mimeType.lower() != "audio/opus":
            raise NoOpusAudio("the audio must offer Opus as its first codec")
        return {
            c.payloadType
            for c in codecs
            if c.mimeType.lower() == "audio/opus" and c.payloadType is not None
        }
    raise NoOpusAudio("the SDP has no audio")
