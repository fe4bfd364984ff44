"""SIP help points: whether the unit is called back with SRTP (SDES) offered (issue #19)

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sip_accounts") as batch:
        batch.add_column(sa.Column("srtp", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sip_accounts") as batch:
        batch.drop_column("srtp")
