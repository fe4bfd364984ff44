"""SIP help points: an HTTP light action (a URL) and the sealed account of the device's HTTP
API (issue #19)

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sip_accounts") as batch:
        # "http:URL" is longer than the DTMF and INFO actions.
        batch.alter_column("light_on", type_=sa.String(length=512), existing_nullable=False)
        batch.alter_column("light_off", type_=sa.String(length=512), existing_nullable=False)
        batch.add_column(sa.Column("http_account", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sip_accounts") as batch:
        batch.drop_column("http_account")
        batch.alter_column("light_off", type_=sa.String(length=32), existing_nullable=False)
        batch.alter_column("light_on", type_=sa.String(length=32), existing_nullable=False)
