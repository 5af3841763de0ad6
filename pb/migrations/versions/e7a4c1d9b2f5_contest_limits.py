"""limits per category on approval ballot papers

Revision ID: e7a4c1d9b2f5
Revises: d21f3c7d9a66
Create Date: 2026-12-04 20:00:00

A ballot paper may say how many projects of one category a voter ticks at least and at
most ("at most 2 in Parks and green spaces"): one row per paper and category.
"""

import sqlalchemy as sa
from alembic import op

revision = "e7a4c1d9b2f5"
down_revision = "d21f3c7d9a66"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contest_limit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("min_picks", sa.Integer(), nullable=False),
        sa.Column("max_picks", sa.Integer(), nullable=True),
        sa.CheckConstraint("min_picks >= 0", name=op.f("ck_contest_limit_min_picks_not_negative")),
        sa.CheckConstraint(
            "max_picks IS NULL OR max_picks >= min_picks", name=op.f("ck_contest_limit_max_not_below_min")
        ),
        sa.CheckConstraint("min_picks > 0 OR max_picks IS NOT NULL", name=op.f("ck_contest_limit_limits_something")),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"], name=op.f("fk_contest_limit_category_id_category")),
        sa.ForeignKeyConstraint(["contest_id"], ["contest.id"], name=op.f("fk_contest_limit_contest_id_contest")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contest_limit")),
        sa.UniqueConstraint("contest_id", "category_id", name=op.f("uq_contest_limit_contest_id_category_id")),
    )
    op.create_index(op.f("ix_contest_limit_category_id"), "contest_limit", ["category_id"], unique=False)
    op.create_index(op.f("ix_contest_limit_contest_id"), "contest_limit", ["contest_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contest_limit_contest_id"), table_name="contest_limit")
    op.drop_index(op.f("ix_contest_limit_category_id"), table_name="contest_limit")
    op.drop_table("contest_limit")
