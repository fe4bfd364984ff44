"""Press-time listening at its limit (press_listen_max): what an alarm flood costs it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiortc import RTCConfiguration

from helppoint.calls import listen as listen_module
from helppoint.calls.listen import PressListens
from helppoint.config import Settings
from helppoint.gateway.broker import Broker

pytestmark = pytest.mark.asyncio


class _Links:
    """The device-link hub as press listening asks it: every unit is linked here."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def has_link(self, unit_id: str) -> bool:
        self.asked.append(unit_id)
        return True


def _alarm(n: int) -> dict[str, object]:
    return {"id": n, "unit_id": f"U{n:05d}", "kind": "activation", "state": "new", "ref": ""}


async def _at_limit(tmp_path: Path) -> tuple[PressListens, _Links]:
    links = _Links()
    listens = PressListens(
        uow_factory=lambda: None,  # type: ignore[arg-type, return-value]
        device_link=links,  # type: ignore[arg-type]
        broker=Broker(),
        settings=Settings().with_values({"press_listen_max": 1}),
        recordings_dir=tmp_path,
        configuration=RTCConfiguration,
        ice_servers=list,
    )
    # The one listen allowed is starting: every alarm after it finds the limit reached.
    listens._starting.add(asyncio.get_running_loop().create_future())  # type: ignore[arg-type]
    return listens, links


async def test_a_flood_at_the_limit_is_one_warning_not_one_per_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listens, links = await _at_limit(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.calls.listen"):
            for n in range(1, 501):
                listens._on_incident(_alarm(n))
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1
        assert "1 listens already run" in warnings[0] and "U00001 (incident 1)" in warnings[0]
        # Each alarm's unit was looked up on its own, not by copying every link's id.
        assert links.asked == [f"U{n:05d}" for n in range(1, 501)]
    finally:
        await listens.stop()


async def test_the_next_warning_counts_the_alarms_not_listened_to_meanwhile(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    listens, _ = await _at_limit(tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="helppoint.calls.listen"):
            for n in range(1, 4):
                listens._on_incident(_alarm(n))
            monkeypatch.setattr(listen_module, "FULL_WARNING_EVERY", 0.0)
            listens._on_incident(_alarm(4))
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 2
        assert "3 alarm(s) not listened to" in warnings[1]  # 2 and 3 unsaid, and 4
        assert "U00004 (incident 4)" in warnings[1]
    finally:
        await listens.stop()
