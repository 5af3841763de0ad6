"""declared identity: what residents declare, kept for the returning officer until publication

Revision ID: a4d7e2c9b6f1
Revises: f3c6a2b8e9d0
Create Date: 2026-12-04 09:00:00

The "postcode" way of voting becomes "declared": residents declare who they are (by
default their name and the first line of their address, with the postcode), and the same
declaration again is the same voter. Rounds voting at the upgrade ask for the new details
from then on; voters who declared only a postcode before it stay separate voters.
Published turnout figures are renamed to match. Someone resuming a declared identity sees
only the ballots cast in their own voting session (voting_session.own_ballots).
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "a4d7e2c9b6f1"
down_revision = "f3c6a2b8e9d0"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    bind = op.get_bind()
    for round_id, methods in bind.execute(sa.text("SELECT id, eligibility_methods FROM round")).all():
        names = [new if name == old else name for name in methods.split(",")]
        bind.execute(
            sa.text("UPDATE round SET eligibility_methods = :m WHERE id = :r"), {"m": ",".join(names), "r": round_id}
        )
    bind.execute(sa.text("UPDATE voter SET method = :new WHERE method = :old"), {"new": new, "old": old})
    bind.execute(
        sa.text("UPDATE round_turnout SET figures = REPLACE(figures, :old, :new)"),
        {"old": f'"method": "{old}"', "new": f'"method": "{new}"'},
    )


def upgrade() -> None:
    op.add_column(
        "round",
        sa.Column(
            "declared_fields",
            sqlmodel.sql.sqltypes.AutoString(length=60),
            nullable=False,
            server_default="name,address",
        ),
    )
    op.create_table(
        "declaration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"], name=op.f("fk_declaration_round_id_round")),
        sa.ForeignKeyConstraint(["voter_id"], ["voter.id"], name=op.f("fk_declaration_voter_id_voter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration")),
        sa.UniqueConstraint("voter_id", name=op.f("uq_declaration_voter_id")),
    )
    op.create_index(op.f("ix_declaration_round_id"), "declaration", ["round_id"], unique=False)
    op.add_column("voting_session", sa.Column("own_ballots", sa.Text(), nullable=True))
    _rename("postcode", "declared")


def downgrade() -> None:
    _rename("declared", "postcode")
    op.drop_column("voting_session", "own_ballots")
    op.drop_index(op.f("ix_declaration_round_id"), table_name="declaration")
    op.drop_table("declaration")
    op.drop_column("round", "declared_fields")
