"""The `pb` command: help, migrations on an empty database, and the demo."""

import subprocess
import sys

from sqlmodel import select

from pb.accounts.models import Organisation, User
from pb.cli import main
from pb.demo import DEMO_PASSWORD, USERS
from tests.conftest import FormClient


def test_pb_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "pb", "--help"], capture_output=True, text=True, check=True)
    for command in ["run", "shell", "db", "demo", "audit", "tally", "verify"]:
        assert f"  {command} " in result.stdout, command


def test_db_upgrade_builds_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    env = {"PB_DATABASE_URL": url, "PB_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "pb", "db", "upgrade"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    import sqlite3

    tables = {row[0] for row in sqlite3.connect(tmp_path / "fresh.sqlite").execute("SELECT name FROM sqlite_master")}
    assert {"user", "organisation", "membership", "audit_event", "alembic_version"} <= tables


def test_demo_loads_and_every_demo_user_can_sign_in(app, db):
    result = app.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    for email, *_ in USERS:
        assert email in result.output
    with db() as session:
        assert len(session.exec(select(User)).all()) == len(USERS)
        kinds = {o.kind for o in session.exec(select(Organisation))}
        assert kinds == {"anchor", "group"}
    for email, *_ in USERS:
        client = FormClient(app)
        client.sign_in(email, DEMO_PASSWORD)
        assert client.get("/dashboard").status_code == 200
    result = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_demo_twice_is_refused_unless_if_empty(app):
    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    again = app.test_cli_runner().invoke(main, ["demo"])
    assert again.exit_code != 0
    assert "already has organisations" in again.output
    assert app.test_cli_runner().invoke(main, ["demo", "--if-empty"]).exit_code == 0


def test_demo_has_a_round_funded_by_two_anchors_in_two_areas(app, client):
    from pb.rounds.models import Contest, Pot, Round

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    from pb.db import session_scope

    with session_scope(app.extensions["pb_engine"]) as session:
        round_ = session.exec(select(Round).where(Round.title == "Healthy Neighbourhoods 2027")).one()
        contests = session.exec(select(Contest).where(Contest.round_id == round_.id)).all()
        funders = {
            p.organisation_id for p in session.exec(select(Pot).join(Contest).where(Contest.round_id == round_.id))
        }
    assert round_.phase == "proposals_open"
    assert len(contests) == 2
    assert all(c.area_id for c in contests)
    assert len(funders) == 2
    page = client.get(f"/rounds/{round_.id}").get_data(as_text=True)
    assert "Healthy Neighbourhoods 2027" in page
    assert "£55,000.00" in page
    assert "£65,000.00" in page  # Riverside 40k + 15k; Eastgate 40k + 25k


def test_demo_has_a_dozen_proposals_across_two_areas(app, client):
    from pb.proposals.models import Proposal
    from pb.rounds.models import Contest, Round

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    from pb.db import session_scope

    with session_scope(app.extensions["pb_engine"]) as session:
        first = session.exec(select(Round).where(Round.title == "Healthy Neighbourhoods 2027")).one()
        proposals = session.exec(select(Proposal).where(Proposal.round_id == first.id)).all()
        areas = {session.get(Contest, p.contest_id).area_id for p in proposals}
        round_id = proposals[0].round_id
    assert len(proposals) == 12
    assert len(areas) == 2
    assert {p.status for p in proposals} == {"eligible", "submitted", "not_eligible"}
    page = client.get(f"/rounds/{round_id}/proposals").get_data(as_text=True)
    assert "Riverside community growing beds" in page
    assert "landlord&#39;s repair duty" in page


def test_demo_has_a_round_in_delivery_and_an_archived_one_before_it(app, client):
    from pb.delivery.models import DeliveryUpdate, Verdict
    from pb.delivery.services import funded_project_ids, latest_updates
    from pb.rounds.models import Round

    assert app.test_cli_runner().invoke(main, ["demo"]).exit_code == 0
    from pb.db import session_scope

    with session_scope(app.extensions["pb_engine"]) as session:
        finished = session.exec(select(Round).where(Round.title == "Green Streets 2026")).one()
        earlier = session.exec(select(Round).where(Round.title == "Green Streets 2025")).one()
        funded = funded_project_ids(session, finished)
        statuses = {u.status for u in latest_updates(session, funded).values()}
        hidden = session.exec(select(Verdict).where(Verdict.hidden_at.is_not(None))).all()
        history = session.exec(select(DeliveryUpdate).where(DeliveryUpdate.project_id.in_(funded))).all()
    assert finished.phase == "delivery"
    assert earlier.phase == "archived"
    assert {"delivered", "in_progress", "delayed", "stalled", "cancelled"} <= statuses
    assert len(history) > len(funded) - 1  # one project has two updates
    assert len(hidden) == 1
    page = client.get(f"/rounds/{finished.id}/results").get_data(as_text=True)
    assert "240 ballots" in page
    money = client.get(f"/rounds/{finished.id}/money").get_data(as_text=True)
    assert "Compared with earlier rounds" in money
    assert "Green Streets 2025" in money
    for round_ in (earlier, finished):
        result = app.test_cli_runner().invoke(main, ["audit", "verify", str(round_.id)])
        assert result.exit_code == 0, result.output
