"""The database layer: SQLite settings, and one commit per request."""

import pytest
from sqlalchemy import text
from sqlmodel import select

from pb.accounts.models import User
from pb.db import make_engine


def test_sqlite_connections_are_configured(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


@pytest.mark.own_app  # adds a route
def test_failed_request_writes_nothing(app, client, db):
    """A view that adds a row and then fails leaves the database as it was."""

    @app.route("/_test/fail-after-write", methods=["POST"])
    def fail_after_write():
        from pb.db import db_session

        db_session().add(User(email="ghost@example.org", name="Ghost", password_hash="x"))
        db_session().flush()
        raise RuntimeError("boom")

    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    response = client.post("/_test/fail-after-write")
    assert response.status_code == 500
    assert "Nothing you sent has been saved" in response.get_data(as_text=True)
    with db() as session:
        assert session.exec(select(User).where(User.email == "ghost@example.org")).first() is None


def test_foreign_keys_are_enforced(app, db):
    from sqlalchemy.exc import IntegrityError

    from pb.accounts.models import Membership

    with pytest.raises(IntegrityError), db() as session:
        session.add(Membership(user_id=999, organisation_id=999))
        session.flush()


# ---------------------------------------------------------------- one unit of work per request


def _ghosts(db) -> list[str]:
    with db(write=False) as session:
        return sorted(u.email for u in session.exec(select(User).where(User.email.like("%@ghost.example"))))


def _add_ghost(name: str) -> None:
    from pb.db import db_session

    db_session().add(User(email=f"{name}@ghost.example", name=name, password_hash="x"))
    db_session().flush()


@pytest.fixture
def routes(app):
    """Views that write a row, then end in each way a view can."""
    from flask import abort, render_template_string
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from pb.forms import PbForm
    from pb.refusal import Refusal
    from pb.views import form_page

    class NameForm(PbForm):
        name = StringField("Name", validators=[DataRequired()])

    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.route("/_test/uow/<how>", methods=["POST"])
    def write_then(how):
        _add_ghost(how)
        if how == "abort":
            abort(409)
        if how == "refusal":
            raise Refusal("Refused, and recorded.", record=lambda session: _add_ghost("recorded"))
        if how == "invalid-form":
            form = NameForm()
            form.validate()
            return form_page("pages/error.html", form, status=400, message="")
        return render_template_string("answered {{ status }}", status=how), int(how)

    return app.test_client()


@pytest.mark.own_app  # the routes fixture adds routes
def test_a_view_that_raises_after_writing_leaves_nothing(routes, db):
    response = routes.post("/_test/uow/abort")
    assert response.status_code == 409
    assert _ghosts(db) == []


@pytest.mark.own_app  # the routes fixture adds routes
def test_a_refusal_keeps_its_record_and_nothing_else(routes, db):
    response = routes.post("/_test/uow/refusal")
    assert response.status_code == 409
    assert "Refused, and recorded." in response.get_data(as_text=True)
    assert _ghosts(db) == ["recorded@ghost.example"]


@pytest.mark.own_app  # the routes fixture adds routes
def test_a_form_that_fails_validation_leaves_nothing(routes, db):
    response = routes.post("/_test/uow/invalid-form", data={"name": ""})
    assert response.status_code == 400
    assert _ghosts(db) == []


@pytest.mark.own_app  # the routes fixture adds routes
@pytest.mark.parametrize("status", [200, 302, 400])
def test_a_view_that_returns_commits_whatever_its_status(routes, db, status):
    """What commits is the view returning, not the status: a view that answers 400 without
    raising keeps what it wrote (views that turn bad input away raise, pb.views.refuse)."""
    response = routes.post(f"/_test/uow/{status}")
    assert response.status_code == status
    assert _ghosts(db) == [f"{status}@ghost.example"]


# ---------------------------------------------------------------- the writers' queue (SQLite)


def _writers_queue_is_held(database) -> bool:
    """Whether a transaction holds the writers' queue of this SQLite file (its .writers flock)."""
    import fcntl

    with open(f"{database}.writers", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@pytest.fixture
def sqlite_file(tmp_path):
    database = tmp_path / "queue.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE note (n INTEGER)")
    yield database, engine
    engine.dispose()


@pytest.mark.parametrize("end", ["rollback", "commit"])
def test_a_writers_session_queues_as_a_writer_again_after_its_transaction_ends(sqlite_file, end):
    from pb.db import session_scope

    database, engine = sqlite_file
    with session_scope(engine) as session:
        session.exec(text("INSERT INTO note VALUES (1)"))
        assert _writers_queue_is_held(database)
        getattr(session, end)()
        assert not _writers_queue_is_held(database)  # between transactions, the next writer may go
        session.exec(text("INSERT INTO note VALUES (2)"))
        assert _writers_queue_is_held(database)
    assert not _writers_queue_is_held(database)


def test_a_refusals_record_is_written_through_the_writers_queue(sqlite_file):
    """Even from a reading scope: the work is rolled back, then the record is a writer's."""
    from pb.db import session_scope
    from pb.refusal import Refusal

    database, engine = sqlite_file
    held = []

    def record(session):
        held.append(_writers_queue_is_held(database))
        session.exec(text("INSERT INTO note VALUES (2)"))

    with pytest.raises(Refusal), session_scope(engine, write=False) as session:
        assert not _writers_queue_is_held(database)
        session.exec(text("INSERT INTO note VALUES (1)"))
        raise Refusal("no", record=record)
    assert held == [True]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM note").scalars().all() == [2]
