"""areas: population and electorate, for turnout

Revision ID: c3e8a1f4b7d2
Revises: e23a5c0b7d14
Create Date: 2026-12-04 20:00:00

How many people live in an area and how many of them may vote in the round, both optional:
facts about the area that turnout is a share of, not ballot rules.
"""

import sqlalchemy as sa
from alembic import op

revision = "c3e8a1f4b7d2"
down_revision = "e23a5c0b7d14"
branch_labels = None
depends_on = None

CHECKS = {
    "ck_area_population_not_negative": "population >= 0",
    "ck_area_electorate_within_population": "electorate >= 0 AND electorate <= population",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK in place; a batch rebuild would drop and copy the
        # area table, which contests, voters and code batches point to.
        op.execute(
            f"ALTER TABLE area ADD COLUMN population INTEGER CONSTRAINT ck_area_population_not_negative CHECK ({CHECKS['ck_area_population_not_negative']})"
        )
        op.execute(
            f"ALTER TABLE area ADD COLUMN electorate INTEGER CONSTRAINT ck_area_electorate_within_population CHECK ({CHECKS['ck_area_electorate_within_population']})"
        )
        return
    op.add_column("area", sa.Column("population", sa.Integer(), nullable=True))
    op.add_column("area", sa.Column("electorate", sa.Integer(), nullable=True))
    for name, condition in CHECKS.items():
        op.create_check_constraint(op.f(name), "area", condition)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for name in CHECKS:
            op.drop_constraint(op.f(name), "area", type_="check")
    # SQLite (3.35 and later) drops a column in place; a batch rebuild would not be safe.
    op.execute("ALTER TABLE area DROP COLUMN electorate")
    op.execute("ALTER TABLE area DROP COLUMN population")
