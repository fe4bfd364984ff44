"""Repositories for safer routes (issue #6)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from helppoint.domain.routes import SaferRoute


class SaferRouteRepository:
    """Safer routes, by id and all of them."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, route: SaferRoute) -> None:
        self.session.add(route)

    def get(self, route_id: int) -> SaferRoute | None:
        return self.session.get(SaferRoute, route_id)

    def delete(self, route: SaferRoute) -> None:
        self.session.delete(route)

    def list(self) -> Sequence[SaferRoute]:
        return self.session.scalars(select(SaferRoute).order_by(SaferRoute.id)).all()  # type: ignore[arg-type]
