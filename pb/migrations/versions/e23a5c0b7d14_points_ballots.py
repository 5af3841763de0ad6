"""points ballots: a contest's points to share out and most on one project; a choice's points

Revision ID: e23a5c0b7d14
Revises: e7a4c1d9b2f5
Create Date: 2026-12-04 20:10:00

Existing contests get 10 points, at most 5 on one project (used only by points ballots).
The columns are added with their checks in place: on SQLite by ALTER TABLE ... ADD COLUMN
with a CHECK, as a batch rebuild of contest or ballot_choice would drop the rows' guards
(ballot_choice's triggers) or trip over the tables that refer to contest.
"""

import sqlalchemy as sa
from alembic import op

revision = "e23a5c0b7d14"
down_revision = "e7a4c1d9b2f5"
branch_labels = None
depends_on = None

COLUMNS = [
    # table, column, default, constraint name, check
    ("contest", "points_total", "10", "ck_contest_points_total_positive", "points_total >= 1"),
    (
        "contest",
        "points_max",
        "5",
        "ck_contest_points_max_in_range",
        "points_max >= 1 AND points_max <= points_total",
    ),
    ("ballot_choice", "points", None, "ck_ballot_choice_points_positive", "points >= 1"),
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, default, name, check in COLUMNS:
        if sqlite:
            kind = f"INTEGER NOT NULL DEFAULT {default}" if default else "INTEGER"
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind} CONSTRAINT {name} CHECK ({check})")
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=default is None, server_default=default))
            op.create_check_constraint(op.f(name), table, check)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _default, name, _check in reversed(COLUMNS):
        if not sqlite:
            op.drop_constraint(op.f(name), table, type_="check")
        # SQLite (3.35 and later) drops a column in place; a batch rebuild would not be safe.
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
