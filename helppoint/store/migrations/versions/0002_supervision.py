"""supervision of units: status columns, flips, maintenance tickets, remote configuration

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("heartbeat_grace", sa.Integer(), nullable=False, server_default="8")
        )
        batch_op.add_column(
            sa.Column(
                "supervision_status", sa.String(length=16), nullable=False, server_default="up"
            )
        )
        batch_op.add_column(sa.Column("alert_after", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_help_points_supervision", ["supervision_status", "alert_after"], unique=False
        )
    op.create_table(
        "unit_flips",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=False),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column("last_seen_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_unit_flips_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_unit_flips_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_flips")),
    )
    op.create_index("ix_unit_flips_unit_at", "unit_flips", ["unit_id", "at"], unique=False)
    op.create_table(
        "maintenance_tickets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("fault", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "assigned",
                "fixed",
                "verified",
                name="ticket_state",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("opened_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("assigned_to", sa.String(length=64), nullable=True),
        sa.Column("fixed_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fixed_by", sa.String(length=64), nullable=True),
        sa.Column("verified_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_maintenance_tickets_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["help_points.id"],
            name=op.f("fk_maintenance_tickets_unit_id_help_points"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_tickets")),
    )
    op.create_index(
        "ix_maintenance_tickets_state", "maintenance_tickets", ["state", "opened_at"], unique=False
    )
    op.create_index(
        "ix_maintenance_tickets_unit_fault",
        "maintenance_tickets",
        ["unit_id", "fault", "state"],
        unique=False,
    )
    op.create_table(
        "unit_config_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("requested", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("applied", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("confirmed_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["help_points.id"],
            name=op.f("fk_unit_config_changes_unit_id_help_points"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_config_changes")),
        sa.UniqueConstraint("command_id", name=op.f("uq_unit_config_changes_command_id")),
    )
    op.create_index(
        "ix_unit_config_changes_unit",
        "unit_config_changes",
        ["unit_id", "requested_at"],
        unique=False,
    )

    op.create_table(
        "sia_accounts",
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("zone_units", sa.JSON(), nullable=False),
        sa.Column("key_hex", sa.String(length=64), nullable=True),
        sa.Column("tolerance_past", sa.Integer(), nullable=False),
        sa.Column("tolerance_future", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["help_points.id"], name=op.f("fk_sia_accounts_unit_id_help_points")
        ),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_sia_accounts")),
    )


def downgrade() -> None:
    op.drop_table("sia_accounts")
    op.drop_index("ix_unit_config_changes_unit", table_name="unit_config_changes")
    op.drop_table("unit_config_changes")
    op.drop_index("ix_maintenance_tickets_unit_fault", table_name="maintenance_tickets")
    op.drop_index("ix_maintenance_tickets_state", table_name="maintenance_tickets")
    op.drop_table("maintenance_tickets")
    op.drop_index("ix_unit_flips_unit_at", table_name="unit_flips")
    op.drop_table("unit_flips")
    with op.batch_alter_table("help_points", schema=None) as batch_op:
        batch_op.drop_index("ix_help_points_supervision")
        batch_op.drop_column("alert_after")
        batch_op.drop_column("supervision_status")
        batch_op.drop_column("heartbeat_grace")
