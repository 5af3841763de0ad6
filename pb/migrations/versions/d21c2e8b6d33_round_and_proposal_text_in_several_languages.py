"""round and proposal text in several languages

Revision ID: d21c2e8b6d33
Revises: d21b7f3a4c22
Create Date: 2026-12-04 14:45:00

A round's source language and the other languages it offers (rounds made before keep
writing in British English and offer nothing else), and one table of translations each
for rounds and proposals, one row per (object, field, language).
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "d21c2e8b6d33"
down_revision = "d21b7f3a4c22"
branch_labels = None
depends_on = None


def _translation_table(name: str, owner: str, owner_table: str) -> None:
    op.create_table(
        name,
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([owner], [f"{owner_table}.id"], name=op.f(f"fk_{name}_{owner}_{owner_table}")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(owner, "field", "locale", name=op.f(f"uq_{name}_{owner}_field_locale")),
    )
    op.create_index(op.f(f"ix_{name}_{owner}"), name, [owner], unique=False)


def upgrade() -> None:
    op.add_column(
        "round",
        sa.Column("source_locale", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default="en_GB"),
    )
    op.add_column(
        "round",
        sa.Column("other_locales", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default=""),
    )
    _translation_table("round_translation", "round_id", "round")
    _translation_table("proposal_translation", "proposal_id", "proposal")


def downgrade() -> None:
    for name, owner in (("proposal_translation", "proposal_id"), ("round_translation", "round_id")):
        op.drop_index(op.f(f"ix_{name}_{owner}"), table_name=name)
        op.drop_table(name)
    # SQLite (3.35 and later) drops a column in place; a batch rebuild of round would not be safe.
    op.execute("ALTER TABLE round DROP COLUMN other_locales")
    op.execute("ALTER TABLE round DROP COLUMN source_locale")
