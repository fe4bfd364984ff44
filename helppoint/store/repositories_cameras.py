"""Loading and storing cameras, their links and their clips inside a unit of work's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from helppoint.domain.cameras import Camera, CameraClip, CameraLink, ClipState
from helppoint.store import tables_cameras as tc


class CameraRepository:
    """Cameras, links and clips."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---------- cameras ----------

    def add(self, camera: Camera) -> None:
        self.session.add(camera)

    def get(self, camera_id: str, for_update: bool = False) -> Camera | None:
        query = select(Camera).where(tc.cameras.c.id == camera_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def list(self, active_only: bool = False) -> Sequence[Camera]:
        query = select(Camera).order_by(tc.cameras.c.id)
        if active_only:
            query = query.where(tc.cameras.c.active.is_(True))
        return self.session.scalars(query).all()

    def many(self, camera_ids: Sequence[str]) -> dict[str, Camera]:
        if not camera_ids:
            return {}
        found = self.session.scalars(select(Camera).where(tc.cameras.c.id.in_(camera_ids)))
        return {camera.id: camera for camera in found}

    # ---------- links ----------

    def add_link(self, link: CameraLink) -> None:
        self.session.add(link)

    def remove_link(self, link: CameraLink) -> None:
        self.session.delete(link)

    def links_of_camera(self, camera_id: str) -> Sequence[CameraLink]:
        return self.session.scalars(
            select(CameraLink)
            .where(tc.camera_links.c.camera_id == camera_id)
            .order_by(tc.camera_links.c.id)
        ).all()

    def links_for(self, unit_id: str, zone_id: str | None) -> Sequence[CameraLink]:
        """Links to the unit and to its zone."""
        where = tc.camera_links.c.unit_id == unit_id
        if zone_id is not None:
            where = or_(where, tc.camera_links.c.zone_id == zone_id)
        return self.session.scalars(
            select(CameraLink).where(where).order_by(tc.camera_links.c.id)
        ).all()

    def all_links(self) -> Sequence[CameraLink]:
        return self.session.scalars(select(CameraLink).order_by(tc.camera_links.c.id)).all()

    def own_camera_link(self, unit_id: str) -> CameraLink | None:
        return self.session.scalars(
            select(CameraLink).where(
                tc.camera_links.c.unit_id == unit_id, tc.camera_links.c.own.is_(True)
            )
        ).one_or_none()

    # ---------- clips ----------

    def add_clip(self, clip: CameraClip) -> None:
        self.session.add(clip)

    def get_clip(self, clip_id: int, for_update: bool = False) -> CameraClip | None:
        query = select(CameraClip).where(tc.camera_clips.c.id == clip_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def clips_of(self, incident_id: int) -> Sequence[CameraClip]:
        """The incident's clips, oldest first."""
        return self.session.scalars(
            select(CameraClip)
            .where(tc.camera_clips.c.incident_id == incident_id)
            .order_by(tc.camera_clips.c.id)
        ).all()

    def recording_clips(self) -> Sequence[CameraClip]:
        """Clips still marked as being recorded (by this process or one that has gone)."""
        return self.session.scalars(
            select(CameraClip)
            .where(tc.camera_clips.c.state == ClipState.RECORDING.value)
            .with_for_update()
        ).all()

    def clips_due_for_purge(self, now: datetime, limit: int = 500) -> Sequence[CameraClip]:
        """Clips past retention, not on hold and not yet deleted (one indexed query)."""
        return self.session.scalars(
            select(CameraClip)
            .where(
                tc.camera_clips.c.purged_at.is_(None),
                tc.camera_clips.c.held.is_(False),
                tc.camera_clips.c.retain_until <= now,
            )
            .order_by(tc.camera_clips.c.retain_until)
            .limit(limit)
            .with_for_update()
        ).all()

    def kept_clips(self) -> Sequence[CameraClip]:
        """Every clip whose file is still kept, oldest first."""
        return self.session.scalars(
            select(CameraClip)
            .where(tc.camera_clips.c.purged_at.is_(None), tc.camera_clips.c.path != "")
            .order_by(tc.camera_clips.c.id)
        ).all()
