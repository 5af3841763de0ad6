"""residents' questions on proposals, and the proposing groups' answers

Revision ID: e23a5c7f1b90
Revises: a7e3c9d1b5f2
Create Date: 2026-12-04 20:30:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "e23a5c7f1b90"
down_revision = "a7e3c9d1b5f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposal_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("asked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("asker", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("asked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("hidden_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asked_by_user_id"], ["user.id"], name=op.f("fk_proposal_question_asked_by_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_proposal_question_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_question")),
    )
    op.create_index(op.f("ix_proposal_question_proposal_id"), "proposal_question", ["proposal_id"], unique=False)
    op.create_index(op.f("ix_proposal_question_confirmed_at"), "proposal_question", ["confirmed_at"], unique=False)
    op.create_table(
        "question_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("hidden_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by_user_id"], ["user.id"], name=op.f("fk_question_answer_answered_by_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["proposal_question.id"], name=op.f("fk_question_answer_question_id_proposal_question")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_answer")),
        sa.UniqueConstraint("question_id", name=op.f("uq_question_answer_question_id")),
    )


def downgrade() -> None:
    op.drop_table("question_answer")
    op.drop_index(op.f("ix_proposal_question_confirmed_at"), table_name="proposal_question")
    op.drop_index(op.f("ix_proposal_question_proposal_id"), table_name="proposal_question")
    op.drop_table("proposal_question")
