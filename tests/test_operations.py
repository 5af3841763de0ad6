"""Running pb as an IT team does: the first administrator, the schema commands, readiness
for the load balancer, refusing a schema pb does not know, and logs with request ids and
no secrets."""

import json
import re
import subprocess
import sys
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from pb.accounts.models import User
from pb.cli import main
from pb.migrate import code_head, scripts
from tests.conftest import FormClient
from tests.servers import ROOT, SECRET, Browser, Gunicorn, cast, free_port, prove_with_code

STRONG = "mellow tractor lantern"


def previous_revision() -> str:
    return scripts().get_revision(code_head()).down_revision


# ---------------------------------------------------------------- the first administrator


def test_pb_user_create_makes_a_platform_admin_who_can_sign_in(app, db):
    result = app.test_cli_runner().invoke(
        main, ["user", "create", "Ada@Example.org", "--name", "Ada Admin", "--admin"], input=f"{STRONG}\n{STRONG}\n"
    )
    assert result.exit_code == 0, result.output
    assert STRONG not in result.output
    with db(write=False) as session:
        ada = session.exec(select(User).where(User.email == "ada@example.org")).one()
        assert ada.is_platform_admin
        assert ada.name == "Ada Admin"
    admin = FormClient(app)
    admin.sign_in("ada@example.org", STRONG)
    assert admin.get("/admin/organisations").status_code == 200


def test_pb_user_create_with_a_link_prints_a_one_time_link_to_choose_the_password(app, db):
    result = app.test_cli_runner().invoke(
        main, ["user", "create", "ada@example.org", "--name", "Ada", "--admin", "--link"]
    )
    assert result.exit_code == 0, result.output
    link = re.search(r"http://localhost(/reset-password/\S+)", result.output).group(1)
    browser = FormClient(app)
    assert browser.submit(link, {"password": STRONG, "confirm": STRONG}).status_code == 302
    browser.sign_in("ada@example.org", STRONG)
    assert browser.get("/admin/organisations").status_code == 200
    assert FormClient(app).get(link).status_code == 404  # spent


@pytest.mark.parametrize(
    "args,typed,reason",
    [
        (["bad-address", "--name", "X"], f"{STRONG}\n{STRONG}\n", "must have an @-sign"),
        (["ada@example.org", "--name", "Ada"], "aaaaaaaaaa\naaaaaaaaaa\n", "Repeated characters"),
        (
            ["pip@example.org", "--name", "Philippa Featherstonehaugh"],
            "featherstonehaugh\nfeatherstonehaugh\n",
            "Do not use your name or email address",
        ),
        (["ada@example.org", "--name", " "], f"{STRONG}\n{STRONG}\n", "give a name"),
    ],
)
def test_pb_user_create_refuses_bad_input_and_makes_nothing(app, db, args, typed, reason):
    result = app.test_cli_runner().invoke(main, ["user", "create", *args, "--admin"], input=typed)
    assert result.exit_code != 0
    assert reason in result.output
    with db(write=False) as session:
        assert session.exec(select(User)).all() == []


def test_pb_user_create_refuses_a_taken_address(app, db, make_user):
    make_user("ada@example.org")
    result = app.test_cli_runner().invoke(main, ["user", "create", "ADA@example.org", "--name", "Ada", "--link"])
    assert result.exit_code != 0
    assert "already exists" in result.output


# ---------------------------------------------------------------- the schema


def test_pb_db_current_history_downgrade_and_upgrade(app):
    cli = app.test_cli_runner()
    current = cli.invoke(main, ["db", "current"])
    assert current.exit_code == 0
    assert code_head() in current.output
    assert "at the code's head" in current.output
    history = cli.invoke(main, ["db", "history"])
    assert history.exit_code == 0
    listed = [line.split()[0] for line in history.output.splitlines()]
    assert listed[0] == code_head()
    assert previous_revision() in listed
    assert len(listed) == len(list(scripts().walk_revisions()))

    assert cli.invoke(main, ["db", "downgrade", previous_revision()], input="n\n").exit_code != 0  # asked, and refused
    assert cli.invoke(main, ["db", "current"]).exit_code == 0
    assert cli.invoke(main, ["db", "downgrade", "no-such-revision", "--yes"]).exit_code != 0

    down = cli.invoke(main, ["db", "downgrade", previous_revision(), "--yes"])
    assert down.exit_code == 0, down.output
    behind = cli.invoke(main, ["db", "current"])
    assert behind.exit_code == 1
    assert "behind the code's" in behind.output
    assert "pb db upgrade" in behind.output
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert cli.invoke(main, ["db", "current"]).exit_code == 0


