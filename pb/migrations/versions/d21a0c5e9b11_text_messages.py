"""text messages: the outbox and one-time codes carry a channel, email or sms

Revision ID: d21a0c5e9b11
Revises: b8d4f0a2c6e3
Create Date: 2026-12-04 15:00:00

Outgoing messages and code challenges made before the upgrade are email. Downgrading
deletes what only text messages need (waiting text messages, codes sent by text) and takes
"sms" out of rounds' ways of voting (a round left with none keeps email); voters who proved
themselves by text message stay voters.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "d21a0c5e9b11"
down_revision = "b8d4f0a2c6e3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("outgoing_mail", "email_challenge"):
        op.add_column(
            table,
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False, server_default="email"),
        )


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM outgoing_mail WHERE channel = 'sms'"))
    bind.execute(sa.text("DELETE FROM email_challenge WHERE channel = 'sms'"))
    for round_id, methods in bind.execute(sa.text("SELECT id, eligibility_methods FROM round")).all():
        names = [name for name in methods.split(",") if name != "sms"]
        if names != methods.split(","):
            bind.execute(
                sa.text("UPDATE round SET eligibility_methods = :m WHERE id = :r"),
                {"m": ",".join(names) or "email", "r": round_id},
            )
    for table in ("email_challenge", "outgoing_mail"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("channel")
