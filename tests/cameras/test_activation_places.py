"""The cameras job acts only on presses of units that have cameras, and sees link changes
before the presses that follow them (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from helppoint.cameras.activation import CameraActivations
from helppoint.domain.cameras import CameraLink, LinkedPlaces
from helppoint.gateway.broker import Broker
from helppoint.services.cameras import (
    CameraDetails,
    link_camera,
    register_camera,
    remove_camera,
)
from helppoint.services.incident_cameras import linked_places
from helppoint.services.seed import seed_demo
from helppoint.store.database import make_session_factory
from helppoint.store.sealed import Sealer
from helppoint.store.uow import UnitOfWork
from helppoint.topics import Topic
from tests.conftest import Database

from .waiting import eventually

FIXED = CameraDetails(name="Fixed", rtsp_url="rtsp://192.0.2.10:554/stream1")


def test_linked_places_are_a_units_own_links_and_its_zones() -> None:
    places = LinkedPlaces.of(
        [CameraLink("C1", unit_id="HP-01"), CameraLink("C2", zone_id="town-centre")]
    )
    assert places.has_cameras("HP-01", "racecourse")
    assert places.has_cameras("HP-06", "town-centre")
    assert not places.has_cameras("HP-02", "racecourse")
    assert not places.has_cameras("HP-02", None)


def test_only_active_cameras_links_count(database: Database) -> None:
    seed_demo(database.uow())
    sealer = Sealer(secrets.token_bytes(32))
    assert linked_places(database.uow()) == LinkedPlaces(frozenset(), frozenset())
    for camera_id in ("CAM-01", "CAM-02"):
        register_camera(database.uow(), sealer, camera_id, FIXED, "ada")
    link_camera(database.uow(), "CAM-01", unit_id="HP-01", actor="ada")
    link_camera(database.uow(), "CAM-02", zone_id="town-centre", actor="ada")
    assert linked_places(database.uow()) == LinkedPlaces(
        frozenset({"HP-01"}), frozenset({"town-centre"})
    )
    remove_camera(database.uow(), "CAM-02", "ada")
    assert linked_places(database.uow()) == LinkedPlaces(frozenset({"HP-01"}), frozenset())


class _Recorder(CameraActivations):
    def __init__(self, database: Database, broker: Broker) -> None:
        super().__init__(lambda: database.uow(), broker, None)  # type: ignore[arg-type]
        self.presses: list[str] = []
        self.pressed_again = asyncio.Event()

    async def pressed(self, incident_id: int, unit_id: str, first: bool, at: datetime) -> None:
        self.presses.append(unit_id)
        self.pressed_again.set()


def press(incident_id: int, unit_id: str, zone_id: str) -> dict[str, Any]:
    return {
        "id": incident_id,
        "unit_id": unit_id,
        "zone_id": zone_id,
        "kind": "activation",
        "state": "new",
        "event_count": 1,
        "last_event_at": datetime.now(UTC).isoformat(),
    }


async def _job_with_a_camera_at_hp01(
    database: Database,
) -> tuple[_Recorder, Broker, Callable[[], UnitOfWork]]:
    """The demo's units, CAM-01 linked to HP-01, and the job started on a broker of its own."""
    seed_demo(database.uow())
    sealer = Sealer(secrets.token_bytes(32))
    broker = Broker()
    broker.bind(asyncio.get_running_loop())

    def publishing() -> UnitOfWork:
        return UnitOfWork(make_session_factory(database.engine), publish=broker.publish)

    register_camera(publishing(), sealer, "CAM-01", FIXED, "ada")
    link_camera(publishing(), "CAM-01", unit_id="HP-01", actor="ada")
    job = _Recorder(database, broker)
    await job.start()
    return job, broker, publishing


async def test_presses_of_units_without_cameras_are_not_looked_up(database: Database) -> None:
    job, broker, publishing = await _job_with_a_camera_at_hp01(database)
    try:
        await eventually(lambda: asyncio.sleep(0, job.places))  # read on the thread pool
        broker.publish(Topic.INCIDENTS, press(1, "HP-02", "racecourse"))
        broker.publish(Topic.INCIDENTS, press(2, "HP-01", "racecourse"))
        await job.pressed_again.wait()
        assert job.presses == ["HP-01"]
        # A link committed before a press is seen by that press, however soon it follows.
        link_camera(publishing(), "CAM-01", zone_id="town-centre", actor="ada")
        broker.publish(Topic.INCIDENTS, press(3, "HP-06", "town-centre"))
        job.pressed_again.clear()
        await job.pressed_again.wait()
        assert job.presses == ["HP-01", "HP-06"]
    finally:
        await job.stop()


async def test_a_resync_keeps_what_is_known_while_it_is_read_again(database: Database) -> None:
    """In a flood the job falls behind and is told to resync: forgetting the places then made
    every press of the flood a look-up, which made it fall further behind (issue 21)."""
    job, broker, _ = await _job_with_a_camera_at_hp01(database)
    try:
        await eventually(lambda: asyncio.sleep(0, job.places))  # read on the thread pool
        broker.resync_all()
        await asyncio.sleep(0)  # the resync is queued before the presses below
        broker.publish(Topic.INCIDENTS, press(1, "HP-02", "racecourse"))
        broker.publish(Topic.INCIDENTS, press(2, "HP-01", "racecourse"))
        await job.pressed_again.wait()
        assert job.presses == ["HP-01"]
        assert job.places is not None
    finally:
        await job.stop()
