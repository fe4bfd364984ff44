"""API tokens of scripts (domain/api_tokens.py): stored by the hash of their secret."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from helppoint.domain.api_tokens import ApiToken
from helppoint.store.tables_admin import api_tokens


class ApiTokenRepository:
    """Add, find and list API tokens."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: ApiToken) -> None:
        self.session.add(token)

    def get(self, token_id: int) -> ApiToken | None:
        return self.session.get(ApiToken, token_id)

    def by_hash(self, token_hash: str) -> ApiToken | None:
        """The token whose secret hashes to `token_hash`, if any."""
        return self.session.scalar(select(ApiToken).where(api_tokens.c.token_hash == token_hash))

    def list(self, operator_id: int | None = None) -> list[ApiToken]:
        """One operator's tokens (or, without one, everybody's), newest first."""
        c = api_tokens.c
        query = select(ApiToken).order_by(c.id.desc())
        if operator_id is not None:
            query = query.where(c.operator_id == operator_id)
        return list(self.session.scalars(query))
