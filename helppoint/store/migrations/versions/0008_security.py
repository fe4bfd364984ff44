"""security hardening: TOTP, login throttling, session idle time (issue #7)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = ("operator", "supervisor", "admin", "auditor", "police")


def _time() -> helppoint.store.types.UTCDateTime:
    return helppoint.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(
            sa.Column("two_factor_secret", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("two_factor_enabled", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("two_factor_last_step", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("help_points") as batch:
        batch.add_column(
            sa.Column("previous_key_hash", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("previous_key_until", _time(), nullable=True))
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", _time(), nullable=True))
        batch.add_column(
            sa.Column("idle_timeout", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", _time(), nullable=True),
        sa.Column("locked_until", _time(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_table(
        "role_policies",
        sa.Column(
            "role",
            sa.Enum(*ROLES, name="role", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("require_two_factor", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_role_policies")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("used_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_recovery_codes_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(
        op.f("ix_recovery_codes_operator_id"), "recovery_codes", ["operator_id"], unique=False
    )
    op.create_table(
        "pending_sign_ins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_pending_sign_ins_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_pending_sign_ins")),
    )


def downgrade() -> None:
    op.drop_table("pending_sign_ins")
    op.drop_index(op.f("ix_recovery_codes_operator_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("role_policies")
    op.drop_table("login_throttles")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("idle_timeout")
        batch.drop_column("last_seen_at")
    with op.batch_alter_table("help_points") as batch:
        batch.drop_column("previous_key_until")
        batch.drop_column("previous_key_hash")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("two_factor_last_step")
        batch.drop_column("two_factor_enabled")
        batch.drop_column("two_factor_secret")
