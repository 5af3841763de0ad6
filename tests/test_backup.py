"""Backups: `pb backup` and `pb restore` for SQLite (online backup API), pg_dump and
pg_restore for PostgreSQL as the README says. A restored database verifies and counts
exactly as before."""

import os
import subprocess

from sqlalchemy.engine import make_url
from sqlmodel import select

from pb import create_app
from pb.accounts.models import Organisation
from pb.cli import main
from pb.results import services as results
from pb.results.models import ContestResult
from pb.rounds.models import Round
from tests.factories import user
from tests.test_delivery import COUNCIL, published  # noqa: F401  (the fixture: a round with published results)


def fingerprints(app) -> dict:
    from pb.db import session_scope

    with session_scope(app.extensions["pb_engine"], write=False) as session:
        return {r.contest_id: r.file_sha256 for r in session.exec(select(ContestResult))}


def verifies_and_recounts(app, round_id) -> list[bool]:
    """`pb audit verify` passes for every chain, and a recount writes the same files."""
    verified = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    from pb.db import session_scope

    with app.test_request_context(), session_scope(app.extensions["pb_engine"]) as session:
        return results.recount(session, session.get(Round, round_id), actor=user(session, COUNCIL))


def dialect(app) -> str:
    return make_url(app.config["DATABASE_URL"]).get_backend_name()


