"""a draft round deleted by its convening lead is kept, hidden, with its audit chain

Revision ID: d21f3c7d9a66
Revises: d21d9a1f7e44
Create Date: 2026-12-04 15:00:00

The audit log is append-only, so a deleted draft cannot take its chain with it: the round's
row stays, marked deleted (no page shows it), and its chain ends with the deletion.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "d21f3c7d9a66"
down_revision = "d21d9a1f7e44"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("round", sa.Column("deleted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35 and later) drops a column in place; a batch rebuild would not be safe.
    op.execute('ALTER TABLE "round" DROP COLUMN deleted_at')
