"""Everything that refers to a unit: whether anything happened at it, and deleting a unit
that only ever had configuration (services/unit_admin.remove_unit; the rule is
domain/units.removal_for).
"""

from __future__ import annotations

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.orm import Session

from helppoint.domain.model import HelpPoint
from helppoint.store import tables as t

#: Rows that only configure a unit: deleted along with a unit that has no history.
CONFIGURATION_TABLES = frozenset(
    {"unit_power", "self_test_schedules", "self_test_due", "sip_accounts", "camera_links"}
)


def _referencing_tables() -> list[Table]:
    return [
        table
        for table in t.metadata.sorted_tables
        if table.name != "help_points"
        and any(fk.column is t.help_points.c.id for fk in table.foreign_keys)
    ]


class UnitReferenceRepository:
    """The rows of every table with a foreign key to a unit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def has_history(self, unit_id: str) -> bool:
        """Whether anything happened at the unit (events, incidents, tickets, stills, runs …)."""
        for table in _referencing_tables():
            if table.name in CONFIGURATION_TABLES:
                continue
            for fk in table.foreign_keys:
                if fk.column is t.help_points.c.id and self.session.scalar(
                    select(exists().where(fk.parent == unit_id))
                ):
                    return True
        return False

    def delete_unit(self, unit: HelpPoint) -> None:
        """Delete a unit and every row that refers to it (its configuration)."""
        for table in _referencing_tables():
            for fk in table.foreign_keys:
                if fk.column is t.help_points.c.id:
                    self.session.execute(delete(table).where(fk.parent == unit.id))
        self.session.delete(unit)
