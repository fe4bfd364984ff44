"""The local outbox: numbering, order, durability across a restart, renumbering."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helppoint.agent.outbox import Outbox, OutboxError, utc_timestamp


def test_events_are_numbered_per_unit_and_listed_in_order() -> None:
    box = Outbox()
    for n in range(3):
        box.append("HP-01", "activation", {"n": n})
    box.append("HP-02", "tamper")
    assert [(e.seq, e.payload) for e in box.unacked("HP-01")] == [
        (1, {"n": 0}),
        (2, {"n": 1}),
        (3, {"n": 2}),
    ]
    assert [(e.seq, e.type) for e in box.unacked("HP-02")] == [(1, "tamper")]
    assert [e.seq for e in box.unacked("HP-01", after_seq=1, limit=1)] == [2]
    assert box.unacked_counts() == {"HP-01": 3, "HP-02": 1}
    assert box.unacked_counts(["HP-02"]) == {"HP-02": 1}


def test_the_event_frame_is_what_the_protocol_describes() -> None:
    box = Outbox()
    at = datetime(2026, 11, 25, 21, 14, 5, 3000, tzinfo=UTC)
    event = box.append("HP-01", "activation", {"hold_ms": 120}, at=at)
    assert event.frame() == {
        "type": "event",
        "seq": 1,
        "event": "activation",
        "time": "2026-11-25T21:14:05.003Z",
        "payload": {"hold_ms": 120},
    }
    assert utc_timestamp().endswith("Z")


def test_acked_events_are_not_listed_and_ack_is_idempotent() -> None:
    box = Outbox()
    box.append("HP-01", "activation")
    box.append("HP-01", "activation")
    assert box.mark_acked("HP-01", 1) is True
    assert box.mark_acked("HP-01", 1) is False
    assert box.mark_acked("HP-01", 99) is False
    assert [e.seq for e in box.unacked("HP-01")] == [2]
    assert [e.acked for e in box.events("HP-01")] == [True, False]


def test_events_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box.append("HP-01", "activation", {"n": 1})
    box.append("HP-01", "activation", {"n": 2})
    box.mark_acked("HP-01", 1)
    box.close()
    reopened = Outbox(path)
    assert [(e.seq, e.payload) for e in reopened.unacked("HP-01")] == [(2, {"n": 2})]
    assert reopened.append("HP-01", "fault").seq == 3
    reopened.close()
    with sqlite3.connect(path) as db:  # durable settings are in force on the file
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_numbers_are_never_reused_even_after_pruning() -> None:
    box = Outbox()
    for _ in range(5):
        box.append("HP-01", "activation")
    for seq in range(1, 6):
        box.mark_acked("HP-01", seq)
    assert box.prune_acked("HP-01", keep=2) == 3
    assert [e.seq for e in box.events("HP-01")] == [4, 5]
    assert box.append("HP-01", "activation").seq == 6


def test_adopting_the_servers_last_seq_moves_new_numbers_up_only() -> None:
    box = Outbox()
    assert box.adopt_server_last_seq("HP-01", 41) == 42
    assert box.append("HP-01", "activation").seq == 42
    assert box.adopt_server_last_seq("HP-01", 10) == 43  # never backwards
    assert box.next_seq("HP-01") == 43


def test_renumbering_keeps_order_content_and_acked_events() -> None:
    box = Outbox()
    for n in range(4):
        box.append("HP-01", "activation", {"n": n})
    box.mark_acked("HP-01", 1)
    mapping = box.renumber_from("HP-01", 58)
    assert mapping == {2: 58, 3: 59, 4: 60}
    assert [(e.seq, e.payload["n"], e.acked) for e in box.events("HP-01")] == [
        (1, 0, True),
        (58, 1, False),
        (59, 2, False),
        (60, 3, False),
    ]
    assert box.append("HP-01", "tamper").seq == 61


def test_renumbering_into_its_own_range_and_below_acked_events_is_safe() -> None:
    box = Outbox()
    for n in range(6):
        box.append("HP-01", "activation", {"n": n})
    box.mark_acked("HP-01", 3)
    # Overlapping the current numbers must not trip the (unit, seq) uniqueness, and no
    # unacknowledged event may take a number at or below an acknowledged one.
    mapping = box.renumber_from("HP-01", 2)
    assert mapping == {1: 4, 2: 5, 4: 6, 5: 7, 6: 8}
    assert [e.payload["n"] for e in box.unacked("HP-01")] == [0, 1, 3, 4, 5]


def test_appends_from_many_threads_get_distinct_numbers(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite")
    threads = [
        threading.Thread(target=lambda: [box.append("HP-01", "activation") for _ in range(25)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e.seq for e in box.unacked("HP-01")] == list(range(1, 101))
    box.close()


def test_an_unwritable_outbox_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot open the outbox"):
        Outbox(blocker / "outbox.sqlite")


def _committed(path: Path) -> list[tuple[str, int]]:
    """The events another connection sees: what is committed."""
    with sqlite3.connect(path) as other:
        return other.execute("SELECT unit, seq FROM outbox_events ORDER BY id").fetchall()


def test_appends_together_are_committed_together_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    with outbox.together():
        first = outbox.append("HP-01", "activation")
        with outbox.together():  # nested: the same transaction
            second = outbox.append("HP-02", "activation")
        outbox.mark_acked("HP-01", first.seq)
        assert _committed(path) == []  # not yet: nothing may be sent before the end
    assert _committed(path) == [("HP-01", 1), ("HP-02", 1)]
    assert outbox.unacked("HP-01") == [] and [e.seq for e in outbox.unacked("HP-02")] == [1]
    assert second.seq == 1
    outbox.append("HP-01", "activation")  # on its own again
    assert _committed(path)[-1] == ("HP-01", 2)
    outbox.close()


def test_an_error_among_appends_together_undoes_them_all(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    with pytest.raises(RuntimeError, match="power"), outbox.together():
        outbox.append("HP-01", "activation")
        raise RuntimeError("power cut in the simulation")
    assert _committed(path) == []
    assert outbox.append("HP-01", "activation").seq == 1  # nothing half-kept
    outbox.close()
