"""verifiable audit: format 2 events (pseudonyms, sealed values), witnessed heads, and the
database keeping events in order and ballots and results as they were

Revision ID: a7c3e9f1d2b5
Revises: a4d7e2c9b6f1
Create Date: 2026-12-04 10:00:00

Events already written keep their format (1): their documents name accounts by number and
hold every value in the open, so the public export withholds the few that hold a private
note or results not yet published (their hashes still link the chain).
"""

import secrets

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from pb.audit import guard

revision = "a7c3e9f1d2b5"
down_revision = "a4d7e2c9b6f1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("sealed", sa.Text(), nullable=True))
    op.add_column("audit_event", sa.Column("format", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("user", sa.Column("audit_ref", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.text('SELECT id FROM "user"')).all():
        bind.execute(
            sa.text('UPDATE "user" SET audit_ref = :ref WHERE id = :id'), {"ref": secrets.token_hex(8), "id": user_id}
        )
    op.create_index(op.f("ix_user_audit_ref"), "user", ["audit_ref"], unique=True)
    op.create_table(
        "witnessed_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witnessed_head")),
    )
    op.create_index(op.f("ix_witnessed_head_chain"), "witnessed_head", ["chain"], unique=False)
    for statement in guard.integrity_create_statements(bind.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in guard.integrity_drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index(op.f("ix_witnessed_head_chain"), table_name="witnessed_head")
    op.drop_table("witnessed_head")
    op.drop_index(op.f("ix_user_audit_ref"), table_name="user")
    op.drop_column("user", "audit_ref")
    op.drop_column("audit_event", "format")
    op.drop_column("audit_event", "sealed")
