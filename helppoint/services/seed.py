"""The reference deployment used by the demo: eight units in two zones of Northampton."""

from __future__ import annotations

from dataclasses import dataclass

from helppoint.services.units import ProvisionedUnit, ensure_zone, provision_unit
from helppoint.store.uow import UnitOfWork


@dataclass(frozen=True)
class SeedUnit:
    id: str
    name: str
    zone_id: str
    latitude: float
    longitude: float
    description: str


ZONES = (
    (
        "racecourse",
        "Racecourse path",
        "Lit path across the Racecourse, Kettering Road to Barrack Road",
    ),
    ("town-centre", "Town centre", "Night-time economy area around the Market Square"),
)

UNITS = (
    SeedUnit(
        "HP-01",
        "Racecourse - Kettering Road gate",
        "racecourse",
        52.24682,
        -0.88414,
        "At the Kettering Road entrance, beside the lamp post",
    ),
    SeedUnit(
        "HP-02",
        "Racecourse - pavilion",
        "racecourse",
        52.24881,
        -0.88803,
        "On the path by the old pavilion",
    ),
    SeedUnit(
        "HP-03",
        "Racecourse - middle path",
        "racecourse",
        52.25072,
        -0.89155,
        "Halfway along the diagonal path",
    ),
    SeedUnit(
        "HP-04",
        "Racecourse - Barrack Road gate",
        "racecourse",
        52.25218,
        -0.89566,
        "At the Barrack Road entrance",
    ),
    SeedUnit(
        "HP-05",
        "Market Square",
        "town-centre",
        52.23724,
        -0.89591,
        "North side of the Market Square, by the taxi rank",
    ),
    SeedUnit("HP-06", "Abington Street", "town-centre", 52.23820, -0.89212, "Outside the library"),
    SeedUnit(
        "HP-07",
        "Gold Street",
        "town-centre",
        52.23585,
        -0.90030,
        "Corner of Gold Street and College Street",
    ),
    SeedUnit(
        "HP-08",
        "Bridge Street",
        "town-centre",
        52.23420,
        -0.89720,
        "Bridge Street, by the bus stop",
    ),
)


def seed_demo(uow: UnitOfWork) -> list[ProvisionedUnit]:
    """Create (or re-key) the two zones and eight units; returns each unit's new key."""
    with uow:
        for zone_id, name, description in ZONES:
            ensure_zone(uow, zone_id, name, description)
        uow.flush()
        keys = [
            provision_unit(
                uow,
                unit.id,
                unit.name,
                unit.zone_id,
                unit.latitude,
                unit.longitude,
                unit.description,
                actor="demo",
            )
            for unit in UNITS
        ]
        uow.commit()
        return keys
