"""Camera stills: a JPEG a unit takes on activation, stored per incident as evidence.

A unit uploads its still with the seq of the activation it belongs to; the still joins that
event's incident. Each still is checked to really be a JPEG of sensible size, stored with its
SHA-256, and every view of it is written to the audit trail like other evidence.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, UnidentifiedImageError

from helppoint.domain.errors import InvalidInput, InvalidTransition, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.views import iso
from helppoint.store.repositories_stills import StillFacts
from helppoint.store.uow import UnitOfWork

#: Largest still accepted, in bytes (a 1280x720 JPEG at quality 80 is ~100-200 KB).
MAX_STILL_BYTES = 1024 * 1024
#: Largest picture side accepted, in pixels (refuses decompression bombs before decoding).
MAX_STILL_SIDE = 4096
JPEG_MAGIC = b"\xff\xd8\xff"


class InvalidStill(InvalidInput):
    """The upload is not a JPEG still we can keep."""


class EventNotStored(Exception):
    """The activation a still belongs to is not stored yet: the unit should retry shortly."""


@dataclass(frozen=True)
class CheckedStill:
    """A JPEG that passed the checks."""

    data: bytes
    width: int
    height: int
    sha256: str


def check_jpeg(data: bytes) -> CheckedStill:
    """The still, if ``data`` is one complete JPEG picture within the limits; else InvalidStill."""
    if not data:
        raise InvalidStill("the still is empty")
    if len(data) > MAX_STILL_BYTES:
        raise InvalidStill(f"the still is larger than {MAX_STILL_BYTES} bytes")
    if not data.startswith(JPEG_MAGIC):
        raise InvalidStill("the still is not a JPEG (no JPEG start-of-image marker)")
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            width, height = image.size
            if not (0 < width <= MAX_STILL_SIDE and 0 < height <= MAX_STILL_SIDE):
                raise InvalidStill(
                    f"the still is {width}x{height}; at most {MAX_STILL_SIDE} a side"
                )
            image.load()  # decodes every scan: a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InvalidStill):
            raise
        raise InvalidStill(f"the still is not a valid JPEG picture: {exc}") from None
    return CheckedStill(data, width, height, hashlib.sha256(data).hexdigest())


def store_still(
    uow: UnitOfWork, unit_id: str, seq: int, taken_at: datetime, data: bytes
) -> dict[str, Any]:
    """Keep a unit's still with the incident of its event ``seq``; returns what was stored."""
    still = check_jpeg(data)
    if taken_at.tzinfo is None:
        raise InvalidStill("taken_at needs a UTC offset")
    with uow:
        event = uow.events.find(unit_id, seq)
        if event is None or event.incident_id is None:
            raise EventNotStored(f"event {seq} of {unit_id} is not stored yet; retry shortly")
        incident = uow.incidents.get(event.incident_id)
        assert incident is not None and incident.id is not None
        now = utcnow()
        still_id = uow.stills.add(
            incident.id,
            unit_id,
            seq,
            taken_at,
            now,
            still.width,
            still.height,
            still.sha256,
            still.data,
        )
        record_change(
            uow,
            incident,
            unit_id,
            "still.received",
            None,
            still_id=still_id,
            sha256=still.sha256,
            size=len(still.data),
        )
        uow.commit()
        return {
            "id": still_id,
            "incident_id": incident.id,
            "sha256": still.sha256,
            "width": still.width,
            "height": still.height,
            "size": len(still.data),
        }


def hold_still(
    uow: UnitOfWork, still_id: int, supervisor: str, reason: str, address: str | None = None
) -> dict[str, Any]:
    """Place an evidence hold on a still: the retention sweep keeps it until released."""
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        raise InvalidInput("an evidence hold needs a reason (e.g. a police request number)")
    with uow:
        row = _row_for_update(uow, still_id)
        if row.purged_at is not None:
            raise InvalidTransition(f"still {still_id} was already deleted at the end of retention")
        if row.held:
            raise InvalidTransition(f"still {still_id} is already on hold (by {row.held_by})")
        now = utcnow()
        uow.stills.hold(still_id, supervisor, now, reason)
        _audit(uow, row, supervisor, "still.held", address, reason=reason)
        uow.commit()
    return _still_meta(uow, still_id)


