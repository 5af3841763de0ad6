"""ballot order drawn when voting opens

Revision ID: 6a1b3d22e4a0
Revises: 9b1d2e7c4a10
Create Date: 2026-11-23 10:00:00

Each project gets its place on the ballot paper (`ballot_position`, 1 first). From now on
it is drawn when voting opens; projects already on a ballot keep the order they have been
listed in until now (by project number), so files already published and their recounts
stay byte for byte the same.

SQLite cannot add a NOT NULL column without a default, nor drop a default, without
rebuilding the table, and rebuilding `project` (which ballots refer to) is not safe while
foreign keys are enforced; so there the column keeps a default of 0 that pb never relies
on (it always sets the position, and the unique index refuses a second project at 0).
"""

import sqlalchemy as sa
from alembic import op

revision = "6a1b3d22e4a0"
down_revision = "9b1d2e7c4a10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("project", sa.Column("ballot_position", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE project SET ballot_position = ("
        "SELECT COUNT(*) FROM project AS earlier"
        " WHERE earlier.contest_id = project.contest_id AND earlier.id <= project.id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("project", "ballot_position", server_default=None)
    op.create_index("uq_project_contest_id_ballot_position", "project", ["contest_id", "ballot_position"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_project_contest_id_ballot_position", table_name="project")
    # SQLite (3.35 and later) drops a column in place; a batch rebuild would not be safe.
    op.execute("ALTER TABLE project DROP COLUMN ballot_position")
