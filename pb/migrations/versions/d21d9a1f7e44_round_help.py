"""each round's organiser contact, common questions and paper-voting places

Revision ID: d21d9a1f7e44
Revises: d21c2e8b6d33
Create Date: 2026-12-04 14:40:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "d21d9a1f7e44"
down_revision = "d21c2e8b6d33"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("hours", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_round_contact_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_contact")),
        sa.UniqueConstraint("round_id", name=op.f("uq_round_contact_round_id")),
    )
    op.create_table(
        "round_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_round_question_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_question")),
    )
    op.create_index(op.f("ix_round_question_round_id"), "round_question", ["round_id"], unique=False)
    op.create_table(
        "voting_place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("opening_times", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_voting_place_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voting_place")),
    )
    op.create_index(op.f("ix_voting_place_round_id"), "voting_place", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_voting_place_round_id"), table_name="voting_place")
    op.drop_table("voting_place")
    op.drop_index(op.f("ix_round_question_round_id"), table_name="round_question")
    op.drop_table("round_question")
    op.drop_table("round_contact")
