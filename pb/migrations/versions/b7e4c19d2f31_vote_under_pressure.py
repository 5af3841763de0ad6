"""the vote under pressure: counted ballots, returning officer, suspension, letters

Revision ID: b7e4c19d2f31
Revises: 380ad75f9e90
Create Date: 2026-12-04 03:00:00

Ballots now carry the count's own mark (`counted`); rounds counted before this get it from
`is_current`, which is what their count used. Rounds get a returning officer and an
emergency suspension; voting codes get their letter's reference and can be cancelled;
batches made during voting are replacements; the turnout keeps code figures.

SQLite: columns are added in place (no table rebuilds: other tables refer to these).
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "b7e4c19d2f31"
down_revision = "380ad75f9e90"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ballot", sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE ballot SET counted = is_current WHERE contest_id IN (SELECT contest_id FROM contest_result)")
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "round",
            sa.Column(
                "returning_officer_id",
                sa.Integer(),
                sa.ForeignKey("user.id", name="fk_round_returning_officer_id_user"),
                nullable=True,
            ),
        )
    else:  # SQLite adds a column that refers to another table in place, if its default is NULL
        op.execute(
            'ALTER TABLE "round" ADD COLUMN returning_officer_id INTEGER '
            'CONSTRAINT fk_round_returning_officer_id_user REFERENCES "user" (id)'
        )
    op.add_column("round", sa.Column("suspended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("round", sa.Column("suspension_reason", sa.Text(), nullable=True))
    op.add_column("code_batch", sa.Column("replacement", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("voting_code", sa.Column("letter", sa.String(length=20), nullable=False, server_default=""))
    op.add_column("voting_code", sa.Column("cancelled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index("ix_voting_code_letter", "voting_code", ["letter"])
    op.add_column("round_turnout", sa.Column("codes", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_index("ix_voting_code_letter", table_name="voting_code")
    # SQLite (3.35 and later) drops a column in place, a column-level foreign key too;
    # a batch rebuild would not be safe.
    for table, column in [
        ("round_turnout", "codes"),
        ("voting_code", "cancelled_at"),
        ("voting_code", "letter"),
        ("code_batch", "replacement"),
        ("round", "suspension_reason"),
        ("round", "suspended_at"),
        ("round", "returning_officer_id"),
        ("ballot", "counted"),
    ]:
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN {column}')
