"""notices: residents' confirmed subscriptions to a round's news, and once-only messages sent

Revision ID: d21b7f3a4c22
Revises: d21a0c5e9b11
Create Date: 2026-12-04 14:40:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "d21b7f3a4c22"
down_revision = "d21a0c5e9b11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_notice_subscription_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_subscription")),
        sa.UniqueConstraint("round_id", "email", name=op.f("uq_notice_subscription_round_id_email")),
    )
    op.create_index(op.f("ix_notice_subscription_email"), "notice_subscription", ["email"], unique=False)
    op.create_index(op.f("ix_notice_subscription_round_id"), "notice_subscription", ["round_id"], unique=False)
    op.create_table(
        "notice_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_notice_sent_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_sent")),
        sa.UniqueConstraint("round_id", "topic", name=op.f("uq_notice_sent_round_id_topic")),
    )
    op.create_index(op.f("ix_notice_sent_round_id"), "notice_sent", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notice_sent_round_id"), table_name="notice_sent")
    op.drop_table("notice_sent")
    op.drop_index(op.f("ix_notice_subscription_round_id"), table_name="notice_subscription")
    op.drop_index(op.f("ix_notice_subscription_email"), table_name="notice_subscription")
    op.drop_table("notice_subscription")
