"""Custom audio prompts uploaded by an administrator (services/prompts.py checks them)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from helppoint.store.tables_media import unit_prompts


class StoredPrompt(NamedTuple):
    """A custom prompt's facts (its audio is read only when a unit downloads it)."""

    name: str
    title: str
    format: str
    content_type: str
    duration_ms: int
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str


_FACTS = [unit_prompts.c[field] for field in StoredPrompt._fields]


class PromptRepository:
    """Save, find, list and delete custom prompts by name."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, prompt: StoredPrompt, data: bytes) -> None:
        """Store a prompt, replacing one of the same name."""
        c = unit_prompts.c
        values = {**prompt._asdict(), "data": data}
        if self.session.scalar(select(c.id).where(c.name == prompt.name)) is None:
            self.session.execute(insert(unit_prompts).values(**values))
        else:
            self.session.execute(update(unit_prompts).where(c.name == prompt.name).values(**values))

    def delete(self, name: str) -> bool:
        """Remove a prompt; False if there was none of that name."""
        removed = self.session.execute(delete(unit_prompts).where(unit_prompts.c.name == name))
        return bool(removed.rowcount)  # type: ignore[attr-defined]

    def list(self) -> list[StoredPrompt]:
        """Every custom prompt, by name."""
        rows = self.session.execute(select(*_FACTS).order_by(unit_prompts.c.name))
        return [StoredPrompt(*row) for row in rows]

    def get(self, name: str) -> StoredPrompt | None:
        row = self.session.execute(select(*_FACTS).where(unit_prompts.c.name == name)).first()
        return StoredPrompt(*row) if row is not None else None

    def audio(self, name: str) -> tuple[bytes, StoredPrompt] | None:
        """A prompt's audio and facts, or None."""
        row = self.session.execute(
            select(unit_prompts.c.data, *_FACTS).where(unit_prompts.c.name == name)
        ).first()
        return (bytes(row[0]), StoredPrompt(*row[1:])) if row is not None else None
