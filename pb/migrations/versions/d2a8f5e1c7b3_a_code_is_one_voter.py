"""a code is one voter: re-entering it resumes the voter, until the results are published

Revision ID: d2a8f5e1c7b3
Revises: b7e4c19d2f31
Create Date: 2026-12-04 04:00:00

Voters made by a voting code point to it (`voter.code_id`, unique) until the results are
published, when the link is cut. Rounds published before this never had the link.
"""

import sqlalchemy as sa
from alembic import op

revision = "d2a8f5e1c7b3"
down_revision = "b7e4c19d2f31"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "voter",
            sa.Column(
                "code_id",
                sa.Integer(),
                sa.ForeignKey("voting_code.id", name="fk_voter_code_id_voting_code"),
                nullable=True,
            ),
        )
    else:  # SQLite adds a column that refers to another table in place, if its default is NULL
        op.execute(
            "ALTER TABLE voter ADD COLUMN code_id INTEGER "
            "CONSTRAINT fk_voter_code_id_voting_code REFERENCES voting_code (id)"
        )
    op.create_index("uq_voter_code_id", "voter", ["code_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_voter_code_id", table_name="voter")
    op.execute("ALTER TABLE voter DROP COLUMN code_id")
