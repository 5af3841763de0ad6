"""The database: one engine per app, one session per request, one unit of work per request.

The unit of work (`configure_db`, `App`): a request's work is committed when its view
returns a response, whatever the response's status, and rolled back when the view (or a
`before_request` hook) raises anything: an error, an `abort()`, a `Refusal`. So a view
that turns bad input away raises (pb.views: `refuse`, `show_refusal`, and `form_page`
for a form with errors), and bad input changes nothing. A `Refusal`'s record (pb.refusal:
its audit event, a wrong guess counted) is kept all the same: in the transaction that
refused when that wrote nothing else (the check and the count are then one step), else
after the rollback in a transaction of its own (see _end_work); then the error handler
shows the refusal.

Services flush and never commit or roll back. The two things they may need of a
transaction are named here: `begin_writing` (end a read, then write: casting a ballot)
and `savepoint` (a step that may fail on a unique constraint without failing the rest).

A request that may change something (any method but GET, HEAD and OPTIONS) has a
writer's session: each transaction it begins, the first and any after a commit or a
rollback, begins as a writer (on SQLite, BEGIN IMMEDIATE through the writers' queue).

CLI commands, the scheduler and tests use `session_scope()`, the same unit of work for
a block: it commits on leaving the block and rolls back on an exception (keeping a
`Refusal`'s record).
"""

import re
from collections.abc import Iterable
from contextlib import contextmanager

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, SQLModel, create_engine

from pb.refusal import Refusal
from pb.sqlite_writers import configure_sqlite

# Stable constraint names, so that Alembic migrations can name what they change.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def make_engine(url: str) -> Engine:
    # hide_parameters: SQL parameters (addresses, names) never appear in an error's message,
    # so never in a log line.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)
        configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={"connect_timeout": 10})
    _note_writes(engine)
    return engine


# Matched at the start of every statement, without copying it (this runs for each query).
_WRITES = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|CREATE|DROP|ALTER)", re.IGNORECASE)


def _note_writes(engine: Engine) -> None:
    """Note on each connection whether its transaction has written (see _end_work)."""

    @event.listens_for(engine, "begin")
    def _begun(conn):
        conn.info["pb_wrote"] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _executing(conn, _cursor, statement, _parameters, _context, _executemany):
        if _WRITES.match(statement):
            conn.info["pb_wrote"] = True


def _has_written(session: Session) -> bool:
    """Whether the session's transaction has written anything, or holds changes to write."""
    if session.new or session.dirty or session.deleted:
        return True
    return session.in_transaction() and session.connection().info.get("pb_wrote", True)


def get_engine() -> Engine:
    return current_app.extensions["pb_engine"]


def db_session() -> Session:
    """The current request's session (made on first use).

    A request that may change something has a writer's session (see the module
    docstring), except in views marked `reads_first`, which call `begin_writing` when
    they come to write."""
    if "db_session" not in g:
        write = (
            has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("pb_reads_first")
        )
        g.db_session = _new_session(get_engine(), write)
    return g.db_session


def reads_first(view):
    """For a view that reads a good deal and then writes a little (casting a ballot):
    its reads run outside the writers' queue, which it joins only to write."""
    from functools import wraps

    @wraps(view)
    def wrapped(*args, **kwargs):
        g.pb_reads_first = True
        return view(*args, **kwargs)

    return wrapped


def begin_writing(session: Session) -> None:
    """Make `session` a writer's from now on: end its reading transaction, if any (it must
    not have written; what it read stays loaded), and begin a writer's one. Every later
    transaction of the session begins as a writer's too. A no-op for a writer's session."""
    if session.info.get("pb_write"):
        return
    if session.in_transaction():
        session.commit()  # a read only: nothing is written, the snapshot ends
    engine = session.get_bind()
    assert isinstance(engine, Engine), "a pb session is bound to an engine"
    session.bind = engine.execution_options(pb_write=True)  # see pb.sqlite_writers
    session.info["pb_write"] = True
    session.connection()  # the writer's transaction begins now


def savepoint(session: Session) -> SessionTransaction:
    """`with savepoint(session):` a step that may fail on its own (the same row added at
    the same moment by another request): when the block raises, what it wrote is undone
    and the error goes on to the caller, who may carry on with the rest of the work."""
    return session.begin_nested()


def scrub_after_commit(session: Session, tables: Iterable[str]) -> None:
    """Once the session's transaction commits, wipe from the database's files what it
    deleted or rewrote in `tables` (their old row versions), with `scrub`."""
    session.info.setdefault("pb_scrub", set()).update(tables)


SCRUB_LOCK_WAIT = "1s"  # at most this long queued for each table's lock: voting elsewhere waits behind it
SCRUB_SNAPSHOT_WAIT = 2.0  # seconds to wait for older transactions to end before giving up


