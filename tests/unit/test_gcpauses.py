"""The garbage-collector pause watch (helppoint/gcpauses.py)."""

from __future__ import annotations

import gc
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helppoint.gcpauses import (
    OLD_THRESHOLD,
    RECENT,
    YOUNG_THRESHOLD,
    GcPauses,
    LinkFreezer,
    tune_for_serving,
)


@pytest.fixture
def tuned() -> Iterator[None]:
    """tune_for_serving() in this process, undone afterwards."""
    saved = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)


class _Collections:
    """Counts the collections (by generation) and what they found while installed."""

    def __init__(self) -> None:
        self.by_generation = [0, 0, 0]
        self.collected = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            self.by_generation[info["generation"]] += 1
            self.collected += info["collected"]

    def __enter__(self) -> _Collections:
        gc.collect()
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


def test_collections_are_timed_counted_and_long_ones_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pauses = GcPauses(warn_after=0.0)
    pauses.install()
    pauses.install()  # twice is once
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.gcpauses"):
            cycle: list[object] = []
            cycle.append(cycle)  # garbage only a collection frees
            del cycle
            gc.collect()
            gc.collect(0)
    finally:
        pauses.remove()
    gc.collect()  # not counted once removed
    summary = pauses.summary()
    assert summary["collections"] == 2 and summary["full_collections"] == 1
    assert 0 < summary["longest_ms"] <= summary["total_ms"]
    # The full collection's own CPU time (a busy machine's wall time is more).
    assert summary["longest_cpu_ms"] > 0
    messages = [r.getMessage() for r in caplog.records]
    full = [m for m in messages if "generation 2" in m and "paused this process" in m]
    assert full
    # What it freed (the cycle at least) and its CPU time, to tell garbage from a long walk.
    freed = re.search(r"ms of CPU; (\d+) objects freed", full[0])
    assert freed is not None and int(freed.group(1)) >= 1
    assert any("generation 0" in m for m in messages)


def test_short_pauses_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    pauses = GcPauses(warn_after=60.0)
    pauses.install()
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.gcpauses"):
            gc.collect()
    finally:
        pauses.remove()
    assert pauses.summary()["full_collections"] == 1
    assert not caplog.records


def _bursts(count: int, size: int) -> None:
    # What a serving process does: allocate a burst of objects (a batch's results, a pass
    # over the ready sockets), then free them all by reference counting.
    for _ in range(count):
        burst = [{"seq": n, "payload": [n]} for n in range(size)]
        del burst


def test_python_default_collects_in_every_burst() -> None:
    # The case against the default: with a threshold of 700, bursts of 1,000 objects that
    # reference counting frees anyway set off a collection each.
    saved = gc.get_threshold()
    gc.set_threshold(700, saved[1], saved[2])
    try:
        with _Collections() as seen:
            _bursts(50, 1_000)
    finally:
        gc.set_threshold(*saved)
    assert sum(seen.by_generation) >= 50


def test_a_tuned_process_is_not_collected_for_garbage_freed_by_reference_counting(
    tuned: None,
) -> None:
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0  # what existed is out of later collections
    with _Collections() as seen:
        _bursts(50, 1_000)
    assert seen.by_generation == [0, 0, 0]


def test_a_tuned_process_still_collects_cyclic_garbage(tuned: None) -> None:
    with _Collections() as seen:
        for _ in range(2 * YOUNG_THRESHOLD):
            cycle: list[object] = []
            cycle.append(cycle)
            del cycle
    assert seen.by_generation[0] >= 1
    assert seen.collected >= YOUNG_THRESHOLD


def _floods(count: int, in_flight: int) -> None:
    # A flood as a serving process sees it: objects in flight pile up (every press's
    # coroutine, future, frame), so young and middle collections run, then all are freed.
    for _ in range(count):
        flood = [[n] for n in range(in_flight)]
        del flood


def _freeze_links() -> list[list[int]]:
    # What LinkFreezer does once links pile up: collect the young generations and freeze.
    # As many as a third of what the process had when tuned (the full collection then kept
    # it all), so that they alone are enough for Python's rule for a full collection.
    links = [[n] for n in range(gc.get_freeze_count() // 3 + 10_000)]
    gc.collect(1)
    gc.freeze()
    return links


def test_floods_after_links_are_frozen_set_off_no_full_collection(tuned: None) -> None:
    assert gc.get_threshold()[2] == OLD_THRESHOLD
    links = _freeze_links()
    with _Collections() as seen:
        _floods(8, 300_000)
    assert seen.by_generation[1] >= 11  # enough for a full collection at Python's default
    assert seen.by_generation[2] == 0
    del links


def test_at_pythons_default_those_floods_set_off_a_full_collection(tuned: None) -> None:
    # The case for the setting (CPython 3.11): gc.freeze() resets neither of the counts that
    # start a full collection, so every 11th middle collection after a freeze is a full one.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 10)
    links = _freeze_links()
    with _Collections() as seen:
        _floods(8, 300_000)
    assert seen.by_generation[2] >= 1
    del links


def test_the_summary_gives_the_99th_percentile_of_the_latest_pauses() -> None:
    pauses = GcPauses(warn_after=60.0)
    assert pauses.summary()["p99_ms"] == 0.0
    for n in range(1, 1001):  # 1 ms … 1000 ms, through the callback as the collector calls it
        pauses._callback("start", {})
        pauses._started = time.perf_counter() - n / 1000
        pauses._callback("stop", {"generation": 0})
    assert 985 <= pauses.summary()["p99_ms"] <= 1000
    assert pauses.summary()["longest_ms"] >= 1000
    for _ in range(RECENT):  # the ring keeps only the latest: short ones now
        pauses._callback("start", {})
        pauses._callback("stop", {"generation": 0})
    assert pauses.summary()["p99_ms"] < 5
    assert pauses.collections == 1000 + RECENT


class _Links:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


def test_links_are_frozen_as_they_pile_up() -> None:
    links = _Links()
    freezer = LinkFreezer(links, link_step=1000)
    links.count = 999
    assert not freezer.due()  # a small process is never frozen
    links.count = 1000
    assert freezer.due()
    saved = gc.get_freeze_count()
    try:
        kept = [{"link": n} for n in range(1000)]
        freezer.freeze()
        assert gc.get_freeze_count() >= saved + len(kept)
    finally:
        gc.unfreeze()
    assert not freezer.due()
    links.count = 1999
    assert not freezer.due()
    links.count = 2000
    assert freezer.due()
    freezer.freeze()
    gc.unfreeze()
    for _ in range(3000):  # single units dropping and coming back: never a freeze
        links.count -= 1
        assert not freezer.due()
        links.count += 1
        assert not freezer.due()
    links.count = 0  # every link lost …
    assert not freezer.due()
    links.count = 1000  # … and back: new objects, frozen again
    assert freezer.due()


def test_no_freezing_when_switched_off() -> None:
    links = _Links()
    links.count = 50_000
    assert not LinkFreezer(links, link_step=0).due()
