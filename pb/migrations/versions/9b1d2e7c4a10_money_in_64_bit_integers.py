"""money in 64-bit integers

Revision ID: 9b1d2e7c4a10
Revises: 72641ef21812
Create Date: 2026-11-22 12:12:00

Amounts are whole pence up to £100 million each, and their sums: more than PostgreSQL's
32-bit INTEGER holds. SQLite's INTEGER is 64-bit already, so nothing changes there.
"""

import sqlalchemy as sa
from alembic import op

revision = "9b1d2e7c4a10"
down_revision = "72641ef21812"
branch_labels = None
depends_on = None

MONEY_COLUMNS = [
    ("round", "max_project_cost"),
    ("pot", "amount"),
    ("proposal", "total_cost"),
    ("cost_line", "amount"),
    ("project", "cost"),
    ("delivery_update", "spent"),
    ("delivery_update", "spent_locally"),
    ("spend_line", "amount"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in MONEY_COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