def _start_wsgi(database_url, tmp_path):
    env = {
        "PB_DATABASE_URL": database_url,
        "PB_INSTANCE_PATH": str(tmp_path / "served"),
        "PB_SECRET_KEY": SECRET,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_app_will_not_serve_a_schema_that_is_behind_or_unknown(app, database_url, tmp_path):
    assert _start_wsgi(database_url, tmp_path).returncode == 0
    assert app.test_cli_runner().invoke(main, ["db", "downgrade", previous_revision(), "--yes"]).exit_code == 0
    behind = _start_wsgi(database_url, tmp_path)
    assert behind.returncode != 0
    assert "pb will not start" in behind.stderr
    assert "run `pb db upgrade`" in behind.stderr
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
    engine.dispose()
    newer = _start_wsgi(database_url, tmp_path)
    assert newer.returncode != 0
    assert "f00dfeedbeef, which this version of pb does not know" in newer.stderr


# ---------------------------------------------------------------- readiness


def test_readyz_reports_a_schema_behind_and_a_stuck_outbox(app, db):
    from datetime import timedelta

    from pb.clock import now
    from pb.mail import OutgoingMail

    http = app.test_client()
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"database": "ok", "schema": "ok", "outbox": "ok"}
    assert ready.headers["Cache-Control"] == "no-store"
    with db() as session:
        session.add(
            OutgoingMail(
                recipient="someone@example.org",
                subject="Hello",
                body="...",
                attempts=5,
                created_at=now() - timedelta(seconds=app.config["MAIL_STUCK_AFTER"] + 60),
            )
        )
    stuck = http.get("/readyz")
    assert stuck.status_code == 503
    assert "1 messages undelivered" in stuck.get_json()["outbox"]
    assert "someone@example.org" not in stuck.get_data(as_text=True)
    assert app.test_cli_runner().invoke(main, ["db", "downgrade", previous_revision(), "--yes"]).exit_code == 0
    behind = http.get("/readyz")
    assert behind.status_code == 503
    assert "behind" in behind.get_json()["schema"]
    assert http.get("/healthz").status_code == 200  # alive all the same


@contextmanager
def own_postgresql():
    """A PostgreSQL server of the test's own (it is stopped and started, or its log read),
    with a migrated database `pb`."""
    from tests.postgres import migrated_database, start_server

    server = start_server()
    try:
        migrated_database(server, "pb")
        yield server
    finally:
        server.stop()


def test_readyz_answers_503_while_postgresql_is_down_and_200_when_it_is_back(tmp_path):
    """A real gunicorn on its own PostgreSQL server, which is stopped and started again."""
    with own_postgresql() as server:
        app_server = Gunicorn(
            database_url=server.url("pb"),
            instance_path=str(tmp_path / "instance"),
            log_path=str(tmp_path / "gunicorn.log"),
            workers=1,
        )
        app_server.start()
        try:
            browser = Browser(app_server.port)
            assert browser.get("/readyz").status == 200
            server.pause()
            down = browser.get("/readyz")
            assert down.status == 503
            assert json.loads(down.body)["database"].startswith("unreachable")
            assert browser.get("/healthz").status == 200
            server.resume()
            back = browser.get("/readyz")
            assert back.status == 200, back.body
            assert json.loads(back.body) == {"database": "ok", "schema": "ok", "outbox": "ok"}
        finally:
            app_server.stop()


# ---------------------------------------------------------------- the log


