"""Schema migrations with Alembic, run from the app (`pb db upgrade`) or from tests, and
the check that the database's schema is the one this code was written for."""

import functools
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


class SchemaError(RuntimeError):
    """The database's schema is not the one this code was written for; one line says why."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def make_revision(url: str, message: str) -> None:
    command.revision(alembic_config(url), message=message, autogenerate=True)


@functools.cache
def scripts() -> ScriptDirectory:
    """The migrations this code ships, read once per process (/readyz asks on every check)."""
    return ScriptDirectory(MIGRATIONS)


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations."""
    try:
        return scripts().get_revision(revision) is not None
    except Exception:  # noqa: BLE001 (alembic raises several kinds for an unknown, partial or ambiguous id
        return False


def code_head() -> str:
    head = scripts().get_current_head()
    assert head is not None, "pb has migrations"
    return head


def database_revision(engine) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_problem(engine) -> str | None:
    """Why this code must not serve this database, in one line, or None when the schema is
    at the code's head."""
    found, head = database_revision(engine), code_head()
    if found == head:
        return None
    if found is None:
        return f"the database has no pb schema: run `pb db upgrade` (code is at {head})"
    if not known_revision(found):
        return (
            f"the database is at revision {found}, which this version of pb does not know "
            f"(a newer pb migrated it): install that version, or restore the backup taken before the upgrade"
        )
    return f"the database is at revision {found}, behind the code's {head}: run `pb db upgrade`"
