"""Use cases of camera clips: started, finished, evidence hold, playback and export (audited),
retention, integrity.

A clip is kept exactly as a call's recording is (docs/calls.md): one file with its SHA-256,
deleted by the retention sweep after `recording_retention_days` unless a supervisor holds it;
every playback and export is audited before the file is served; the row stays after the file
is deleted. A clip's row is written when it starts, so the incident shows it at once and a
clip that a stopped server left unfinished is closed as interrupted on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helppoint.domain.cameras import CameraClip, ClipState
from helppoint.domain.errors import NotFound
from helppoint.domain.model import AuditEntry
from helppoint.services.camera_views import ClipView, clip_view
from helppoint.services.clock import utcnow
from helppoint.services.incidents import record_change
from helppoint.services.views import iso
from helppoint.store.recording_files import sha256_of
from helppoint.store.uow import UnitOfWork

log = logging.getLogger(__name__)


def clip_started(
    uow: UnitOfWork,
    *,
    incident_id: int,
    camera_id: str,
    unit_id: str,
    path: str,
    media_type: str,
    pressed_at: datetime,
    started_at: datetime,
    server: str,
) -> int:
    """Put a clip that is being recorded on the record; its id."""
    with uow:
        clip = CameraClip(
            camera_id=camera_id,
            incident_id=incident_id,
            unit_id=unit_id,
            path=path,
            media_type=media_type,
            pressed_at=pressed_at,
            started_at=min(started_at, pressed_at),
            server=server,
        )
        uow.cameras.add_clip(clip)
        uow.flush()
        assert clip.id is not None
        uow.commit()
        return clip.id


@dataclass(frozen=True)
class ClipFile:
    """How a clip's recording ended."""

    state: ClipState
    started_at: datetime
    ended_at: datetime
    size_bytes: int = 0
    sha256: str = ""
    detail: str = ""
    #: The file was not written after all (nothing arrived): keep no path.
    empty: bool = False


def clip_finished(
    uow: UnitOfWork, clip_id: int, finished: ClipFile, retention: timedelta
) -> ClipView:
    """Record how a clip ended, with its checksum, on the incident's record."""
    with uow:
        clip = uow.cameras.get_clip(clip_id, for_update=True)
        if clip is None:
            raise NotFound(f"clip {clip_id} does not exist")
        if finished.empty:
            clip.path = ""
        clip.started_at = min(finished.started_at, clip.pressed_at)
        clip.finish(
            finished.state,
            finished.ended_at,
            retention,
            size_bytes=finished.size_bytes,
            sha256=finished.sha256,
            detail=finished.detail,
        )
        incident = uow.incidents.get(clip.incident_id)
        if incident is not None:
            action = "clip.failed" if finished.state is ClipState.FAILED else "clip.recorded"
            detail: dict[str, Any] = {"clip_id": clip.id, "camera": clip.camera_id}
            if finished.state is ClipState.FAILED:
                detail["reason"] = finished.detail
            else:
                detail |= {"sha256": clip.sha256, "state": clip.state}
            record_change(uow, incident, "system", action, None, **detail)
        uow.commit()
        return clip_view(clip)


def end_stale_clips(uow: UnitOfWork, directory: Path, retention: timedelta) -> int:
    """Close clips left "recording" by a server that stopped: interrupted, with the checksum of
    what the file holds (a fragmented MP4 or Matroska file is playable up to where it ends)."""
    now = utcnow()
    with uow:
        stale = list(uow.cameras.recording_clips())
        for clip in stale:
            target = directory / clip.path if clip.path else None
            if target is not None and target.is_file():
                clip.finish(
                    ClipState.INTERRUPTED,
                    now,
                    retention,
                    size_bytes=target.stat().st_size,
                    sha256=sha256_of(target),
                    detail="the server stopped while recording: the clip ends there",
                )
            else:
                clip.path = ""
                clip.finish(
                    ClipState.FAILED, now, retention, detail="the server stopped before recording"
                )
        uow.commit()
        return len(stale)