def release_still(
    uow: UnitOfWork, still_id: int, supervisor: str, address: str | None = None
) -> dict[str, Any]:
    """Release a still's evidence hold; normal retention applies again."""
    with uow:
        row = _row_for_update(uow, still_id)
        if not row.held:
            raise InvalidTransition(f"still {still_id} is not on hold")
        uow.stills.release(still_id)
        _audit(uow, row, supervisor, "still.released", address, reason=row.hold_reason)
        uow.commit()
    return _still_meta(uow, still_id)


def purge_stills(
    uow_factory: Callable[[], UnitOfWork],
    retention: timedelta,
    now: datetime | None = None,
    batch: int = 200,
) -> int:
    """Delete the pictures of stills received longer than `retention` ago and not on hold
    (the same retention as call recordings); the rows stay, marked purged and audited."""
    now = now or utcnow()
    purged = 0
    while True:
        uow = uow_factory()
        with uow:
            due = uow.stills.due_for_purge(now - retention, batch)
            for row in due:
                uow.stills.purge(row.id, now)
                _audit(uow, row, "system", "still.purged", None, still_id=row.id)
            uow.commit()
        purged += len(due)
        if len(due) < batch:
            return purged


def _row_for_update(uow: UnitOfWork, still_id: int) -> StillFacts:
    row = uow.stills.get(still_id, for_update=True)
    if row is None:
        raise NotFound(f"still {still_id} does not exist")
    return row


def _audit(
    uow: UnitOfWork, row: StillFacts, actor: str, action: str, address: str | None, **detail: Any
) -> None:
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            incident_id=row.incident_id,
            detail={"still_id": row.id, "sha256": row.sha256} | detail,
            address=address,
        )
    )


def _still_meta(uow: UnitOfWork, still_id: int) -> dict[str, Any]:
    with uow:
        row = uow.stills.get(still_id)
        assert row is not None
        return _meta(row)


def _meta(row: StillFacts) -> dict[str, Any]:
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "unit_id": row.unit_id,
        "seq": row.seq,
        "taken_at": iso(row.taken_at),
        "received_at": iso(row.received_at),
        "width": row.width,
        "height": row.height,
        "size": row.size,
        "sha256": row.sha256,
        "url": f"/api/stills/{row.id}",
        # Evidence like a call recording: hold, and when retention deleted the picture.
        "held": row.held,
        "held_by": row.held_by,
        "hold_reason": row.hold_reason,
        "available": row.purged_at is None,
        "purged_at": iso(row.purged_at),
    }


def stills_for_incident(uow: UnitOfWork, incident_id: int) -> list[dict[str, Any]]:
    """The incident's stills (without the pictures), newest first."""
    with uow:
        if uow.incidents.get(incident_id) is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return [_meta(row) for row in uow.stills.for_incident(incident_id)]


def latest_stills(uow: UnitOfWork, incident_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The newest still of each incident that has one (inside an open unit of work)."""
    ids = list(incident_ids)
    if not ids:
        return {}
    return {row.incident_id: _meta(row) for row in uow.stills.newest_of(ids)}


def open_incidents_stills(uow: UnitOfWork) -> list[dict[str, Any]]:
    """The newest still of every open incident that has one (the storm view's tiles)."""
    with uow:
        ids = [i.id for i in uow.incidents.open_queue() if i.id is not None]
        return list(latest_stills(uow, ids).values())


def view_still(
    uow: UnitOfWork,
    still_id: int,
    viewer: str,
    *,
    police_only: bool,
    address: str | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """The picture and its facts; the view is audited. Police see only their incidents' stills."""
    with uow:
        found = uow.stills.picture(still_id)
        if found is None or (police_only and uow.police.get(found[1].incident_id) is None):
            raise NotFound(f"still {still_id} does not exist")
        picture, row = found
        if row.purged_at is not None:
            raise NotFound(
                f"still {still_id} was deleted at the end of its retention ({iso(row.purged_at)})"
            )
        uow.audit.add(
            AuditEntry(
                at=utcnow(),
                actor=viewer,
                action="still.viewed",
                incident_id=row.incident_id,
                detail={"still_id": still_id, "sha256": row.sha256},
                address=address,
            )
        )
        uow.commit()
        return picture, _meta(row)
