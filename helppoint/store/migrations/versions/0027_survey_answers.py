"""survey answers: "How safe do you feel here?" on each unit's page (issue 22)

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("hour", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("feeling", sa.SmallInteger(), nullable=False),
        sa.Column("gender", sa.String(length=32), nullable=True),
        sa.Column("age_band", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )
    op.create_index("ix_survey_answers_unit_hour", "survey_answers", ["unit_id", "hour"])
    op.create_index("ix_survey_answers_hour", "survey_answers", ["hour"])


def downgrade() -> None:
    op.drop_index("ix_survey_answers_hour", table_name="survey_answers")
    op.drop_index("ix_survey_answers_unit_hour", table_name="survey_answers")
    op.drop_table("survey_answers")
