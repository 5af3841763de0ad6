"""The hash-chained audit log: appends, verification, and tampering detected."""

import pytest
from sqlalchemy import text
from sqlmodel import select

from pb.audit.chain import record_event
from pb.audit.models import PLATFORM_CHAIN, AuditEvent, chain_key
from pb.cli import main
from pb.verify.chain import verify_chain
from tests.tampering import tamper


def add_events(app, db, count=5, round_id=None):
    with app.test_request_context(), db() as session:
        for i in range(count):
            record_event(session, "test.event", round_id=round_id, data={"n": i, "note": "café £5"})


def test_events_are_chained(app, db):
    add_events(app, db, 3)
    with db() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.chain == PLATFORM_CHAIN).order_by(AuditEvent.seq)
        ).all()
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == "0" * 64
        assert events[1].prev_hash == events[0].entry_hash
        assert events[2].prev_hash == events[1].entry_hash
        assert len({e.entry_hash for e in events}) == 3
        result = verify_chain(session, PLATFORM_CHAIN)
        assert result.ok
        assert result.events == 3
        assert result.head_hash == events[2].entry_hash


def test_each_round_has_its_own_chain(app, db):
    add_events(app, db, 2, round_id=7)
    add_events(app, db, 1, round_id=8)
    with db() as session:
        assert verify_chain(session, chain_key(7)).events == 2
        assert verify_chain(session, chain_key(8)).events == 1


def test_account_actions_are_audited(app, db, make_user):
    make_user("lead@example.org", organisation="Eastshire Council")
    with db() as session:
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions == ["user.created", "organisation.created", "organisation.member_added"]


def run_verify(app, *args):
    return app.test_cli_runner().invoke(main, ["audit", "verify", *args])


def test_cli_verify_passes_on_an_intact_chain(app, db):
    add_events(app, db, 4)
    result = run_verify(app, "platform")
    assert result.exit_code == 0, result.output
    assert "platform: ok, 4 events" in result.output


def test_cli_verify_detects_an_edited_payload(app, db):
    add_events(app, db, 5)
    tamper(db, 'UPDATE audit_event SET data = \'{"n": 99,"note":"café £5"}\' WHERE seq = 3')
    result = run_verify(app, "platform")
    assert result.exit_code == 1
    assert "BROKEN at event 3" in result.output


def test_cli_verify_detects_an_edited_actor(app, db, make_user):
    make_user("lead@example.org", organisation="Eastshire Council")
    tamper(db, "UPDATE audit_event SET actor_user_id = NULL WHERE seq = 2")
    result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_cli_verify_detects_a_deleted_row(app, db):
    add_events(app, db, 5)
    tamper(db, "DELETE FROM audit_event WHERE seq = 2")
    result = run_verify(app, "platform")
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_cli_verify_detects_the_last_row_deleted(app, db):
    add_events(app, db, 5)
    tamper(db, "DELETE FROM audit_event WHERE seq = 5")
    result = run_verify(app, "platform")
    assert result.exit_code == 1
    assert "BROKEN" in result.output


def test_cli_verify_detects_a_rehashed_row(app, db):
    """Rewriting a row and its own hash still breaks the link to the next event."""
    add_events(app, db, 4)
    tamper(db, "UPDATE audit_event SET data = '{}', entry_hash = 'f' || substr(entry_hash, 2) WHERE seq = 2")
    result = run_verify(app, "platform")
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_cli_verify_checks_one_round(app, db):
    add_events(app, db, 2, round_id=3)
    result = run_verify(app, "3")
    assert result.exit_code == 0
    assert "round:3: ok, 2 events" in result.output


def test_concurrent_appends_keep_one_unbroken_chain(app, db):
    """Writers in parallel transactions each get their own sequence number."""
    import threading

    errors = []

    def writer(n):
        try:
            for i in range(10):
                with app.test_request_context(), db() as session:
                    record_event(session, "test.concurrent", data={"writer": n, "i": i})
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db() as session:
        result = verify_chain(session, PLATFORM_CHAIN)
    assert result.ok, result.problem
    assert result.events == 60


def test_cli_verify_reports_data_that_is_no_longer_json(app, db):
    add_events(app, db, 3)
    tamper(db, "UPDATE audit_event SET data = 'not json' WHERE seq = 2")
    result = run_verify(app, "platform")
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output


def test_the_database_itself_refuses_to_change_or_delete_audit_events(app, db):
    from sqlalchemy.exc import DatabaseError

    add_events(app, db, 3)
    statements = [
        "UPDATE audit_event SET data = '{}' WHERE seq = 2",
        "DELETE FROM audit_event WHERE seq = 2",
        "DELETE FROM audit_event",
    ]
    with db(write=False) as session:
        if session.get_bind().dialect.name == "postgresql":
            statements.append("TRUNCATE audit_event")
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), db() as session:
            session.exec(text(statement))
    with db(write=False) as session:
        assert len(session.exec(select(AuditEvent)).all()) == 3
    assert run_verify(app, "platform").exit_code == 0
