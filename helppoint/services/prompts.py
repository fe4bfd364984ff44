"""Messages a unit plays: the built-in prompts and custom audio files uploaded by an admin.

An upload is accepted only if it really is audio: its header must be one of WAV, Ogg, FLAC or
MP3, and FFmpeg (through PyAV, told the format, never guessing) must decode every frame of its
audio stream, no longer than MAX_PROMPT_SECONDS. It is stored with its SHA-256, which units use
to cache it; every upload and removal is audited.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any

from helppoint.domain.errors import InvalidInput, NotFound
from helppoint.domain.model import AuditEntry
from helppoint.protocol.device_link import PROMPTS
from helppoint.services.clock import utcnow
from helppoint.services.views import iso
from helppoint.store.repositories_prompts import StoredPrompt
from helppoint.store.uow import UnitOfWork

#: Largest audio file accepted, in bytes.
MAX_PROMPT_BYTES = 2 * 1024 * 1024
#: Longest prompt accepted, in seconds: a prompt is a sentence, not a programme.
MAX_PROMPT_SECONDS = 60.0
NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")

#: Container formats accepted: FFmpeg demuxer name → (MIME type, file extension).
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("audio/wav", "wav"),
    "ogg": ("audio/ogg", "ogg"),
    "flac": ("audio/flac", "flac"),
    "mp3": ("audio/mpeg", "mp3"),
}


class InvalidPrompt(InvalidInput):
    """The upload is not a prompt we can keep (not audio, too big, too long, bad name)."""


@dataclass(frozen=True)
class AudioFacts:
    """What decoding an audio file found."""

    format: str
    content_type: str
    duration_ms: int
    sample_rate: int
    channels: int


def sniff_format(data: bytes) -> str:
    """The container format from the file's first bytes, or InvalidPrompt."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:3] == b"ID3" or (len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    raise InvalidPrompt(
        "the file is not audio: expected a WAV, Ogg (Vorbis/Opus), FLAC or MP3 file"
    )


def inspect_audio(data: bytes) -> AudioFacts:
    """Decode the whole file; its facts, or InvalidPrompt saying what is wrong."""
    import av

    if not data:
        raise InvalidPrompt("the file is empty")
    if len(data) > MAX_PROMPT_BYTES:
        raise InvalidPrompt(f"the file is larger than {MAX_PROMPT_BYTES} bytes")
    fmt = sniff_format(data)
    samples = 0
    rate = 0
    channels = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt) as container:
            if not container.streams.audio:
                raise InvalidPrompt(f"the {fmt} file has no audio stream")
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate or rate
                channels = len(frame.layout.channels) or channels
                if rate and samples / rate > MAX_PROMPT_SECONDS:
                    raise InvalidPrompt(f"the prompt is longer than {MAX_PROMPT_SECONDS:.0f} s")
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidPrompt(f"the {fmt} file cannot be decoded: {reason}") from None
    if not samples or not rate:
        raise InvalidPrompt(f"the {fmt} file holds no audio")
    return AudioFacts(
        format=fmt,
        content_type=FORMATS[fmt][0],
        duration_ms=round(1000 * samples / rate),
        sample_rate=rate,
        channels=channels,
    )


def check_name(name: str, title: str) -> None:
    """InvalidPrompt unless the name and title can be used."""
    if not NAME.match(name):
        raise InvalidPrompt(
            "a prompt name is 2-32 lower-case letters, digits or _, starting with a letter"
        )
    if name in PROMPTS:
        raise InvalidPrompt(f"{name!r} is a built-in prompt; choose another name")
    if not 0 < len(title.strip()) <= 200:
        raise InvalidPrompt("the title must be 1-200 characters")


def _view(row: StoredPrompt) -> dict[str, Any]:
    return {
        "name": row.name,
        "title": row.title,
        "builtin": False,
        "format": row.format,
        "content_type": row.content_type,
        "duration_ms": row.duration_ms,
        "size": row.size,
        "sha256": row.sha256,
        "uploaded_at": iso(row.uploaded_at),
        "uploaded_by": row.uploaded_by,
    }


def upload_prompt(
    uow: UnitOfWork, name: str, title: str, data: bytes, by: str, address: str | None = None
) -> dict[str, Any]:
    """Store (or replace) a custom prompt after checking it really is audio."""
    check_name(name, title)
    facts = inspect_audio(data)
    digest = hashlib.sha256(data).hexdigest()
    prompt = StoredPrompt(
        name=name,
        title=title.strip(),
        format=facts.format,
        content_type=facts.content_type,
        duration_ms=facts.duration_ms,
        size=len(data),
        sha256=digest,
        uploaded_at=utcnow(),
        uploaded_by=by,
    )
    with uow:
        uow.prompts.save(prompt, data)
        _audit(uow, by, "prompt.uploaded", address, name=name, sha256=digest, size=len(data))
        uow.commit()
        return _view(prompt)


def delete_prompt(uow: UnitOfWork, name: str, by: str, address: str | None = None) -> None:
    """Remove a custom prompt; NotFound if there is none of that name."""
    with uow:
        if not uow.prompts.delete(name):
            raise NotFound(f"there is no custom prompt {name!r}")
        _audit(uow, by, "prompt.deleted", address, name=name)
        uow.commit()


def list_prompts(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every prompt a unit can play: built-in ones first, then custom ones by name."""
    builtin = [{"name": n, "title": t, "builtin": True} for n, t in PROMPTS.items()]
    with uow:
        return builtin + [_view(row) for row in uow.prompts.list()]


def custom_prompt(uow: UnitOfWork, name: str) -> dict[str, Any] | None:
    """A custom prompt's facts (no audio), or None."""
    with uow:
        row = uow.prompts.get(name)
        return _view(row) if row is not None else None


def prompt_audio(uow: UnitOfWork, name: str) -> tuple[bytes, dict[str, Any]]:
    """A custom prompt's audio and facts, for a unit to download; NotFound if none."""
    with uow:
        found = uow.prompts.audio(name)
        if found is None:
            raise NotFound(f"there is no custom prompt {name!r}")
        data, row = found
        return data, _view(row)


def _audit(uow: UnitOfWork, actor: str, action: str, address: str | None, **detail: Any) -> None:
    uow.audit.add(
        AuditEntry(at=utcnow(), actor=actor, action=action, detail=detail, address=address)
    )
