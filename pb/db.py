"""The database: one engine per app, one session per request, one commit per request.

Views and service functions use `db_session()` and flush; the request commits once,
after the view has returned a successful response (see `configure_db`). CLI commands
and tests use `session_scope()`, which commits on leaving the block.
"""

from contextlib import contextmanager

from flask import current_app, g, has_request_context, request
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

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
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args={"connect_timeout": 10})


def get_engine() -> Engine:
    return current_app.extensions["pb_engine"]


def db_session() -> Session:
    """The current request's session (made on first use).

    A request that may change something starts its transaction as a writer, except in
    views marked `reads_first`, which call `begin_writing` when they come to write."""
    if "db_session" not in g:
        write = (
            has_request_context()
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and not g.get("pb_reads_first")
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
    """End the session's reading transaction (it must not have written) and start a
    writer's one. A no-op for a session that already began as a writer."""
    if session.in_transaction():
        if session.connection().get_execution_options().get("pb_write"):
            return
        session.commit()
    session.connection(execution_options={"pb_write": True})


def _new_session(engine: Engine, write: bool) -> Session:
    session = Session(engine, expire_on_commit=False)
    if write:
        # Start the transaction now, as a writer (see _configure_sqlite).
        session.connection(execution_options={"pb_write": True})
    return session


@contextmanager
def session_scope(engine: Engine | None = None, *, write: bool = True):
    """A session for work outside a request: commits on success, rolls back on error."""
    session = _new_session(engine or get_engine(), write)
    try:
        yield session
        session.commit()
    except Refusal:
        session.commit()  # keeps the audit event of the refusal
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def configure_db(app) -> None:
    app.extensions["pb_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.after_request
    def _commit(response):
        session = g.get("db_session")
        if session is not None:
            if response.status_code < 400 or g.pop("pb_commit_refusal", False):
                session.commit()  # the one place a request's work is committed
            else:
                session.rollback()
        return response

    @app.teardown_appcontext
    def _close(exc):
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def keep_refusal(error: Exception) -> None:
    """Have the request commit although it answers with an error, if the error is a
    Refusal (whose audit event must be kept); any other error rolls back as usual."""
    if isinstance(error, Refusal):
        g.pb_commit_refusal = True


class Refusal(Exception):
    """An action refused for a reason the person should read.

    The refusal itself is recorded (an audit event), so unlike other errors the
    session is committed: whoever raises it has first rolled back everything else.
    """

    status = 409
