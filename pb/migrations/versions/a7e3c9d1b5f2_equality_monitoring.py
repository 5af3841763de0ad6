"""equality monitoring: a round's switch, counters of answers, and who has answered

Revision ID: a7e3c9d1b5f2
Revises: c3e8a1f4b7d2
Create Date: 2026-12-04 20:30:00

The counters hold a round, a question, an answer and a count: no voter, ballot, session,
area or time, and no id of their own. Who has answered (round and voter only) is deleted
when voting closes.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "a7e3c9d1b5f2"
down_revision = "c3e8a1f4b7d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("round", sa.Column("equality_monitoring", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "equality_count",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_equality_count_round_id_round")),
        sa.PrimaryKeyConstraint("round_id", "question", "answer", name=op.f("pk_equality_count")),
    )
    op.create_table(
        "equality_answered",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_equality_answered_round_id_round")),
        sa.ForeignKeyConstraint(["voter_id"], ["voter.id"], name=op.f("fk_equality_answered_voter_id_voter")),
        sa.PrimaryKeyConstraint("round_id", "voter_id", name=op.f("pk_equality_answered")),
    )


def downgrade() -> None:
    op.drop_table("equality_answered")
    op.drop_table("equality_count")
    # SQLite (3.35 and later) drops a column in place; a batch rebuild would not be safe.
    op.execute('ALTER TABLE "round" DROP COLUMN equality_monitoring')
