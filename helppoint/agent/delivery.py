"""One connection's delivery of the outbox: the in-flight window, acks, refusals, renumbering.

The rule that makes renumbering safe lives here. After a refused seq, nothing more is sent
until every event in flight has been answered. Only then is it certain which events the server
stored, so only then do the rest get new numbers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from helppoint.agent.outbox import Outbox, OutboxEvent
from helppoint.agent.protocol import (
    AckHook,
    LinkBroken,
    LinkStats,
    RenumberHook,
    is_int,
)
from helppoint.protocol.device_link import ACK_REFUSED

log = logging.getLogger(__name__)

#: One renumbering settles any refusal; more in one session means something else is wrong.
MAX_RENUMBERS_PER_SESSION = 5


@dataclass
class InFlight:
    """An event sent on this connection and not answered yet."""

    event: OutboxEvent
    sent_at: float


class Delivery:
    """What one connection has sent and what the server's answers mean for the outbox."""

    def __init__(
        self,
        unit_id: str,
        outbox: Outbox,
        *,
        window: int,
        server_last: int,
        stats: LinkStats,
        sent_ids: set[int],
        on_ack: AckHook | None = None,
        on_renumber: RenumberHook | None = None,
    ) -> None:
        self.unit_id = unit_id
        self.outbox = outbox
        self.window = window
        #: The highest seq the server is known to have stored (welcome, acks, refusals).
        self.server_last = server_last
        self.stats = stats
        # Row ids of events sent at least once, on any connection: a repeat is a resend.
        self.sent_ids = sent_ids
        self.on_ack = on_ack
        self.on_renumber = on_renumber
        self.in_flight: dict[int, InFlight] = {}
        self.sent_upto = 0
        self.resync = False  # a seq was refused: send nothing until every answer is in
        self.renumbers = 0
        #: Bumped by every renumbering, so a sender mid-batch drops its stale seqs.
        self.numbering = 0

    @property
    def can_send(self) -> bool:
        """Whether another event may go out now."""
        return not self.resync and len(self.in_flight) < self.window

    def next_batch(self) -> list[OutboxEvent]:
        """Unsent events, in seq order, as many as the window has room for."""
        return self.outbox.unacked(
            self.unit_id, after_seq=self.sent_upto, limit=self.window - len(self.in_flight)
        )

    def sending(self, event: OutboxEvent) -> None:
        """Record that ``event`` is about to be sent."""
        self.in_flight[event.seq] = InFlight(event, time.monotonic())
        self.sent_upto = event.seq
        self.stats.max_in_flight = max(self.stats.max_in_flight, len(self.in_flight))
        self.stats.sent += 1
        if event.id in self.sent_ids:
            self.stats.resends += 1
        self.sent_ids.add(event.id)

    def oldest_wait(self) -> float:
        """Seconds the longest-waiting event in flight has waited (0 with none)."""
        if not self.in_flight:
            return 0.0
        return time.monotonic() - min(f.sent_at for f in self.in_flight.values())

    def acked(self, seq: object, status: object, reason: object = "") -> None:
        """The server stored (or already had) the event ``seq``, or refused it for good
        (status ``refused``: it can never be stored, so it leaves the outbox all the same)."""
        flight = self.in_flight.pop(seq, None) if is_int(seq) else None
        if flight is None:
            log.warning("%s: ack for seq %r, which is not in flight; ignored", self.unit_id, seq)
            return
        event = flight.event
        refused = status == ACK_REFUSED
        if not refused:
            self.server_last = max(self.server_last, event.seq)
        self.sent_ids.discard(event.id)
        if self.outbox.mark_acked(self.unit_id, event.seq):
            if refused:
                self.stats.refused += 1
                log.error(
                    "%s: the server refused %s seq %d for good (%s); dropped from the outbox",
                    self.unit_id,
                    event.type,
                    event.seq,
                    reason,
                )
            else:
                self.stats.acked += 1
                if status == "duplicate":
                    self.stats.duplicates += 1
            if self.on_ack is not None:
                self.on_ack(self.unit_id, event.seq, str(status))
        self._answered()

    def refused(self, seq: int, code: str, last_seq: object, message: str) -> None:
        """The server refused ``seq`` (``seq_conflict``/``seq_regressed``) and stored nothing."""
        if self.in_flight.pop(seq, None) is None:
            log.warning("%s: %s for seq %d, not in flight; ignored", self.unit_id, code, seq)
            return
        if is_int(last_seq):
            self.server_last = max(self.server_last, last_seq)
        log.warning("%s: server refused seq %d (%s): %s", self.unit_id, seq, code, message)
        self.resync = True
        self._answered()

    def _answered(self) -> None:
        if not (self.resync and not self.in_flight):
            return
        if self.renumbers >= MAX_RENUMBERS_PER_SESSION:
            raise LinkBroken("the server keeps refusing our seqs even after renumbering")
        self.renumbers += 1
        first = self.server_last + 1
        mapping = self.outbox.renumber_from(self.unit_id, first)
        self.numbering += 1
        self.stats.renumbers += 1
        self.resync = False
        self.sent_upto = 0
        log.warning(
            "%s: renumbered %d unacknowledged event(s) from seq %d",
            self.unit_id,
            len(mapping),
            first,
        )
        changed = {old: new for old, new in mapping.items() if old != new}
        if changed and self.on_renumber is not None:
            self.on_renumber(self.unit_id, changed)
