"""What the scheme manager enters for the reports (docs/reports.md): the scheme's name and
cost inputs (one row), and interventions at units (new signage…) whose before and after the
report compares. The counted figures are in repositories_reports.py."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from helppoint.domain.reports import CostInputs, Intervention, ReportSettings
from helppoint.store.tables_reports import interventions
from helppoint.store.tables_reports import report_settings as settings_table


class ReportInputRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def settings(self) -> ReportSettings | None:
        """The stored scheme name and cost inputs; None until someone saves them."""
        row = self.session.execute(select(settings_table)).first()
        if row is None:
            return None
        return ReportSettings(
            row.scheme_name,
            CostInputs(row.capital, row.capital_months, row.monitoring_per_month),
            row.updated_at,
            row.updated_by,
        )

    def save_settings(self, settings: ReportSettings) -> None:
        """Store them as the one row every report reads from now on."""
        assert settings.updated_at is not None and settings.updated_by is not None
        values = {
            "scheme_name": settings.scheme_name,
            "capital": settings.costs.capital,
            "capital_months": settings.costs.capital_months,
            "monitoring_per_month": settings.costs.monitoring_per_month,
            "updated_at": settings.updated_at,
            "updated_by": settings.updated_by,
        }
        if self.session.execute(select(settings_table.c.id)).first() is None:
            self.session.execute(insert(settings_table).values(id=1, **values))
        else:
            self.session.execute(
                update(settings_table).where(settings_table.c.id == 1).values(values)
            )

    def add_intervention(
        self, unit_id: str, on: date, what: str, at: datetime, by: str
    ) -> Intervention:
        new_id = self.session.execute(
            insert(interventions)
            .values(unit_id=unit_id, on_date=on, what=what, created_at=at, created_by=by)
            .returning(interventions.c.id)
        ).scalar_one()
        return Intervention(int(new_id), unit_id, on, what)

    def remove_intervention(self, intervention_id: int) -> bool:
        """False when there is no such intervention."""
        gone = self.session.execute(
            delete(interventions).where(interventions.c.id == intervention_id)
        )
        return bool(getattr(gone, "rowcount", 0))

    def interventions(
        self, first_day: date | None = None, last_day: date | None = None
    ) -> list[Intervention]:
        """In date order, those made from `first_day` to `last_day` (inclusive) when given."""
        c = interventions.c
        query = select(c.id, c.unit_id, c.on_date, c.what)
        if first_day is not None:
            query = query.where(c.on_date >= first_day)
        if last_day is not None:
            query = query.where(c.on_date <= last_day)
        rows = self.session.execute(query.order_by(c.on_date, c.id))
        return [Intervention(r.id, r.unit_id, r.on_date, r.what) for r in rows]
