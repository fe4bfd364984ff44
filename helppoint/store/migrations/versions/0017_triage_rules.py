"""suggestion rules, what they suggested, and the marks and suggestions shown on incidents

Patterns and rules as in ARC platforms (docs/triage.md): a supervisor's rules mark alarms and
suggest a classification, and a unit pressed again and again with no voice is marked
"chattering". Never a decision: incidents are only marked.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from helppoint.store.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLASSIFICATIONS = (
    "imminent_threat",
    "concern",
    "medical",
    "information",
    "false_accidental",
    "false_malicious",
    "false_test",
    "technical",
    "silent",
)


def _classification(name: str) -> sa.Enum:
    return sa.Enum(*CLASSIFICATIONS, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "triage_rules",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("mark", sa.String(32), nullable=False),
        sa.Column("suggest", _classification("rule_classification"), nullable=True),
        sa.Column("unit_id", sa.String(64), nullable=True),
        sa.Column("zone_id", sa.String(64), nullable=True),
        sa.Column("hour_from", sa.Integer(), nullable=True),
        sa.Column("hour_to", sa.Integer(), nullable=True),
        sa.Column("voice", sa.String(16), nullable=True),
        sa.Column("min_alarms", sa.Integer(), nullable=False),
        sa.Column("within_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triage_rules"),
        sa.UniqueConstraint("name", name="uq_triage_rules_name"),
    )
    op.create_table(
        "triage_suggestions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("mark", sa.String(32), nullable=False),
        sa.Column("suggested", _classification("suggested_classification"), nullable=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_triage_suggestions_incident_id_incidents"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["triage_rules.id"], name="fk_triage_suggestions_rule_id_triage_rules"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_triage_suggestions"),
        sa.UniqueConstraint("incident_id", "rule", name="uq_triage_suggestions_incident_rule"),
    )
    op.create_index("ix_triage_suggestions_incident_id", "triage_suggestions", ["incident_id"])
    op.create_index("ix_triage_suggestions_at", "triage_suggestions", ["at"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("mark", sa.String(32), nullable=True))
        batch.add_column(sa.Column("suggested", _classification("suggestion"), nullable=True))
        batch.add_column(sa.Column("suggested_by", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("suggested_by")
        batch.drop_column("suggested")
        batch.drop_column("mark")
    op.drop_index("ix_triage_suggestions_at", table_name="triage_suggestions")
    op.drop_index("ix_triage_suggestions_incident_id", table_name="triage_suggestions")
    op.drop_table("triage_suggestions")
    op.drop_table("triage_rules")
