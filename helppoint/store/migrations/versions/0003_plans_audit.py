"""trigger plans, outbox, hash-chained audit trail

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import helppoint.store.types
from helppoint.domain.audit import ChainHead
from helppoint.domain.model import AuditEntry

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _chain_existing_entries() -> ChainHead:
    """Chain the entries written before the trail was hash-chained, in id order."""
    bind = op.get_bind()
    entries = sa.table(
        "audit_entries",
        sa.column("id", sa.BigInteger()),
        sa.column("at", helppoint.store.types.UTCDateTime(timezone=True)),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("incident_id", sa.BigInteger()),
        sa.column("detail", sa.JSON()),
        sa.column("address", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    head = ChainHead()
    rows = bind.execute(
        sa.select(
            entries.c.id,
            entries.c.at,
            entries.c.actor,
            entries.c.action,
            entries.c.incident_id,
            entries.c.detail,
            entries.c.address,
        ).order_by(entries.c.id)
    ).all()
    for row in rows:
        entry = AuditEntry(
            at=row.at,
            actor=row.actor,
            action=row.action,
            incident_id=row.incident_id,
            detail=row.detail or {},
            address=row.address,
        )
        head.append(entry)
        bind.execute(
            entries.update()
            .where(entries.c.id == row.id)
            .values(seq=entry.seq, prev_hash=entry.prev_hash, hash=entry.hash)
        )
    return head


def upgrade() -> None:
    op.create_table(
        "sla_alerts",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("alerted_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_sla_alerts_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_sla_alerts")),
    )
    op.create_table(
        "police_responses",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("called_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("called_by", sa.String(length=64), nullable=False),
        sa.Column(
            "acknowledged_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("cad_reference", sa.String(length=64), nullable=False),
        sa.Column("on_scene_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_police_responses_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_police_responses")),
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "police",
                "ambulance",
                "site_security",
                "council_safeguarding",
                "supervisor",
                name="action_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "webhook",
                "cap",
                "email",
                "phone",
                "console",
                name="channel",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column(
            "next_attempt_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("deadline_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="notification_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("lease_until", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "overdue_alerted_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_notifications_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_notifications_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_notifications_deadline", ["overdue_alerted_at", "deadline_at"], unique=False
        )
    op.create_table(
        "trigger_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "scope",
            sa.Enum("zone", "unit", name="plan_scope", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", helppoint.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_plans")),
        sa.UniqueConstraint("scope", "target_id", name="uq_trigger_plans_scope_target"),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    head = _chain_existing_entries()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_seq"), ["seq"])
    head_table = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
    )
    op.bulk_insert(head_table, [{"id": 1, "seq": head.seq, "hash": head.hash}])


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_chain_head")
    op.drop_table("trigger_plans")
    op.drop_table("notifications")
    op.drop_table("police_responses")
    op.drop_table("sla_alerts")
