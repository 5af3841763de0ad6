"""Backups of an SQLite database, taken and restored while the app may be running
(SQLite's online backup API). PostgreSQL has its own tools: see README ("Backups").
"""

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

POSTGRESQL_ADVICE = (
    "This database is PostgreSQL: back it up with its own tools, e.g. "
    "`pg_dump --format=custom --file=pb.dump DATABASE` and restore with "
    "`pg_restore --no-owner --dbname=DATABASE pb.dump` into an empty database (see README, Backups)."
)


class BackupError(Exception):
    """A backup or restore that cannot be done; nothing was changed."""


def sqlite_file(database_url: str) -> str:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        raise BackupError(POSTGRESQL_ADVICE)
    if not url.database or url.database == ":memory:":
        raise BackupError("There is no database file to back up.")
    return url.database


def check_backup(path: str) -> str:
    """That a file is a whole, readable pb database; returns its schema revision."""
    if not os.path.isfile(path):
        raise BackupError(f"{path}: no such file.")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if connection.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path}: the file is damaged (SQLite integrity check failed).")
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"alembic_version", "audit_event", "round", "ballot"} <= tables:
                raise BackupError(f"{path}: this is not a pb database.")
            return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not an SQLite database ({error}).") from None


def backup(database_url: str, target: str) -> str:
    """Copy the live database to `target` (a new file), consistently, without stopping
    the app. Returns the backup's schema revision."""
    source_path = sqlite_file(database_url)
    if os.path.exists(target):
        raise BackupError(f"{target} already exists; choose a new file name.")
    partial = f"{target}.partial"
    try:
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        destination = sqlite3.connect(partial)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
        revision = check_backup(partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError, BackupError) as error:
        if os.path.exists(partial):
            os.remove(partial)  # no half-made backup is left to be mistaken for one
        raise error if isinstance(error, BackupError) else BackupError(f"The backup failed: {error}") from None
    return revision


def ballot_facts(path: str) -> tuple[set[str], str | None]:
    """Of an SQLite database file: the receipts of the ballots it holds (every ballot cast
    gave its voter one), and the time of its newest audit event (when the backup was taken,
    near enough)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        receipts = {receipt for (receipt,) in connection.execute("SELECT receipt FROM ballot")}
        (at,) = connection.execute("SELECT MAX(created_at) FROM audit_event").fetchone()
        return receipts, at
    finally:
        connection.close()


def check_known_schema(revision: str) -> None:
    """Refuse a backup made by a newer pb, whose schema this code cannot read."""
    from alembic.script import ScriptDirectory

    from pb.migrate import alembic_config

    try:
        ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    except Exception:  # noqa: BLE001 (alembic raises several kinds for a revision it does not know)
        raise BackupError(
            f"This backup's schema ({revision}) is from a newer version of pb: upgrade pb first."
        ) from None


def restore(database_url: str, source: str) -> str:
    """Replace the database's whole content with a backup's. Returns the backup's revision;
    the caller migrates it to the current schema if it is older."""
    target_path = sqlite_file(database_url)
    revision = check_backup(source)
    check_known_schema(revision)
    Path(target_path).parent.mkdir(parents=True, exist_ok=True)
    backup_connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target_path, timeout=30)
    try:
        backup_connection.backup(live)
    finally:
        live.close()
        backup_connection.close()
    return revision
