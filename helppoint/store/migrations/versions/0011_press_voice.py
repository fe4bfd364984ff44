"""incidents keep the voice judgement of the unit's press-time audio and its level

Evidence at press time (docs/triage.md): the server listens to the unit's microphone when it
is pressed and judges voice / silent / noisy; the judgement and the sound's level are shown
with the alarm. Written without moving the incident's version.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column(
                "voice",
                sa.Enum(
                    "voice",
                    "silent",
                    "noisy",
                    name="voice",
                    native_enum=False,
                    length=32,
                    create_constraint=False,
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("voice_level", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("voice_level")
        batch.drop_column("voice")