def test_a_journey_through_a_real_server_logs_request_ids_and_no_secrets(tmp_path):
    """Sign up, sign in, reset a password, vote with a letter's code and with an emailed
    code, on a real gunicorn whose log is JSON lines; then read that log as an attacker who
    got hold of it would: every request is there with its id, and no address, password,
    token, code or receipt is."""
    from tests.test_mail_outbox import SmtpServer

    with own_postgresql() as server:
        url = server.url("pb")
        ids, letter_code = _round_in_voting(url, tmp_path)
        with SmtpServer(free_port()) as smtp:
            app_server = Gunicorn(
                database_url=url,
                instance_path=str(tmp_path / "instance"),
                log_path=str(tmp_path / "gunicorn.log"),
                workers=2,
                env={
                    "PB_LOG_FORMAT": "json",
                    "PB_MAIL_SERVER": "127.0.0.1",
                    "PB_MAIL_PORT": str(smtp.controller.port),
                    "PB_MAIL_USE_TLS": "false",
                    "PB_BASE_URL": "http://127.0.0.1",
                },
            )
            app_server.start()
            try:
                secrets, request_ids = _journey(app_server.port, smtp, ids, letter_code)
            finally:
                app_server.stop()
        log = app_server.log_text()

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line["logger"] == "pb.requests"]
    assert {line["request_id"] for line in requests} >= set(request_ids)
    for line in requests:
        assert {"time", "level", "request_id", "method", "route", "status", "duration_ms"} <= set(line), line
    assert any(line["route"] == "/sign-up/<token>" for line in requests)
    assert len(secrets) >= 10
    assert len(requests) >= len(request_ids)
    for secret in secrets:
        assert secret not in log, f"{secret!r} is in the log"
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", log), "an email address is in the log"


