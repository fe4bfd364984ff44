"""the index of audit entries by incident leaves out repeat presses' entries

An alarm flood adds one "incident.event_joined" entry per press to dozens of incidents per
batch; indexing them by incident cost the event writer more than an eighth of its time. An
incident's timeline shows its presses from its device events instead (store/tables.py).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The same predicate as store/tables.py's (a migration does not import the live model).
NOT_JOINED = sa.text("action != 'incident.event_joined'")


def upgrade() -> None:
    op.drop_index("ix_audit_entries_incident_id", table_name="audit_entries")
    op.create_index(
        "ix_audit_entries_incident_id",
        "audit_entries",
        ["incident_id"],
        sqlite_where=NOT_JOINED,
        postgresql_where=NOT_JOINED,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entries_incident_id", table_name="audit_entries")
    op.create_index("ix_audit_entries_incident_id", "audit_entries", ["incident_id"])
