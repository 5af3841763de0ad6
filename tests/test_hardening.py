"""Security hardening (issue 19): each finding of the attack review, over HTTP."""

import re

import pytest
from sqlmodel import select

from pb import create_app
from pb.config import ConfigError
from tests.conftest import FormClient
from tests.factories import sign_up_link

PASSWORD = "correct horse battery"

from tests.test_delivery import published  # noqa: E402,F401  (the fixture: a round with published results)

# ---------------------------------------------------------------- links come from PB_BASE_URL


@pytest.fixture
def public_app(database_url, tmp_path):
    """pb as deployed: reached at https://pb.example.org, behind one proxy."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "BASE_URL": "https://pb.example.org",
            "PROXIES": 1,
            "INSTANCE_PATH": str(tmp_path / "public"),
        }
    )
    yield app
    app.extensions["pb_engine"].dispose()


def _mails(app):
    return list(app.extensions["pb_outbox"])


def test_links_in_mail_come_from_the_base_url_and_other_hosts_are_refused(public_app, make_user):
    from pb.accounts.services import create_user
    from pb.db import session_scope

    with public_app.app_context(), session_scope() as session:
        create_user(session, email="lee@example.org", name="Lee", password=PASSWORD)
    http = public_app.test_client()
    site = {"base_url": "https://pb.example.org"}
    page = http.get("/reset-password", **site)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    # The attack: the same form posted with the attacker's host, directly or through the proxy.
    referer = {"Referer": "https://pb.example.org/reset-password"}  # as a browser sends it over HTTPS
    for headers in ({"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}):
        refused = http.post(
            "/reset-password",
            data={"email": "lee@example.org", "csrf_token": token},
            headers={**referer, **headers},
            **site,
        )
        assert refused.status_code == 400, headers
        assert "does not answer to that address" in refused.get_data(as_text=True), headers
    assert _mails(public_app) == []
    sent = http.post("/reset-password", data={"email": "lee@example.org", "csrf_token": token}, headers=referer, **site)
    assert sent.status_code == 302
    [mail] = _mails(public_app)
    assert re.search(r"https://pb\.example\.org/reset-password/\S+", mail.body), mail.body


def test_without_a_base_url_in_production_pb_does_not_start(monkeypatch, tmp_path, database_url):
    for key in ("PB_BASE_URL", "PB_SECRET_KEY", "PB_MAIL_SERVER", "PB_ENV"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PB_INSTANCE_PATH", str(tmp_path / "prod"))
    monkeypatch.setenv("PB_DATABASE_URL", database_url)
    monkeypatch.setenv("PB_ENV", "production")
    monkeypatch.setenv("PB_SECRET_KEY", "k" * 8 + "0123456789abcdefghijklmnopqrstuv")
    monkeypatch.setenv("PB_MAIL_SERVER", "smtp.example.org")
    with pytest.raises(ConfigError, match="PB_BASE_URL") as refused:
        create_app()
    assert "\n" not in str(refused.value)
    monkeypatch.setenv("PB_BASE_URL", "http://pb.example.org")
    with pytest.raises(ConfigError, match="https://"):
        create_app()
    monkeypatch.setenv("PB_BASE_URL", "https://pb.example.org")
    monkeypatch.delenv("PB_SECRET_KEY")
    with pytest.raises(ConfigError, match="PB_SECRET_KEY"):  # never a key made up on one server only
        create_app()


def test_a_secret_key_must_be_text_of_enough_randomness(monkeypatch, tmp_path, database_url):
    """PB_SECRET_KEY=20251203 used to become a number, and every form page answered 500."""
    for key in ("PB_BASE_URL", "PB_ENV", "PB_MAIL_SERVER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PB_INSTANCE_PATH", str(tmp_path / "dev"))
    monkeypatch.setenv("PB_DATABASE_URL", database_url)
    monkeypatch.setenv("PB_SECRET_KEY", "20251203")
    with pytest.raises(ConfigError, match="PB_SECRET_KEY is too easy to guess"):
        create_app()
    key = "20251203" + "9876543210" * 3  # digits only, but long and varied enough: text, not a number
    monkeypatch.setenv("PB_SECRET_KEY", key)
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == key
        assert app.test_client().get("/sign-in", base_url="https://localhost").status_code == 200
    finally:
        app.extensions["pb_engine"].dispose()


# ---------------------------------------------------------------- sessions that end


def _copy(app, client):
    twin = FormClient(app)
    cookie = client.http.get_cookie(app.config["SESSION_COOKIE_NAME"])
    twin.http.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)
    return twin


def _signed_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_dead(app, make_user):
    make_user("lee@example.org")
    lee = FormClient(app)
    lee.sign_in("lee@example.org", PASSWORD)
    thief = _copy(app, lee)
    assert _signed_in(thief)
    lee.submit("/sign-out", {}, page="/dashboard")
    assert not _signed_in(thief)
    assert not _signed_in(lee)


def test_a_new_password_and_sign_out_everywhere_end_every_session(app, make_user):
    from tests.test_accounts import reset_link

    make_user("lee@example.org")
    phone, laptop = FormClient(app), FormClient(app)
    phone.sign_in("lee@example.org", PASSWORD)
    laptop.sign_in("lee@example.org", PASSWORD)
    thief = _copy(app, phone)
    # A password reset (from a third browser) ends all of them.
    other = FormClient(app)
    other.submit("/reset-password", {"email": "lee@example.org"})
    new = "a brand new passphrase"
    assert other.submit(reset_link(app), {"password": new, "confirm": new}).status_code == 302
    assert not any(_signed_in(c) for c in (phone, laptop, thief))
    # "Sign out everywhere" from one device ends the others too.
    phone.sign_in("lee@example.org", new)
    laptop.sign_in("lee@example.org", new)
    thief = _copy(app, laptop)
    done = phone.submit("/sign-out-everywhere", {}, page="/dashboard")
    assert done.status_code == 302
    assert "signed out of all 2 sessions" in phone.get(done.headers["Location"]).get_data(as_text=True)
    assert not any(_signed_in(c) for c in (phone, laptop, thief))


# ---------------------------------------------------------------- one CSV writer


def test_every_csv_export_has_a_bom_and_no_live_formula(app, db, published):
    """Every CSV route the app has, on a round whose project titles and a group's name were
    typed as spreadsheet formulas: each file starts with a UTF-8 byte-order mark and no
    cell, split on , or ;, starts a formula."""
    import csv
    import io

    from sqlalchemy import text

    from pb.accounts.models import Organisation
    from pb.proposals.models import Project

    with db() as session:
        for n, project in enumerate(
            session.exec(select(Project).where(Project.contest_id == published["contests"]["North"]))
        ):
            session.exec(
                text("UPDATE project SET title = :t WHERE id = :i"),
                params={"t": f'=HYPERLINK("http://evil") Café {n}', "i": project.id},
            )
            session.exec(
                text("UPDATE proposal SET title = :t WHERE id = :i"),
                params={"t": f"@SUM(1;2) {n}", "i": project.proposal_id},
            )
        trust = session.exec(select(Organisation).where(Organisation.name == "Eastshire NHS Trust")).one()
    rid = published["round"]
    urls = {
        "results.results_csv": f"/rounds/{rid}/results/{published['contests']['North']}/results.csv",
        "reports.round_money_csv": f"/rounds/{rid}/money.csv",
        "reports.anchor_report_csv": f"/anchors/{trust.id}/report.csv",
        "audit.round_log_csv": f"/rounds/{rid}/audit.csv",
    }
    # Every route that makes a CSV file is here (a new one must be added, and pass).
    assert {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.endswith(".csv")} == set(urls)
    client = FormClient(app)
    seen = {}
    for endpoint, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/csv", url
        body = response.get_data(as_text=True)
        assert body.startswith("\ufeff"), url
        cells = seen[endpoint] = [cell for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))) for cell in row]
        pieces = [piece for cell in cells for part in cell.split(";") for piece in part.split(",")]
        assert not [p for p in pieces if p[:1] in ("=", "+", "@", "\t", "\r") or re.match(r"-[^0-9]", p)], (url, pieces)
    assert any("Café" in cell for cell in seen["results.results_csv"])  # names in any script, intact
    assert any("Café" in cell for cell in seen["reports.round_money_csv"])


# ---------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    "password,reason",
    [
        ("aaaaaaaaaa", "Repeated characters"),
        ("1234567890", "one of the most common passwords"),
        ("qwertyuiop", "one of the most common passwords"),
        ("password12", "one of the most common passwords"),
    ],
)
def test_common_or_guessable_passwords_are_refused_with_a_reason(app, client, db, password, reason):
    from pb.accounts.models import User

    link = sign_up_link(app, client, "lee@example.org", "Lee")
    response = client.submit(link, {"name": "Lee", "password": password, "confirm": password})
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    with db(write=False) as session:
        assert session.exec(select(User)).all() == []


def test_a_password_made_of_the_persons_own_address_or_name_is_refused(app, client, db, make_user):
    """At sign-up the address comes from the emailed link, not the form; at a reset, from the account."""
    link = sign_up_link(app, client, "zebedee.quarrington@example.org", "Lee")
    refused = client.submit(link, {"name": "Lee", "password": "zebedeequarrington", "confirm": "zebedeequarrington"})
    assert refused.status_code == 400
    assert "Do not use your name or email address" in refused.get_data(as_text=True)
    make_user("lee@example.org", name="Philippa Featherstonehaugh")
    client.submit("/reset-password", {"email": "lee@example.org"})
    reset = re.search(r"http://localhost(/reset-password/\S+)", app.extensions["pb_outbox"][-1].body).group(1)
    refused = client.submit(reset, {"password": "featherstonehaugh", "confirm": "featherstonehaugh"})
    assert refused.status_code == 400
    assert "Do not use your name or email address" in refused.get_data(as_text=True)


def test_the_reason_a_password_is_refused_is_given_in_the_readers_language(app, db):
    welsh = FormClient(app)
    welsh.http.set_cookie("pb_locale", "cy")
    link = sign_up_link(app, welsh, "lee@example.org", "Lee")
    page = welsh.submit(link, {"name": "Lee", "password": "aaaaaaaaaa", "confirm": "aaaaaaaaaa"})
    body = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'lang="cy"' in body
    assert "Repeated characters" not in body


# ---------------------------------------------------------------- the platform admin's powers, in the round's log


def test_a_platform_admin_making_themself_an_anchor_lead_shows_in_the_rounds_public_log(app, db, make_user):
    from pb.accounts.models import Organisation
    from tests.factories import make_round

    make_user("lead@council.example", organisation="Eastshire Council", kind="anchor")
    make_user("admin@pb.example", name="Ada Admin", admin=True)
    ids = make_round(app, db, convener="lead@council.example", anchor="Eastshire Council")
    with db(write=False) as session:
        council = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one()
    admin = FormClient(app)
    admin.sign_in("admin@pb.example", PASSWORD)
    added = admin.submit(f"/admin/organisations/{council.id}", {"email": "admin@pb.example"})
    assert added.status_code == 302
    public = FormClient(app).get(f"/rounds/{ids['round']}/audit").get_data(as_text=True)
    rows = public.split("<tbody")[1]
    assert "A funding anchor gained a lead" in rows
    assert "Ada Admin" in rows
    assert "By a platform admin" in rows
    import json

    exported = FormClient(app).get(f"/rounds/{ids['round']}/audit.jsonl").get_data(as_text=True)
    documents = [json.loads(json.loads(line)["document"]) for line in exported.splitlines()[1:]]
    [added] = [d for d in documents if d["action"] == "anchor.member_added"]
    assert added["data"]["themself"] is True
    assert added["data"]["by_platform_admin"] is True


def test_a_very_long_password_gets_the_length_message_not_a_500(app, client, db):
    long = "line 1\nline 2 " * 10_000
    link = sign_up_link(app, client, "lee@example.org", "Lee")
    response = client.submit(link, {"name": "Lee", "password": long, "confirm": long})
    assert response.status_code == 400
    assert "at most 200 characters" in response.get_data(as_text=True)


def test_a_multipart_field_name_with_a_line_break_is_refused_plainly(app):
    """Werkzeug reads such a name as None, on which the CSRF check itself used to fail (500)."""
    from werkzeug.datastructures import MultiDict
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart(MultiDict([("email", "lee@example.org"), ("\r\x91#", "3800")]))
    response = app.test_client().post("/sign-in", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400


def test_personal_pages_are_never_kept_by_the_browser(app, make_user):
    make_user("lee@example.org")
    lee = FormClient(app)
    assert "no-store" not in (lee.get("/").headers.get("Cache-Control") or "")
    lee.sign_in("lee@example.org", PASSWORD)
    assert lee.get("/dashboard").headers["Cache-Control"] == "no-store"
    assert lee.get("/").headers["Cache-Control"] == "no-store"


def test_one_client_cannot_make_pb_mail_address_after_address(app):
    client = FormClient(app)
    for n in range(12):
        assert client.submit("/reset-password", {"email": f"person{n}@example.org"}).status_code == 302
    assert len(app.extensions["pb_outbox"]) == 10  # then it stops, saying the same


def test_a_signed_in_session_ends_on_the_server_after_its_lifetime(app, db, make_user):
    """However active, and whatever the cookie says, a session lasts PERMANENT_SESSION_LIFETIME
    (8 hours) from signing in."""
    from datetime import timedelta

    from sqlalchemy import update

    from pb.accounts.models import UserSession
    from pb.clock import now

    make_user("lee@example.org")
    lee = FormClient(app)
    lee.sign_in("lee@example.org", PASSWORD)
    assert _signed_in(lee)
    with db() as session:
        session.exec(update(UserSession).values(created_at=now() - timedelta(hours=8, minutes=1)))
    assert not _signed_in(lee)
    lee.sign_in("lee@example.org", PASSWORD)  # signing in again starts afresh, and clears the old one away
    assert _signed_in(lee)
    with db(write=False) as session:
        assert len(session.exec(select(UserSession)).all()) == 1
