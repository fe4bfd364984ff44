"""how the DC-09 receiver handles each category of event code (issue 17)

Every well-formed SIA DC-03 or Contact ID code is stored; its category (from the published
code tables) is handled as an incident, supervision only or log only. A row holds an admin's
choice for one category; a category without a row has its default.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sia_category_handling",
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("handling", sa.String(length=16), nullable=False),
        sa.Column("updated_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_sia_category_handling")),
    )


def downgrade() -> None:
    op.drop_table("sia_category_handling")
