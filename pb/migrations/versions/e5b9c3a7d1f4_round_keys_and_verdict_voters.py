"""round keys and verdict voters: voter identities under a per-round secret, deleted at publication

Revision ID: e5b9c3a7d1f4
Revises: d2a8f5e1c7b3
Create Date: 2026-12-04 04:30:00

Rounds already taking votes get their own secrets now. Their email voters were known by a
hash under the session key, which is not available here: one who returns after the upgrade
becomes a new voter (and may vote again). Rounds already published keep no addresses, so
their email voters cannot prove themselves again for verdicts (letter codes still can).
Upgrade between rounds, not during a vote.
"""

import secrets

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "e5b9c3a7d1f4"
down_revision = "d2a8f5e1c7b3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "round_key",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_secret", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("verdict_secret", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_round_key_round_id_round")),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_key")),
    )
    op.create_table(
        "verdict_voter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_verdict_voter_round_id_round")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdict_voter")),
        sa.UniqueConstraint("round_id", "digest", name=op.f("uq_verdict_voter_round_id_digest")),
    )
    op.create_index(op.f("ix_verdict_voter_round_id"), "verdict_voter", ["round_id"], unique=False)
    bind = op.get_bind()
    for (round_id,) in bind.execute(sa.text("SELECT id FROM round WHERE phase = 'voting'")):
        bind.execute(
            sa.text("INSERT INTO round_key (round_id, voter_secret, verdict_secret) VALUES (:r, :v, :d)"),
            {"r": round_id, "v": secrets.token_hex(32), "d": secrets.token_hex(32)},
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_verdict_voter_round_id"), table_name="verdict_voter")
    op.drop_table("verdict_voter")
    op.drop_table("round_key")
