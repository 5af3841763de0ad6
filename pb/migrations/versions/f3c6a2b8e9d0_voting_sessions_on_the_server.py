"""voting sessions on the server, and the helper who entered each paper ballot

Revision ID: f3c6a2b8e9d0
Revises: e5b9c3a7d1f4
Create Date: 2026-12-04 05:00:00

Voters who were part-way through voting at the upgrade start again from their code or
email (their old cookies held the voter's number, which is no longer trusted).
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "f3c6a2b8e9d0"
down_revision = "e5b9c3a7d1f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voting_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("helper_user_id", sa.Integer(), nullable=True),
        sa.Column("challenge_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], name=op.f("fk_voting_session_area_id_area")),
        sa.ForeignKeyConstraint(["helper_user_id"], ["user.id"], name=op.f("fk_voting_session_helper_user_id_user")),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_voting_session_round_id_round")),
        sa.ForeignKeyConstraint(["voter_id"], ["voter.id"], name=op.f("fk_voting_session_voter_id_voter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voting_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_voting_session_token_hash")),
    )
    op.create_index(op.f("ix_voting_session_round_id"), "voting_session", ["round_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "ballot",
            sa.Column(
                "entered_by_user_id",
                sa.Integer(),
                sa.ForeignKey("user.id", name="fk_ballot_entered_by_user_id_user"),
                nullable=True,
            ),
        )
    else:  # SQLite adds a column that refers to another table in place, if its default is NULL
        op.execute(
            "ALTER TABLE ballot ADD COLUMN entered_by_user_id INTEGER "
            'CONSTRAINT fk_ballot_entered_by_user_id_user REFERENCES "user" (id)'
        )


def downgrade() -> None:
    op.execute("ALTER TABLE ballot DROP COLUMN entered_by_user_id")
    op.drop_index(op.f("ix_voting_session_round_id"), table_name="voting_session")
    op.drop_table("voting_session")
