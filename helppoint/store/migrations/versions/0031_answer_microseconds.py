"""incidents keep their answer time in whole microseconds, stored on acknowledgement

acknowledged_at - opened_at (domain.model.answer_microseconds): the monthly and yearly reports
group up to a million activations by it, which they did by computing it from the two times
in every query (on SQLite from the stored text: slow). Existing rows are filled in here,
exactly (no floating point), on both databases; and an index holding every column the
reports' grouped counts read (issue 23).

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A stored time in whole microseconds since 1970 (store/types.py epoch_microseconds).
_SQLITE = (
    "(CAST(strftime('%s', substr({0}, 1, 19)) AS BIGINT) * 1000000"
    " + CAST(substr({0}, 21, 6) AS BIGINT))"
)
_POSTGRES = "CAST(EXTRACT(epoch FROM {0}) * 1000000 AS BIGINT)"


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("answer_microseconds", sa.BigInteger(), nullable=True))
    micro = _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES
    op.execute(
        f"UPDATE incidents SET answer_microseconds = "
        f"{micro.format('acknowledged_at')} - {micro.format('opened_at')} "
        "WHERE acknowledged_at IS NOT NULL"
    )
    # The reports' grouped counts read only these columns (store/repositories_reports.py).
    op.create_index(
        "ix_incidents_report",
        "incidents",
        [
            "opened_at",
            "priority",
            "on_test",
            "classification",
            "answer_microseconds",
            "unit_id",
            "event_count",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_report", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("answer_microseconds")
