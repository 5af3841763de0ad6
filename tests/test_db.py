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
