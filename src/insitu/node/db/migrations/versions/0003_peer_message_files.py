"""peer messages: large payloads live in files, the row keeps their name

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("peer_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file", sa.String(length=64), nullable=True))
        batch_op.alter_column("payload", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("peer_messages", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("file")