def open_clip(
    uow: UnitOfWork,
    clip_id: int,
    reader: str,
    action: str,
    address: str | None = None,
    **detail: Any,
) -> CameraClip:
    """A clip to play, stream or export; the access is written to the audit trail first (with
    ``detail``, e.g. the range streamed)."""
    if action not in ("clip.played", "clip.streamed", "clip.exported"):
        raise ValueError(f"unknown clip access {action!r}")
    with uow:
        clip = uow.cameras.get_clip(clip_id)
        if clip is None:
            raise NotFound(f"clip {clip_id} does not exist")
        if not clip.available:
            raise NotFound(
                f"clip {clip_id} was deleted at the end of its retention ({iso(clip.purged_at)})"
            )
        if not clip.path or clip.recording:
            raise NotFound(f"clip {clip_id} has no finished file ({clip.state})")
        _audit(uow, clip, reader, action, address, sha256=clip.sha256, **detail)
        uow.commit()
        return clip


def hold_clip(
    uow: UnitOfWork, clip_id: int, supervisor: str, reason: str, address: str | None = None
) -> ClipView:
    """Place an evidence hold: the retention sweep will not delete the clip."""
    with uow:
        clip = _for_update(uow, clip_id)
        clip.hold(supervisor, reason, utcnow())
        _audit(uow, clip, supervisor, "clip.held", address, reason=clip.hold_reason)
        uow.commit()
        return clip_view(clip)


def release_clip(
    uow: UnitOfWork, clip_id: int, supervisor: str, address: str | None = None
) -> ClipView:
    """Release an evidence hold; normal retention applies again."""
    with uow:
        clip = _for_update(uow, clip_id)
        previous = clip.hold_reason
        clip.release()
        _audit(uow, clip, supervisor, "clip.released", address, reason=previous)
        uow.commit()
        return clip_view(clip)


def purge_clips(
    uow_factory: Callable[[], UnitOfWork],
    directory: Path,
    now: datetime | None = None,
    batch: int = 200,
) -> int:
    """Delete clips past retention that are not on hold; how many were deleted (audited)."""
    now = now or utcnow()
    purged = 0
    while True:
        uow = uow_factory()
        with uow:
            due = uow.cameras.clips_due_for_purge(now, batch)
            if not due:
                return purged
            for clip in due:
                if clip.path:
                    target = directory / clip.path
                    try:
                        target.unlink(missing_ok=True)
                    except OSError as exc:
                        log.error("retention: cannot delete %s: %s", target, exc)
                        continue
                clip.purged(now)
                _audit(
                    uow, clip, "system", "clip.purged", None, retain_until=iso(clip.retain_until)
                )
                purged += 1
            uow.commit()
        if len(due) < batch:
            return purged


@dataclass(frozen=True)
class ClipCheck:
    """One kept clip checked against its stored checksum."""

    clip_id: int
    path: str
    problem: str  # "" when the file is present and matches


def verify_clips(uow: UnitOfWork, directory: Path) -> list[ClipCheck]:
    """Recompute the SHA-256 of every kept, finished clip; a problem for each missing or
    changed file."""
    with uow:
        checks = []
        for clip in uow.cameras.kept_clips():
            if clip.recording or clip.id is None:
                continue
            target = directory / clip.path
            if not target.is_file():
                problem = "file missing"
            elif sha256_of(target) != clip.sha256:
                problem = "checksum does not match: the file was changed"
            else:
                problem = ""
            checks.append(ClipCheck(clip.id, clip.path, problem))
        return checks


def _for_update(uow: UnitOfWork, clip_id: int) -> CameraClip:
    clip = uow.cameras.get_clip(clip_id, for_update=True)
    if clip is None:
        raise NotFound(f"clip {clip_id} does not exist")
    return clip


def _audit(
    uow: UnitOfWork, clip: CameraClip, actor: str, action: str, address: str | None, **detail: Any
) -> None:
    uow.audit.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            action=action,
            incident_id=clip.incident_id,
            detail={"clip_id": clip.id, "camera": clip.camera_id, **detail},
            address=address,
        )
    )
