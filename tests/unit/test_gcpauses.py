"""The garbage-collector pause watch (helppoint/gcpauses.py)."""

from __future__ import annotations

import gc
import logging

import pytest

from helppoint.gcpauses import GcPauses


def test_collections_are_timed_counted_and_long_ones_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pauses = GcPauses(warn_after=0.0)
    pauses.install()
    pauses.install()  # twice is once
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.gcpauses"):
            gc.collect()
            gc.collect(0)
    finally:
        pauses.remove()
    gc.collect()  # not counted once removed
    summary = pauses.summary()
    assert summary["collections"] == 2 and summary["full_collections"] == 1
    assert 0 < summary["longest_ms"] <= summary["total_ms"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("generation 2" in m and "paused this process" in m for m in messages)
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