def test_backup_and_restore_bring_back_a_database_that_verifies_and_counts_the_same(app, db, published, tmp_path):
    runner = app.test_cli_runner()
    before = fingerprints(app)
    if dialect(app) == "postgresql":
        # `pb backup` points to PostgreSQL's own tools...
        refused = runner.invoke(main, ["backup", str(tmp_path / "pb.backup")])
        assert refused.exit_code == 1
        assert "pg_dump" in refused.output
        # ...and those tools, used as the README says, bring back the same database.
        url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
        dump = tmp_path / "pb.dump"
        bin_dir = os.path.dirname(
            subprocess.run(
                ["sh", "-c", "ls /usr/lib/postgresql/*/bin/pg_dump | tail -1"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        subprocess.run(
            [f"{bin_dir}/pg_dump", "--format=custom", f"--file={dump}", url.render_as_string(hide_password=False)],
            check=True,
        )
        copy_name = f"{url.database}_restored"
        from sqlalchemy import create_engine, text

        admin = create_engine(app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {copy_name}"))
        admin.dispose()
        copy_url = url.set(database=copy_name)
        subprocess.run(
            [
                f"{bin_dir}/pg_restore",
                "--no-owner",
                f"--dbname={copy_url.render_as_string(hide_password=False)}",
                str(dump),
            ],
            check=True,
        )
        restored = create_app(
            {
                **{k: app.config[k] for k in ("TESTING", "SECRET_KEY", "SERVER_NAME")},
                "DATABASE_URL": copy_url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False),
                "INSTANCE_PATH": str(tmp_path / "restored"),
            }
        )
        try:
            assert fingerprints(restored) == before
            assert verifies_and_recounts(restored, published["round"]) == [True, True]
        finally:
            restored.extensions["pb_engine"].dispose()
            # The copy is named after the worker's database, which lives as long as the worker.
            admin = create_engine(app.config["DATABASE_URL"], isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {copy_name} WITH (FORCE)"))
            admin.dispose()
        return

    target = tmp_path / "pb-backup.sqlite"
    made = runner.invoke(main, ["backup", str(target)])
    assert made.exit_code == 0, made.output
    assert target.exists()
    again = runner.invoke(main, ["backup", str(target)])
    assert again.exit_code == 1
    assert "already exists" in again.output  # never overwrites an earlier backup

    # Something happens after the backup; then the backup is restored.
    with app.test_request_context(), db() as session:
        from pb.accounts import services

        services.create_organisation(
            session,
            actor=user(session, COUNCIL),
            name="Made after the backup",
            kind="anchor",
            subtype="local_authority",
        )
    refused = runner.invoke(main, ["restore", str(target)], input="n\n")
    assert refused.exit_code == 1  # asked, and the answer was no
    with db(write=False) as session:
        assert (
            session.exec(select(Organisation).where(Organisation.name == "Made after the backup")).first() is not None
        )
    restored = runner.invoke(main, ["restore", "--yes", str(target)])
    assert restored.exit_code == 0, restored.output
    with db(write=False) as session:
        assert session.exec(select(Organisation).where(Organisation.name == "Made after the backup")).first() is None
    assert fingerprints(app) == before
    assert verifies_and_recounts(app, published["round"]) == [True, True]


def test_restore_refuses_a_file_that_is_not_a_pb_backup_and_changes_nothing(app, db, tmp_path):
    runner = app.test_cli_runner()
    if dialect(app) == "postgresql":
        refused = runner.invoke(main, ["restore", "--yes", str(tmp_path / "x")])
        assert refused.exit_code == 1
        assert "pg_restore" in refused.output
        return
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello")
    empty_sqlite = tmp_path / "empty.sqlite"
    import sqlite3

    sqlite3.connect(empty_sqlite).execute("CREATE TABLE t (x)").connection.close()
    from_the_future = tmp_path / "future.sqlite"
    assert runner.invoke(main, ["backup", str(from_the_future)]).exit_code == 0
    connection = sqlite3.connect(from_the_future)
    connection.execute("UPDATE alembic_version SET version_num = 'f00df00df00d'")
    connection.commit()
    connection.close()
    for bad, message in (
        (tmp_path / "missing.sqlite", "no such file"),
        (not_sqlite, "not an SQLite database"),
        (empty_sqlite, "not a pb database"),
        (from_the_future, "newer version of pb"),
    ):
        result = runner.invoke(main, ["restore", "--yes", str(bad)])
        assert result.exit_code == 1, result.output
        assert message in result.output, result.output
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    with db(write=False) as session:
        assert session.exec(select(Round)).all() == []
    # A backup that cannot be made leaves nothing behind that looks like one.
    unwritable = tmp_path / "no-such-folder" / "pb.sqlite"
    failed = runner.invoke(main, ["backup", str(unwritable)])
    assert failed.exit_code == 1
    assert "backup failed" in failed.output
    assert not os.path.exists(f"{unwritable}.partial")


def test_a_restore_that_would_lose_receipted_ballots_is_refused_unless_said_why_and_is_audited(
    app, db, make_user, tmp_path
):
    """A backup taken mid-voting, restored after a resident cast a ballot (and got its
    receipt): refused, saying why; with a reason, done, and recorded in the platform's log
    with the backup's time and the ballots lost."""
    if dialect(app) == "postgresql":
        return  # pg_restore: PostgreSQL's own tool, outside pb
    import json

    from pb.audit.models import PLATFORM_CHAIN, AuditEvent
    from pb.voting.models import Ballot
    from tests.conftest import FormClient
    from tests.factories import make_codes, make_round, open_voting

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("chair@park.example", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council")
    codes = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="chair@park.example",
        group="Friends of the Park",
    )
    runner = app.test_cli_runner()
    target = tmp_path / "mid-voting.sqlite"
    assert runner.invoke(main, ["backup", str(target)]).exit_code == 0
    with db(write=False) as session:
        backup_time = session.exec(select(AuditEvent.created_at).order_by(AuditEvent.created_at.desc())).first()
    resident = FormClient(app)
    start = f"/rounds/{ids['round']}/vote"
    assert resident.submit(f"{start}/code", {"code": codes[0]}, page=start).status_code == 302
    from pb.proposals.models import Project

    with db(write=False) as session:
        project = session.exec(select(Project.id).where(Project.contest_id == ids["contests"]["North"])).first()
    assert (
        resident.submit(f"{start}/{ids['contests']['North']}", {"project": str(project), "confirm": "1"}).status_code
        == 302
    )

    refused = runner.invoke(main, ["restore", "--yes", str(target)])
    assert refused.exit_code == 1
    assert "older than ballots cast since" in refused.output
    assert "--because" in refused.output
    with db(write=False) as session:
        assert len(session.exec(select(Ballot)).all()) == 1  # nothing changed
    done = runner.invoke(
        main, ["restore", "--yes", "--because", "disk failure; the ballot is re-entered on paper", str(target)]
    )
    assert done.exit_code == 0, done.output
    assert "1 ballots cast after the backup are gone" in done.output
    with db(write=False) as session:
        assert session.exec(select(Ballot)).all() == []
        [restored] = session.exec(
            select(AuditEvent).where(AuditEvent.chain == PLATFORM_CHAIN, AuditEvent.action == "platform.restored")
        ).all()
        data = json.loads(restored.data)
    assert data["backup"] == "mid-voting.sqlite"
    assert data["ballots_lost"] == 1
    assert data["ballots_in_backup"] == 0
    assert data["because"] == "disk failure; the ballot is re-entered on paper"
    assert data["backup_time"].startswith(backup_time.strftime("%Y-%m-%d %H:%M:%S")[:16])
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
