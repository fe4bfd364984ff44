"""public awareness and scheme reporting: safer routes, imported street-level crimes

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safer_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("updated_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safer_routes")),
    )
    op.create_table(
        "crime_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("crime_id", sa.String(length=100), nullable=False),
        sa.Column("falls_within", sa.String(length=100), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("lsoa_code", sa.String(length=16), nullable=False),
        sa.Column("crime_type", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crime_records")),
    )
    op.create_index("ix_crime_records_type_month", "crime_records", ["crime_type", "month"])
    op.create_index("ix_crime_records_month_force", "crime_records", ["month", "falls_within"])


def downgrade() -> None:
    op.drop_index("ix_crime_records_month_force", table_name="crime_records")
    op.drop_index("ix_crime_records_type_month", table_name="crime_records")
    op.drop_table("crime_records")
    op.drop_table("safer_routes")
