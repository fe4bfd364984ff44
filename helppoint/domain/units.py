"""Where a unit stands in the scheme: in service, not yet in service, out of service, revoked
or retired; and whether removing it deletes it or retires it. Pure rules, no I/O."""

from __future__ import annotations

import enum

from helppoint.domain.model import HelpPoint
from helppoint.i18n import N_


class ServiceState(enum.StrEnum):
    """A unit's state as the public, the health board and the admin pages show it."""

    #: Heard from, and not reported down by supervision.
    IN_SERVICE = "in_service"
    #: Provisioned but never heard from: not yet installed or commissioned.
    NOT_YET_IN_SERVICE = "not_yet_in_service"
    #: Supervision reported it down (silent past its heartbeat and grace).
    OUT_OF_SERVICE = "out_of_service"
    #: Its keys were revoked (stolen, withdrawn); it may be provisioned again.
    REVOKED = "revoked"
    #: Removed by an admin but kept for its history; on no map, sign or page any more.
    RETIRED = "retired"


LABELS: dict[ServiceState, str] = {
    ServiceState.IN_SERVICE: N_("In service"),
    ServiceState.NOT_YET_IN_SERVICE: N_("Not yet in service"),
    ServiceState.OUT_OF_SERVICE: N_("Out of service"),
    ServiceState.REVOKED: N_("Revoked"),
    ServiceState.RETIRED: N_("Retired"),
}


def service_state(unit: HelpPoint) -> ServiceState:
    """The unit's state, derived from what is stored (never stored itself)."""
    if unit.retired_at is not None:
        return ServiceState.RETIRED
    if not unit.active:
        return ServiceState.REVOKED
    if unit.last_seen_at is None:
        return ServiceState.NOT_YET_IN_SERVICE
    if unit.supervision_status == "down":
        return ServiceState.OUT_OF_SERVICE
    return ServiceState.IN_SERVICE


def in_scheme(unit: HelpPoint) -> bool:
    """Whether the unit belongs on maps, signs, public pages, the console and health board."""
    return unit.retired_at is None


def in_service_yet(unit: HelpPoint) -> bool:
    """Whether the unit has ever been heard from: before that, it has no uptime to count."""
    return unit.last_seen_at is not None


class Removal(enum.StrEnum):
    """What removing a unit does."""

    DELETED = "deleted"
    RETIRED = "retired"


def removal_for(has_history: bool) -> Removal:
    """A unit with history (events, incidents, tickets, stills …) is retired, never deleted:
    the record of what happened at it must survive; a mistaken, unused unit is deleted."""
    return Removal.RETIRED if has_history else Removal.DELETED
