"""helppoint's SIP user agent: it takes SIP help points' calls (presses) from the SIP server.

It listens on 127.0.0.1 only, and only the SIP server's loopback socket talks to it
(kamailio.cfg): every device's message was parsed, checked and authenticated there, and the
authenticated account comes in the `X-Helppoint-Unit` header.

A press is the device's INVITE. The caller hears ringback at once (180 Ringing), and the press
goes through the same ingest queue as a native unit's: numbered per unit, stored, opening or
joining an incident, audited and pushed to the consoles after the commit. Only then is the
media relay asked to turn the device's SDP offer into WebRTC with Opus for the media hub
(rtpengine's `offer`, here rather than in the SIP server, so that nothing slow, not even a
relay that does not answer, comes between the press and its commit). The call then waits,
ringing, for an operator to answer it; the hub's answer goes through the relay (`answer`) back
to the device in the 200 OK. If the press cannot be stored the INVITE is answered 503, so the
device knows the call failed and can call again; if the relay does not take the call, the
press stays stored and the call is declined with 503.

An operator can also call a registered unit (`call_unit`): an INVITE from here, through the SIP
server (which finds the device's registered contact and has the media relay turn the hub's
WebRTC offer into RTP for it) to the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiosipua import (
    Dialog,
    IncomingCall,
    OutgoingCall,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    UdpSipTransport,
    parse_sdp,
)
from aiosipua import transport as sip_transport
from aiosipua.dialog import DialogState
from aiosipua.headers import stringify_uri
from starlette.concurrency import run_in_threadpool

from helppoint.domain.events import EventType
from helppoint.gateway.ingest_queue import IngestQueue
from helppoint.services.clock import utcnow
from helppoint.services.ingest import Outcome, ReportedEvent
from helppoint.sip.servers import SipServerError
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: The header the SIP server names the authenticated account in.
UNIT_HEADER = "x-helppoint-unit"
#: The header that tells the SIP server how to offer media to a unit called back
#: ("srtp": SDES-SRTP; absent: plain RTP). kamailio.cfg reads it and takes it off.
MEDIA_HEADER = "X-Helppoint-Media"
#: The header the SIP server names the device's address in (the media relay's
#: `received-from`, as Kamailio's own rtpengine module would give it).
SOURCE_HEADER = "x-helppoint-source"

#: rtpengine's `offer` for a press: the device's plain RTP or SDES-SRTP, in G.711 or Opus,
#: made WebRTC for the hub (ICE, DTLS-SRTP with the relay passive, RTCP muxed, a=mid), with
#: Opus only towards the hub (an Opus device passed through, a G.711 one transcoded), the
#: device's telephone-event kept on its side, and DTMF injectable into what goes to the device
#: (the light's `play DTMF`).
PRESS_OFFER: dict[str, Any] = {
    "ICE": "force",
    "DTLS": "passive",
    "transport-protocol": "UDP/TLS/RTP/SAVPF",
    "SDES": ["off"],
    "rtcp-mux": ["offer"],
    "flags": ["generate-mid", "inject-DTMF"],
    "codec": {"mask": ["all"], "transcode": ["opus"], "accept": ["telephone-event"]},
}
#: rtpengine's `answer` with the hub's SDP: made plain again for the device (no ICE).
PRESS_ANSWER: dict[str, Any] = {"ICE": "remove"}


class MediaRelay(Protocol):
    """The media relay's control channel (servers.RtpengineControl)."""

    async def command(self, command: str, **arguments: Any) -> dict[str, Any]: ...


