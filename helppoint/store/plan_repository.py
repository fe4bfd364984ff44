"""Stored trigger plans: one active plan per zone, and optional overrides per unit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from helppoint.domain.plans import PlanScope, StoredPlan
from helppoint.domain.police import PoliceResponse
from helppoint.store.tables_plans import police_responses, trigger_plans


class PlanRepository:
    """Load and save the active plans."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, scope: PlanScope, target_id: str) -> StoredPlan | None:
        return self.session.scalars(
            select(StoredPlan).where(
                trigger_plans.c.scope == scope.value, trigger_plans.c.target_id == target_id
            )
        ).one_or_none()

    def get_for_update(self, scope: PlanScope, target_id: str) -> StoredPlan | None:
        """Load a plan and lock its row, so two imports of one plan apply one after another."""
        return self.session.scalars(
            select(StoredPlan)
            .where(trigger_plans.c.scope == scope.value, trigger_plans.c.target_id == target_id)
            .with_for_update()
        ).one_or_none()

    def add(self, plan: StoredPlan) -> None:
        self.session.add(plan)

    def delete(self, plan: StoredPlan) -> None:
        self.session.delete(plan)

    def list(self) -> Sequence[StoredPlan]:
        return self.session.scalars(
            select(StoredPlan).order_by(trigger_plans.c.scope.desc(), trigger_plans.c.target_id)
        ).all()


class PoliceResponseRepository:
    """Each escalated incident's record of the police response."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, incident_id: int) -> PoliceResponse | None:
        return self.session.get(PoliceResponse, incident_id)

    def get_for_update(self, incident_id: int) -> PoliceResponse | None:
        return self.session.scalars(
            select(PoliceResponse)
            .where(police_responses.c.incident_id == incident_id)
            .with_for_update()
        ).one_or_none()

    def add(self, response: PoliceResponse) -> None:
        self.session.add(response)

    def for_incidents(self, incident_ids: Sequence[int]) -> dict[int, PoliceResponse]:
        rows = self.session.scalars(
            select(PoliceResponse).where(police_responses.c.incident_id.in_(list(incident_ids)))
        ).all()
        return {r.incident_id: r for r in rows}
