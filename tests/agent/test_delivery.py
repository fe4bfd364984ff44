"""The in-flight window and the renumbering rule, without a network."""

from __future__ import annotations

import pytest

from helppoint.agent.delivery import MAX_RENUMBERS_PER_SESSION, Delivery
from helppoint.agent.outbox import Outbox
from helppoint.agent.protocol import LinkBroken, LinkStats


def delivery(outbox: Outbox, server_last: int = 0, window: int = 32) -> Delivery:
    return Delivery(
        "HP-01", outbox, window=window, server_last=server_last, stats=LinkStats(), sent_ids=set()
    )


def send_all(d: Delivery) -> list[int]:
    sent = []
    while d.can_send and (batch := d.next_batch()):
        for event in batch:
            d.sending(event)
            sent.append(event.seq)
    return sent


def test_the_window_limits_what_is_in_flight() -> None:
    outbox = Outbox()
    for _ in range(5):
        outbox.append("HP-01", "activation")
    d = delivery(outbox, window=2)
    assert send_all(d) == [1, 2]
    d.acked(1, "stored")
    assert send_all(d) == [3]
    assert d.stats.max_in_flight == 2 and d.stats.acked == 1


def test_renumbering_waits_until_every_event_in_flight_is_answered() -> None:
    outbox = Outbox()  # a fresh outbox: the server already has 57 events of this unit
    for n in range(3):
        outbox.append("HP-01", "activation", {"n": n})
    d = delivery(outbox, server_last=57)
    assert send_all(d) == [1, 2, 3]
    d.refused(1, "seq_conflict", 57, "renumber from 58")
    assert not d.can_send  # nothing more goes out...
    assert [e.seq for e in outbox.unacked("HP-01")] == [1, 2, 3]  # ...and nothing renumbered yet
    d.refused(2, "seq_conflict", 57, "")
    d.refused(3, "seq_regressed", 57, "")
    assert [e.seq for e in outbox.unacked("HP-01")] == [58, 59, 60]
    assert d.can_send and d.numbering == 1 and d.stats.renumbers == 1
    assert send_all(d) == [58, 59, 60]
    assert d.stats.resends == 3


def test_an_event_stored_meanwhile_keeps_its_number() -> None:
    outbox = Outbox()
    outbox.append("HP-01", "activation", {"old": True})  # seq 1, from before the outbox loss
    outbox.adopt_server_last_seq("HP-01", 57)
    outbox.append("HP-01", "activation", {"new": True})  # seq 58
    d = delivery(outbox, server_last=57)
    assert send_all(d) == [1, 58]
    d.refused(1, "seq_conflict", 57, "")
    d.acked(58, "stored")  # stored before our refusal was handled
    # Renumbering only now, above 58: the stored event is not given a second number.
    assert [(e.seq, e.payload) for e in outbox.unacked("HP-01")] == [(59, {"old": True})]


def test_answers_for_events_not_in_flight_change_nothing() -> None:
    outbox = Outbox()
    outbox.append("HP-01", "activation")
    d = delivery(outbox)
    d.acked(1, "stored")  # never sent on this connection
    d.acked(True, "stored")  # JSON true is not seq 1
    d.refused(7, "seq_conflict", 9, "")
    assert outbox.unacked_count("HP-01") == 1 and d.can_send


def test_endless_refusals_break_the_link() -> None:
    outbox = Outbox()
    outbox.append("HP-01", "activation")
    d = delivery(outbox)
    with pytest.raises(LinkBroken, match="keeps refusing"):
        for _ in range(MAX_RENUMBERS_PER_SESSION + 1):
            [seq] = send_all(d)
            d.refused(seq, "seq_conflict", d.server_last, "")


def test_an_event_the_server_refused_for_good_leaves_the_outbox() -> None:
    outbox = Outbox()
    outbox.append("HP-01", "explosion")  # a kind the server does not know
    outbox.append("HP-01", "activation")
    d = delivery(outbox, server_last=0)
    assert send_all(d) == [1, 2]
    d.acked(1, "refused", "field 'event' must be one of …")
    d.acked(2, "stored")
    assert outbox.unacked("HP-01") == []
    assert (d.stats.refused, d.stats.acked) == (1, 1)
    assert d.server_last == 2 and d.can_send