class _LoopbackUdp(UdpSipTransport):
    """aiosipua's UDP transport, bound without its check of the transport's class (which
    Python 3.11's datagram transport fails, though it is one)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=self.local_addr
        )
        self._udp_transport = transport


class _Protocol(sip_transport._UdpProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._udp_transport = transport  # type: ignore[assignment]


class _RoutedUac(SipUAC):
    """aiosipua's user agent client, with the dialog state RFC 3261 asks of a UAC that
    aiosipua 0.7 leaves out: a response that makes a dialog sets its route set (the
    Record-Route, reversed) and its remote target (the Contact) (section 12.1.2), so the ACK,
    BYE and INFO of a call we made go through the SIP server to the device; and a final
    error response to our INVITE is acknowledged (section 17.1.1.3), so the SIP server does
    not retransmit it."""

    def __init__(self, transport: UdpSipTransport) -> None:
        super().__init__(transport)
        #: Raw SDP answers of our INVITEs, by Call-ID (aiosipua keeps only a parsed copy).
        self.answers: dict[str, str] = {}
        #: Our INVITEs without a final response yet, by Call-ID (cancelled ones too).
        self.inviting: dict[str, OutgoingCall] = {}
        #: Call-IDs of INVITEs we cancelled, still waiting for their final response.
        self.cancelled: set[str] = set()

    def handle_response(self, response: SipResponse, addr: tuple[str, int]) -> None:
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE":
            super().handle_response(response, addr)
            return
        call_id = response.call_id or ""
        status = response.status_code
        invited = self.inviting.get(call_id)
        late = False
        if status >= 200:
            self.inviting.pop(call_id, None)
            late = call_id in self.cancelled
            self.cancelled.discard(call_id)
        if late and 200 <= status < 300 and invited is not None:
            # Answered as we cancelled: acknowledge it, then end it (RFC 3261 section 9.1).
            self._calls[call_id] = invited
        call = self._calls.get(call_id)
        to = response.to_addr
        if call is not None and 100 < status < 300 and to is not None and to.tag:
            if call.dialog.state is DialogState.EARLY or late:
                call.dialog.route_set = list(
                    reversed(_split_routes(response.headers.get("record-route")))
                )
                contacts = response.contact
                if contacts:
                    call.dialog.remote_target = stringify_uri(contacts[0].uri)
                if late:
                    call.dialog.state = DialogState.EARLY
            if status >= 200 and response.content_type == "application/sdp" and not late:
                self.answers.setdefault(call_id, response.text)
        if invited is not None and status >= 300:
            self._ack_error(invited, response)
        super().handle_response(response, addr)
        if late and call is not None and 200 <= status < 300:
            with contextlib.suppress(ValueError):
                self.send_bye(call.dialog, call.remote_addr)

    def _ack_error(self, call: OutgoingCall, response: SipResponse) -> None:
        invite = call.invite
        ack = SipRequest(method="ACK", uri=invite.uri)
        for name in ("Via", "From", "Call-ID", "Max-Forwards"):
            value = invite.headers.get_first(name)
            if value:
                ack.headers.set_single(name, value)
        ack.headers.set_single("To", response.headers.get_first("to") or "")
        seq = invite.cseq.seq if invite.cseq else 1
        ack.headers.set_single("CSeq", f"{seq} ACK")
        for route in invite.headers.get("route"):
            ack.headers.append("Route", route)
        self.transport.send(ack, call.remote_addr)


def _split_routes(values: list[str]) -> list[str]:
    """Record-Route values, one route a value (several may share a header line)."""
    routes: list[str] = []
    for value in values:
        depth, start = 0, 0
        for index, char in enumerate(value):
            if char == "<":
                depth += 1
            elif char == ">":
                depth -= 1
            elif char == "," and depth == 0:
                routes.append(value[start:index].strip())
                start = index + 1
        routes.append(value[start:].strip())
    return [route for route in routes if route]


class SipCallFailed(Exception):
    """A call to a SIP unit was not answered; the message says why."""


@dataclass(eq=False)
class SipCall:
    """A SIP unit's call with an operator in it: an answered press, or a call made to it."""

    unit_id: str
    incident_id: int
    call_id: str
    #: The call's dialog (our tag, the device's, the route through the SIP server).
    dialog: Dialog
    #: Where requests within the call go: the SIP server's loopback socket.
    remote_addr: tuple[str, int]
    #: Sends the BYE.
    bye: Callable[[], object]
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class RingingCall:
    """A SIP unit's call waiting for an operator: the press is stored, the caller hears ringback.

    It rings from the moment its press is committed; its media (the device's offer made WebRTC
    by the media relay) follows: `media_of` waits for it.
    """

    unit_id: str
    call: IncomingCall
    incident_id: int
    at: datetime
    #: The device's offer as the media relay made it for WebRTC (None until the relay has
    #: answered, and when it did not take the call).
    offer_sdp: str | None = None
    #: Why there is no offer for the hub, once that is known.
    media_error: str | None = None
    #: Set once offer_sdp or media_error is.
    media_settled: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def settle(self, offer_sdp: str | None, error: str | None = None) -> None:
        if not self.media_settled.is_set():
            self.offer_sdp, self.media_error = offer_sdp, error
            self.media_settled.set()