def scrub(engine: Engine, tables: Iterable[str]) -> bool:
    """Make the rows deleted or rewritten in `tables` unreadable in the database's files,
    outside any transaction. SQLite overwrites deleted records with zeros as it goes
    (secure_delete, pb.sqlite_writers); here the write-ahead log, which still holds the
    pages as they were, is copied into the database and emptied. PostgreSQL leaves dead
    row versions in the tables' pages: VACUUM FULL writes each table afresh without them,
    except those a transaction begun earlier may still see, which it keeps and says nothing
    of: so it waits a moment for such transactions to end, and gives up if they do not.
    It never waits long for a lock (voting in other rounds waits behind it, and for the rewrite
    of the tables they share).
    Best effort: a scrub that fails is logged (`pb scrub` tries again), what was committed
    stays committed, and it says whether it succeeded."""
    import logging
    import time

    from sqlalchemy import text

    try:
        if engine.dialect.name == "sqlite":
            raw = engine.raw_connection()  # in autocommit (pb.sqlite_writers): no BEGIN around the checkpoint
            try:
                cursor = raw.cursor()
                (waits,) = cursor.execute("PRAGMA busy_timeout").fetchone()
                cursor.execute("PRAGMA busy_timeout = 1000")  # writers wait while it waits: not long
                try:
                    busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                finally:
                    cursor.execute(f"PRAGMA busy_timeout = {int(waits)}")
            finally:
                raw.close()
            if busy:
                raise RuntimeError("a reader kept the write-ahead log from being emptied")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                since = conn.execute(text("SELECT clock_timestamp()")).scalar()
                older = _transactions_begun_before(conn, since)
                deadline = time.monotonic() + SCRUB_SNAPSHOT_WAIT
                while older and time.monotonic() < deadline:
                    time.sleep(0.1)
                    older = _transactions_begun_before(conn, since)
                if older:
                    raise RuntimeError(f"{older} transactions begun earlier may still see the deleted rows")
                conn.execute(text(f"SET lock_timeout = '{SCRUB_LOCK_WAIT}'"))
                for table in sorted(tables):
                    conn.execute(text(f'VACUUM FULL "{table}"'))
    except Exception:
        logging.getLogger(__name__).exception(
            "deleted rows of %s may still be in the database's files: run `pb scrub` later", sorted(tables)
        )
        return False
    return True


def _transactions_begun_before(conn, moment) -> int:
    """How many other transactions of this database, begun before `moment`, hold a snapshot
    (PostgreSQL)."""
    from sqlalchemy import text

    return conn.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() "
            "AND backend_type = 'client backend' AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) "
            "AND xact_start < :moment"
        ),
        {"moment": moment},
    ).scalar()


def _new_session(engine: Engine, write: bool) -> Session:
    session = Session(engine, expire_on_commit=False)
    if write:
        begin_writing(session)
    return session


def _end_work(session: Session, error: BaseException | None) -> None:
    """The end of a unit of work: commit, or, on `error`, roll back and keep a Refusal's
    record.

    A refusal's record is the count a limit reads (a wrong guess at a code) or an audit
    event. When the refusing transaction is a writer's and has written nothing, the record
    is written in it and committed: the check that refused and the count it keeps are one
    step, under the locks the check took (SQLite's write lock, PostgreSQL's advisory and
    row locks), so a burst of guesses cannot all be checked before any is counted.
    Otherwise the work is rolled back and the record written in a transaction of its own."""
    tables = session.info.pop("pb_scrub", None)
    try:
        if error is None:
            session.commit()
            engine = session.get_bind()
            if tables and isinstance(engine, Engine):
                scrub(engine, tables)
            return
        if not isinstance(error, Refusal) or error.record is None:
            session.rollback()
            return
        if not (session.info.get("pb_write") and not _has_written(session)):
            session.rollback()
            begin_writing(session)
        error.record(session)
        error.record = None  # kept once, though the refusal may end a second unit of work on its way out
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = True):
    """A session for work outside a request, and its unit of work: commits on leaving the
    block, rolls back on an exception (keeping a Refusal's record, see _end_work)."""
    session = _new_session(engine or get_engine(), write)
    try:
        yield session
    except BaseException as error:
        _end_work(session, error)
        raise
    else:
        _end_work(session, None)
    finally:
        session.close()


def _end_request_work(error: BaseException | None = None) -> None:
    """End the request's unit of work, once: commit, or roll back on `error` (see the
    module docstring). Reads after it (an error page) are rolled back when it closes."""
    session = g.get("db_session")
    if session is None or g.get("pb_work_ended"):
        return
    g.pb_work_ended = True
    _end_work(session, error)


class App(Flask):
    """Flask, where a request whose view (or a before_request hook) raises has its unit of
    work rolled back, and a Refusal's record kept, before any error page is made."""

    def handle_user_exception(self, e):
        _end_request_work(e)
        return super().handle_user_exception(e)

    def handle_exception(self, e):
        _end_request_work(e)  # an error outside the view (an after_request hook): no commit after it
        return super().handle_exception(e)


def configure_db(app: App) -> None:
    if not isinstance(app, App):
        raise TypeError("pb's app must be a pb.db.App, whose requests end their unit of work on an error")
    app.extensions["pb_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.after_request
    def _commit(response):
        _end_request_work()  # the view returned a response: the one place a request's work is committed
        return response

    @app.teardown_appcontext
    def _close(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back anything not committed
