"""The tests' own PostgreSQL database (tests.postgres.WorkerDatabase): each worker keeps one
database and puts it back to the template's state after every test. These tests prove the
next test cannot tell: whatever one test leaves behind (rows in every table, sequences moved
on, a connection holding a lock, a trigger disabled, a setting on the database), the next
finds an empty database whose guarding triggers hold and whose sequences start again.

They come in pairs, run in the order written: the first leaves something behind and notes
it in LEFT, the second checks it is gone. (pytest-xdist may hand a pair to two workers:
then the second still checks every table, trigger, sequence and setting, but not the note.)
"""

import os

import pytest
from sqlalchemy import text

from pb.migrate import code_head
from tests.conftest import BACKENDS
from tests.test_delivery import published  # noqa: F401  (the fixture: a round with published results)

pytestmark = [
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="PB_TEST_BACKENDS leaves PostgreSQL out"),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

LEFT: dict[str, dict] = {}  # what a test left behind, by test, in this process


@pytest.fixture
def left_open():
    """Connections a test leaves open. Set up before the database, this fixture is torn down
    after the database is put back; only then are they closed (already cut off, if all is well)."""
    connections = []
    yield connections
    for connection in connections:
        connection.close()


def _rows_by_table(connection) -> dict[str, int]:
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
    ).scalars()
    return {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() for table in tables}


def _sequences_moved_on(connection) -> list[str]:
    # last_value is NULL in pg_sequences until the sequence has given a value since it (re)started.
    return list(
        connection.execute(text("SELECT sequencename FROM pg_sequences WHERE last_value IS NOT NULL")).scalars()
    )


def _left_before(name: str, postgres_database) -> dict | None:
    """What the test before left, if it ran just before this one. Under xdist it may have run
    in another worker, or in this one with others in between (work stolen from another worker
    is run after this worker's own): then its note says nothing of this test's database."""
    left = LEFT.pop(name, None)
    if left is not None and postgres_database.put_backs != left["put_backs"] + 1:
        left = None  # others ran in between: one of them may have made a fresh copy
    if left is None:
        assert os.environ.get("PYTEST_XDIST_WORKER"), f"{name} runs before this test in one process, unless under xdist"
    else:
        assert left["database"] == postgres_database.name
    return left


def _refuses_deleting_audit_events(app) -> None:
    """The append-only trigger holds for the app's connections: deleting an event fails."""
    from sqlalchemy.exc import DBAPIError

    engine = app.extensions["pb_engine"]
    with engine.connect() as connection:
        assert connection.execute(text("SHOW session_replication_role")).scalar() == "origin"
        assert connection.execute(text("SELECT count(*) FROM audit_event")).scalar() > 0
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("DELETE FROM audit_event"))


def test_a_test_leaves_rows_in_many_tables_sequences_moved_on_and_a_lock_held(
    left_open, app, published, postgres_database
):
    engine = app.extensions["pb_engine"]
    with engine.connect() as connection:
        rows = _rows_by_table(connection)
        moved_on = _sequences_moved_on(connection)
    filled = {table for table, count in rows.items() if count}
    # The round with published results fills much of the schema, guarded tables among them.
    assert {"audit_event", "audit_chain_head", "ballot", "ballot_choice", "contest_result", "round_turnout"} <= filled
    assert len(filled) >= 20
    assert len(moved_on) >= 15
    # A connection the test never closes, inside a transaction that holds a lock on a table.
    holder = postgres_database.server.connect(postgres_database.name)
    left_open.append(holder)
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE ballot IN ACCESS EXCLUSIVE MODE")
    LEFT["rows"] = {
        "database": postgres_database.name,
        "filled": filled,
        "copies": postgres_database.copies,
        "put_backs": postgres_database.put_backs,
    }


def test_the_next_test_finds_every_table_empty_sequences_restarted_and_the_triggers_in_force(
    app, db, make_user, postgres_database
):
    left = _left_before("rows", postgres_database)
    engine = app.extensions["pb_engine"]
    with engine.connect() as connection:
        others = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        ).scalar()
        assert others == 0  # the connection holding a lock is gone
        assert {table: count for table, count in _rows_by_table(connection).items() if count} == {}
        assert _sequences_moved_on(connection) == []
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == code_head()
    if left is not None:
        assert postgres_database.copies == left["copies"]  # emptied, not copied again
    user = make_user("first@example.org")
    assert user.id == 1
    _refuses_deleting_audit_events(app)


def test_a_test_disables_a_trigger_and_sets_a_setting_on_its_database(app, make_user, postgres_database):
    make_user("someone@example.org")
    engine = app.extensions["pb_engine"]
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        connection.execute(text(f"ALTER DATABASE {postgres_database.name} SET application_name = 'left behind'"))
    LEFT["schema"] = {
        "database": postgres_database.name,
        "copies": postgres_database.copies,
        "put_backs": postgres_database.put_backs,
    }


def test_the_next_test_finds_a_fresh_copy_of_the_template(app, make_user, postgres_database):
    left = _left_before("schema", postgres_database)
    engine = app.extensions["pb_engine"]
    with engine.connect() as connection:
        assert connection.execute(text("SHOW application_name")).scalar() != "left behind"
        assert (
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d "
                    "ON d.oid = s.setdatabase WHERE d.datname = current_database()"
                )
            ).scalar()
            == 0
        )
        assert (
            connection.execute(
                text("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_event_append_only'")
            ).scalar()
            == "O"
        )
        assert {table: count for table, count in _rows_by_table(connection).items() if count} == {}
    if left is not None:
        assert postgres_database.copies == left["copies"] + 1
    make_user("someone@example.org")
    _refuses_deleting_audit_events(app)


def test_a_server_whose_chosen_port_is_taken_meanwhile_starts_on_another(database_url, tmp_path):
    """tests.servers chooses a free port, and another process may take it before gunicorn
    binds it (as one did in a full run): the server then starts on another port."""
    import socket

    from tests.servers import Gunicorn

    server = Gunicorn(
        database_url=database_url,
        instance_path=str(tmp_path / "served"),
        log_path=str(tmp_path / "gunicorn.log"),
        workers=1,
    )
    chosen = server.port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", chosen))
        taken.listen()
        try:
            server.start()
            assert server.port != chosen
            assert "Address already in use" in server.log_text()
        finally:
            server.stop()
