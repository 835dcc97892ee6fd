"""federation tables: peers, peer nonces, collaborations, peer messages, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:03:19.302597
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collaborations",
        sa.Column("collab_id", sa.String(length=128), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("me", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("job", sa.JSON(), nullable=False),
        sa.Column("proposed_by", sa.String(length=96), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("collab_id"),
    )
    with op.batch_alter_table("collaborations", schema=None) as batch_op:
        batch_op.create_index("ix_collaborations_state", ["state"], unique=False)

    op.create_table(
        "peer_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collab_id", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("msg_id", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collab_id", "sender", "receiver", "msg_id"),
    )
    op.create_table(
        "peer_nonces",
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce"),
    )
    with op.batch_alter_table("peer_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_peer_nonces_expires", ["expires_at"], unique=False)

    op.create_table(
        "peer_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collab_id", sa.String(length=128), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("peer_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_peer_outbox_pending", ["delivered", "next_at"], unique=False)

    op.create_table(
        "peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("public_key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("peers")
    with op.batch_alter_table("peer_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_peer_outbox_pending")

    op.drop_table("peer_outbox")
    with op.batch_alter_table("peer_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_peer_nonces_expires")

    op.drop_table("peer_nonces")
    op.drop_table("peer_messages")
    with op.batch_alter_table("collaborations", schema=None) as batch_op:
        batch_op.drop_index("ix_collaborations_state")

    op.drop_table("collaborations")