def _round_in_voting(url, tmp_path):
    """A round voting by letter codes and by email (arranged through the service layer)."""
    from pb import create_app
    from pb.accounts import services as accounts
    from pb.db import session_scope
    from tests.factories import make_codes, make_round, open_voting

    app = create_app(
        {"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "arrange")}
    )

    def db(write=True):
        return session_scope(app.extensions["pb_engine"], write=write)

    with app.test_request_context(), db() as session:
        for email, kind, name in (
            ("lead@council.example", "anchor", "Eastshire Council"),
            ("member@group.example", "group", "Friends of the Park"),
        ):
            person = accounts.create_user(session, email=email, name="Someone", password=STRONG)
            org = accounts.create_organisation(
                session,
                actor=person,
                name=name,
                kind=kind,
                subtype="local_authority" if kind == "anchor" else "charity",
            )
            accounts.add_member(session, actor=person, organisation=org, user=person)
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council", methods=("codes", "email"))
    [code] = make_codes(app, db, ids["round"], ids["areas"]["North"], count=1)
    open_voting(
        app,
        db,
        ids,
        convener="lead@council.example",
        screener="lead@council.example",
        member="member@group.example",
        group="Friends of the Park",
    )
    app.extensions["pb_engine"].dispose()
    return ids, code


def _journey(port, smtp, ids, letter_code):
    """Returns the secrets met on the way, and the request ids the server sent back."""
    import time

    secrets, request_ids = [letter_code, STRONG, "second sturdy passphrase"], []
    browser = Browser(port)

    def mail_to(address, count):
        deadline = time.monotonic() + 20
        while len(smtp.bodies_to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return smtp.bodies_to(address)[-1]

    def post(path, form, page=None):
        token = browser.csrf_token(page or path)
        response = browser.post(path, {"csrf_token": token, **form})
        request_ids.append(response.headers["x-request-id"])
        return response

    # An account, by the emailed link; signing in; a reset.
    assert post("/sign-up", {"name": "Sam Green", "email": "sam@example.org"}).status == 302
    link = re.search(r"http://127\.0\.0\.1(/sign-up/\S+)", mail_to("sam@example.org", 1)).group(1)
    secrets += ["sam@example.org", link.rsplit("/", 1)[1]]
    assert post(link, {"name": "Sam Green", "password": STRONG, "confirm": STRONG}).status == 302
    assert browser.get("/dashboard").status == 200
    assert post("/sign-out", {}, page="/dashboard").status == 302
    assert post("/sign-in", {"email": "sam@example.org", "password": "not the password"}).status == 200
    assert post("/reset-password", {"email": "sam@example.org"}).status == 302
    reset = re.search(r"http://127\.0\.0\.1(/reset-password/\S+)", mail_to("sam@example.org", 2)).group(1)
    secrets.append(reset.rsplit("/", 1)[1])
    assert post(reset, {"password": "second sturdy passphrase", "confirm": "second sturdy passphrase"}).status == 302
    assert post("/reset-password", {"email": "nobody@example.org"}).status == 302
    secrets.append("nobody@example.org")

    # A resident votes with a letter's code, another by email.
    round_id, north = ids["round"], ids["contests"]["North"]
    resident = Browser(port)
    token = prove_with_code(resident, round_id, letter_code)
    ballot = resident.get(f"/rounds/{round_id}/vote/{north}")
    project = re.search(r'name="project" value="(\d+)"', ballot.body).group(1)
    _response, receipt = cast(resident, round_id, north, [project], token)
    assert receipt
    secrets.append(receipt)
    emailer = Browser(port)
    token = emailer.csrf_token(f"/rounds/{round_id}/vote")
    asked = emailer.post(
        f"/rounds/{round_id}/vote/email", {"csrf_token": token, "email": "res@example.org", "postcode": "LS6 1AA"}
    )
    assert asked.status == 302, asked.body[:500]
    code = re.search(r"Your code is (\S+)", mail_to("res@example.org", 1)).group(1)
    secrets += ["res@example.org", code]
    token = emailer.csrf_token(asked.location.replace("http://127.0.0.1", ""))
    proved = emailer.post(asked.location.replace("http://127.0.0.1", ""), {"csrf_token": token, "code": code})
    assert proved.status == 302, proved.body[:500]
    return secrets, request_ids


# ---------------------------------------------------------------- mail on a developer's machine


def test_without_a_mail_server_mail_is_shown_at_dev_outbox_to_this_machine_only(app, client, capfd):
    app.config["TESTING"] = False  # as `make run` is: the console shows the message too
    client.submit("/reset-password", {"email": "nobody@example.org"})
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert "Reset your pb password" in page.get_data(as_text=True)
    assert "nobody@example.org" in capfd.readouterr().out
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert elsewhere.get("/dev/outbox").status_code == 404
    # Behind a proxy on this machine (PB_PROXIES unset), every visitor comes from 127.0.0.1.
    assert client.get("/dev/outbox", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert client.get("/dev/outbox", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404
    app.config["MAIL_SERVER"] = "smtp.example.org"
    assert client.get("/dev/outbox").status_code == 200  # text messages are still kept here
    from tests.notify_server import NotifyServer

    with NotifyServer() as notify:  # and with GOV.UK Notify for them, nothing is
        app.config.update(notify.config())
        assert client.get("/dev/outbox").status_code == 404


def test_the_development_outbox_keeps_only_the_latest_messages():
    from pb.mail import OUTBOX_KEEPS, Mail, Outbox

    kept = Outbox()
    for n in range(OUTBOX_KEEPS + 50):
        kept.append(Mail(to=f"{n}@example.org", subject="s", body="b"))
    assert len(kept) == OUTBOX_KEEPS
    assert kept[-1].to == f"{OUTBOX_KEEPS + 49}@example.org"


def test_the_development_server_logs_no_path_and_the_log_masks_addresses(app):
    """`pb run`'s own line per request names the path, reset token and all: pb drops it (it
    logs each request by its route). And whatever a message says, an address is masked."""
    import logging

    from pb.logs import JsonLines, ReadableLines

    line = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /reset-password/eyJ1c2VyIjo0fQ.abc HTTP/1.1", 200, 1234),
        None,
    )
    assert logging.getLogger("werkzeug").filter(line) is False
    refused = logging.LogRecord(
        "pb.mail",
        logging.WARNING,
        __file__,
        1,
        "mail %s given up: %s",
        (7, "550 5.1.1 <Sam.Green+pb@example.org>: Recipient address rejected"),
        None,
    )
    for formatter in (JsonLines(), ReadableLines()):
        written = formatter.format(refused)
        assert "Sam.Green" not in written
        assert "[email]" in written
        assert "Recipient address rejected" in written