class SipAgent:
    """Takes SIP units' INVITEs from the SIP server and turns each into a stored press."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        ingest: IngestQueue,
        unit_of: Callable[[str], str | None],
        realm: str = "helppoint",
        relay: Callable[[], MediaRelay | None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        #: The media relay's control channel now (None: not running).
        self._relay = relay
        #: The SIP server's realm: the domain of the addresses we call.
        self.realm = realm
        self._ingest = ingest
        self._unit_of = unit_of
        self._transport = _LoopbackUdp(local_addr=("127.0.0.1", 0))
        self._uac = _RoutedUac(self._transport)
        self._uas = SipUAS(self._transport, user_agent="helppoint", uac=self._uac)
        self._uas.on_invite = self._on_invite
        self._uas.on_cancel = self._on_cancel
        self._uas.on_bye = self._on_bye
        #: Where the SIP server sends from (its loopback socket), once it is known.
        self.server_address: tuple[str, int] | None = None
        self._next_seq: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Calls stored as presses and waiting for an operator, by Call-ID.
        self.ringing: dict[str, RingingCall] = {}
        #: Calls with an operator in them (answered presses, calls made to units), by Call-ID.
        self.answered: dict[str, SipCall] = {}
        #: Told (incident id, unit id) when a device hangs up an answered call (the hub).
        self.on_hung_up: Callable[[int, str], None] | None = None
        self.presses = 0

    @property
    def port(self) -> int:
        return self._transport.local_addr[1]

    async def start(self) -> None:
        await self._uas.start()
        sock = self._transport._udp_transport
        assert sock is not None
        self._transport.local_addr = sock.get_extra_info("sockname")[:2]

    async def stop(self) -> None:
        for ringing in list(self.ringing.values()):
            with contextlib.suppress(Exception):
                ringing.call.reject(503, "Service Unavailable")
        self.ringing.clear()
        for answered in list(self.answered.values()):
            with contextlib.suppress(Exception):
                self.hang_up(answered)
        for task in list(self._tasks):
            task.cancel()
        await self._uas.stop()

    def ringing_for(self, incident_id: int) -> RingingCall | None:
        """The newest call of the incident still waiting for an operator."""
        found = [r for r in self.ringing.values() if r.incident_id == incident_id]
        return max(found, key=lambda r: r.at) if found else None

    async def media_of(self, ringing: RingingCall, within: float = 5.0) -> str:
        """The ringing call's offer made WebRTC for the hub, once the media relay has made it;
        SipCallFailed saying why there is none."""
        try:
            async with asyncio.timeout(within):
                await ringing.media_settled.wait()
        except TimeoutError:
            raise SipCallFailed(
                f"{ringing.unit_id}'s call has no media yet: the media relay has not answered"
            ) from None
        if ringing.offer_sdp is None:
            raise SipCallFailed(ringing.media_error or f"{ringing.unit_id}'s call has no media")
        return ringing.offer_sdp

    async def answer(self, ringing: RingingCall, sdp: str) -> SipCall | None:
        """Answer a ringing call (200 OK) with the hub's SDP, made plain for the device by the
        media relay; None if the caller hung up meanwhile; SipCallFailed if the relay cannot
        take the answer (the call is then declined)."""
        call = ringing.call
        call_id = call.call_id
        if self.ringing.get(call_id) is not ringing:
            return None
        try:
            relay = self._relay()
            if relay is None:
                raise SipServerError("the media relay is not running")
            reply = await relay.command(
                "answer",
                call_id=call_id,
                from_tag=call.dialog.remote_tag,
                to_tag=call.dialog.local_tag,
                sdp=sdp,
                **PRESS_ANSWER,
            )
            device_sdp = str(reply.get("sdp") or "")
            if not device_sdp:
                raise SipServerError("rtpengine answered without SDP")
        except SipServerError as exc:
            if self.ringing.pop(call_id, None) is None:
                return None  # the caller hung up meanwhile (its session went with it)
            ringing.done.set()
            with contextlib.suppress(Exception):
                call.reject(503, "Service Unavailable")
            self._delete_media(call)
            raise SipCallFailed(
                f"the media relay could not take the answer to {ringing.unit_id}'s call ({exc}); "
                "the call is declined, call the unit back"
            ) from None
        if self.ringing.pop(call_id, None) is None or call_id not in self._uas.active_calls:
            self._delete_media(call)  # the caller hung up while the relay answered
            return None
        call.accept(parse_sdp(device_sdp))
        answered = SipCall(
            ringing.unit_id,
            ringing.incident_id,
            call_id,
            call.dialog,
            call.source_addr,
            call.hangup,
            ringing.done,
        )
        self.answered[call_id] = answered
        return answered

    async def call_unit(
        self,
        unit_id: str,
        username: str,
        incident_id: int,
        offer_sdp: str,
        answer_within: float,
        srtp: bool = False,
    ) -> tuple[SipCall, str]:
        """Call a registered SIP unit with the hub's offer; the call and the device's SDP
        answer (as the media relay made it for WebRTC), or SipCallFailed saying why not.
        With `srtp` the SIP server offers the device SRTP (SDES) instead of plain RTP.

        The INVITE goes to the SIP server, which finds the device's registered contact. A call
        not answered within `answer_within` seconds (or whose waiting is cancelled) is cancelled.
        """
        server = self.server_address
        if server is None:
            raise SipCallFailed("the SIP server is not running")
        outgoing = self._uac.send_invite(
            f"sip:helppoint@{self.realm}",
            f"sip:{username}@{self.realm}",
            server,
            parse_sdp(offer_sdp),
            user_agent="helppoint",
            extra_headers={MEDIA_HEADER: "srtp"} if srtp else None,
        )
        call_id = outgoing.call_id
        self._uac.inviting[call_id] = outgoing
        try:
            await outgoing.wait_answered(answer_within)
        except TimeoutError:
            self._cancel(outgoing)
            raise SipCallFailed(f"{unit_id} did not answer within {answer_within:g} s") from None
        except RuntimeError:
            code, reason = outgoing._reject_code, outgoing._reject_reason
            if code == 480:
                raise SipCallFailed(f"{unit_id} is not registered now") from None
            raise SipCallFailed(f"{unit_id} refused the call ({code} {reason})") from None
        except BaseException:
            self._cancel(outgoing)
            raise
        answer = self._uac.answers.pop(call_id, None)
        call = SipCall(
            unit_id,
            incident_id,
            call_id,
            outgoing.dialog,
            server,
            lambda: outgoing.hangup(self._uac),
        )
        if not answer:
            call.bye()
            raise SipCallFailed(f"{unit_id} answered without a media description")
        self.answered[call_id] = call
        log.info("SIP: %s answered a call from the control room", unit_id)
        return call, answer

    def _cancel(self, outgoing: OutgoingCall) -> None:
        call_id = outgoing.call_id
        with contextlib.suppress(Exception):
            if outgoing.dialog.state is DialogState.EARLY:
                self._uac.cancelled.add(call_id)
                self._uac.send_cancel(outgoing)
            else:  # answered as we gave up: end it
                outgoing.hangup(self._uac)
        self._uac.answers.pop(call_id, None)

        def forget() -> None:  # (no final response ever came: the SIP server is gone)
            self._uac.inviting.pop(call_id, None)
            self._uac.cancelled.discard(call_id)

        asyncio.get_running_loop().call_later(64, forget)

    def hang_up(self, call: SipCall) -> None:
        """End a call with an operator in it from our side (BYE)."""
        if self.answered.pop(call.call_id, None) is not None:
            call.bye()
            call.done.set()

    def answered_call_of(self, unit_id: str) -> SipCall | None:
        """The unit's call an operator is in, if any."""
        return next((c for c in self.answered.values() if c.unit_id == unit_id), None)

    async def send_info_digits(self, answered: SipCall, digits: str) -> None:
        """Send digits as SIP INFO in the call (application/dtmf-relay, one INFO a digit)."""
        for digit in digits:
            self._uac.send_info(
                answered.dialog,
                f"Signal={digit}\r\nDuration=250\r\n",
                "application/dtmf-relay",
                answered.remote_addr,
            )
            await asyncio.sleep(0.3)  # (the intercom takes one digit at a time)

    # ---------- requests from the SIP server ----------

    def _trusted(self, call_or_request: IncomingCall | SipRequest) -> bool:
        source = getattr(call_or_request, "source_addr", None)
        return self.server_address is None or source is None or source == self.server_address

    def _on_invite(self, call: IncomingCall) -> None:
        username = call.invite.get_header(UNIT_HEADER) or ""
        unit_id = self._unit_of(username)
        if unit_id is None or not self._trusted(call):
            log.warning("SIP: INVITE for an account not in service (%r): refused", username)
            call.reject(403, "Forbidden")
            return
        call.ringing()  # the caller hears ringback at once
        offer = call.invite.text if call.invite.content_type == "application/sdp" else None
        task = asyncio.get_running_loop().create_task(self._press(unit_id, call, offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _press(self, unit_id: str, call: IncomingCall, offer: str | None) -> None:
        """Store the press; then let the call ring for an operator while the media relay makes
        its offer WebRTC, or decline it (503) when the relay does not take it (its media could
        not be answered), so the device can call again; the press stays on the record either
        way. Nothing is asked of the relay before the press is committed."""
        at = utcnow()
        try:
            result = None
            for _ in range(2):  # a second time after another writer took the number
                seq = await self._seq(unit_id)
                event = ReportedEvent(
                    unit_id, seq, EventType.ACTIVATION, at, {"sip": {"call_id": call.call_id}}
                )
                result = await self._ingest.submit(event)
                if result.outcome in (Outcome.STORED, Outcome.DUPLICATE):
                    break
                self._next_seq.pop(unit_id, None)
            assert result is not None
        except Exception as exc:  # IngestUnavailable, or anything else: the call fails
            log.error("SIP: the press of %s could not be stored (%s): answered 503", unit_id, exc)
            self._next_seq.pop(unit_id, None)
            with contextlib.suppress(Exception):
                call.reject(503, "Service Unavailable")
            return
        if result.outcome not in (Outcome.STORED, Outcome.DUPLICATE) or not result.incident_id:
            log.error("SIP: the press of %s was not stored (%s)", unit_id, result.outcome)
            call.reject(503, "Service Unavailable")
            return
        self.presses += 1
        if call.call_id not in self._uas.active_calls:
            # The caller hung up while the press was being stored: it stays on the record.
            log.info("SIP: %s hung up before an operator answered", unit_id)
            return
        ringing = RingingCall(unit_id, call, result.incident_id, at)
        self.ringing[call.call_id] = ringing
        log.info("SIP: press of %s stored (incident %d); ringing", unit_id, result.incident_id)
        if offer is None:
            ringing.settle(None, f"{unit_id}'s call carries no media offer")
            return
        try:
            relay = self._relay()
            if relay is None:
                raise SipServerError("the media relay is not running")
            source = call.invite.get_header(SOURCE_HEADER) or ""
            extra = {"received_from": ["IP6" if ":" in source else "IP4", source]} if source else {}
            reply = await relay.command(
                "offer",
                call_id=call.call_id,
                from_tag=call.dialog.remote_tag,
                sdp=offer,
                **PRESS_OFFER,
                **extra,
            )
            webrtc = str(reply.get("sdp") or "")
            if not webrtc:
                raise SipServerError("rtpengine answered without SDP")
        except SipServerError as exc:
            log.error(
                "SIP: the press of %s is stored (incident %d) but the media relay did not take "
                "its call (%s): declined with 503, so the device can call again; the operator "
                "can call it back",
                unit_id,
                result.incident_id,
                exc,
            )
            ringing.settle(None, f"the media relay did not take {unit_id}'s call ({exc})")
            if self.ringing.pop(call.call_id, None) is not None:
                ringing.done.set()
                with contextlib.suppress(Exception):
                    call.reject(503, "Service Unavailable")
            return
        ringing.settle(webrtc)
        if self.ringing.get(call.call_id) is not ringing:
            self._delete_media(call)  # the caller hung up while the relay made the offer

    def _delete_media(self, call: IncomingCall) -> None:
        """Have the media relay drop a call's session (in the background; a relay that is
        gone has nothing to drop)."""
        relay = self._relay()
        if relay is None:
            return

        async def delete() -> None:
            with contextlib.suppress(SipServerError):
                await relay.command("delete", call_id=call.call_id, from_tag=call.dialog.remote_tag)

        task = asyncio.get_running_loop().create_task(delete())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _seq(self, unit_id: str) -> int:
        if unit_id not in self._next_seq:
            last = await run_in_threadpool(self._last_seq, unit_id)
            self._next_seq.setdefault(unit_id, last + 1)
        seq = self._next_seq[unit_id]
        self._next_seq[unit_id] = seq + 1
        return seq

    def _last_seq(self, unit_id: str) -> int:
        with self._uow_factory() as uow:
            return uow.events.last_seq(unit_id)

    def _on_cancel(self, request: SipRequest, addr: tuple[str, int]) -> None:
        ringing = self.ringing.pop(request.call_id or "", None)
        if ringing is not None:
            self._gone(ringing)
            log.info("SIP: %s hung up before an operator answered", ringing.unit_id)

    def _gone(self, ringing: RingingCall) -> None:
        """A ringing call the caller ended: nothing waits for its media any more."""
        ringing.done.set()
        if ringing.offer_sdp is not None:
            self._delete_media(ringing.call)
        ringing.settle(None, f"{ringing.unit_id} hung up before the call was answered")

    def _on_bye(self, call: IncomingCall, request: SipRequest) -> None:
        ringing = self.ringing.pop(call.call_id, None)
        if ringing is not None:
            self._gone(ringing)
        answered = self.answered.pop(call.call_id, None)
        if answered is not None:
            answered.done.set()
            log.info("SIP: %s hung up", answered.unit_id)
            if self.on_hung_up is not None:
                self.on_hung_up(answered.incident_id, answered.unit_id)
