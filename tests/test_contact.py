"""Help for residents: each round's organiser contact, common questions and paper-voting
places, set by the convening lead and shown on the round, its help page, the ballot and the
letters; the letters' closing date and languages; the site's privacy and accessibility
statements; the home page's open rounds; the development outbox link."""

import html
import itertools
import json
import re

import pytest
from babel import Locale
from babel.dates import format_skeleton, format_time
from sqlmodel import select

from pb.audit.models import AuditEvent, chain_key
from pb.rounds.models import Round, RoundContact, RoundQuestion, VotingPlace
from pb.verify.chain import verify_chain
from tests import factories
from tests.conftest import FormClient
from tests.factories import make_round, open_voting

PASSWORD = "correct horse battery"
LEAD, OTHER_LEAD, PARTNER_LEAD = "lead@council.example", "lead@fire.example", "lead@nhs.example"
MEMBER, GROUP = "chair@park.example", "Friends of the Park"

CONTACT = {
    "contact_name": "Eastshire PB team",
    "contact_email": "pb@eastshire.example",
    "contact_phone": "01632 960 123",
    "contact_address": "Town Hall\nHigh Street\nEastshire ES1 1AA",
    "contact_hours": "Monday to Friday, 9am to 5pm",
}


def help_data(**changes):
    """The help form as a lead fills it in: the contact, two questions given in reverse
    order by their place in the list, and one paper-voting place."""
    data = {
        **CONTACT,
        "questions-0-question": "Who can vote?",
        "questions-0-answer": "Everyone aged 11 or over.",
        "questions-0-order": "2",
        "questions-1-question": "Is my vote secret?",
        "questions-1-answer": "Yes. Nobody can see how you voted.",
        "questions-1-order": "1",
        "places-0-name": "Central Library",
        "places-0-address": "1 Library Way\nEastshire",
        "places-0-opening_times": "Saturdays 10am to 4pm",
    }
    data.update(changes)
    return data


@pytest.fixture
def people(app, make_user):
    make_user(LEAD, name="Cllr Ada", organisation="Eastshire Council", kind="anchor")
    make_user(OTHER_LEAD, name="Chief Bo", organisation="Westshire Fire and Rescue", kind="anchor")
    make_user(PARTNER_LEAD, name="Dr Ben", organisation="Eastshire NHS Trust", kind="anchor")
    make_user(MEMBER, name="Dee", organisation=GROUP, kind="group")
    clients = {}
    for key, email in (("lead", LEAD), ("other", OTHER_LEAD), ("partner", PARTNER_LEAD)):
        clients[key] = FormClient(app)
        clients[key].sign_in(email, PASSWORD)
    return clients


@pytest.fixture
def round_ids(app, db, people):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes", "paper"))
    # The NHS trust is a partner: it funds the round but does not convene it.
    people["lead"].submit(f"/rounds/{ids['round']}/partners", {"organisation": _org_id(db, "Eastshire NHS Trust")})
    # Its projects are described in English, Welsh and Arabic (pb.languages).
    chosen = people["lead"].submit(f"/rounds/{ids['round']}/languages", {"source": "en_GB", "others": ["cy", "ar"]})
    assert chosen.status_code == 302
    return ids


def _org_id(db, name):
    from pb.accounts.models import Organisation

    with db() as session:
        return session.exec(select(Organisation).where(Organisation.name == name)).one().id


def _help_rows(db, round_id):
    with db() as session:
        contact = session.exec(select(RoundContact).where(RoundContact.round_id == round_id)).first()
        questions = session.exec(
            select(RoundQuestion).where(RoundQuestion.round_id == round_id).order_by(RoundQuestion.position)
        ).all()
        places = session.exec(
            select(VotingPlace).where(VotingPlace.round_id == round_id).order_by(VotingPlace.position)
        ).all()
        return (
            {k: getattr(contact, k) for k in ("name", "email", "phone", "address", "hours")} if contact else None,
            [(q.question, q.answer) for q in questions],
            [(p.name, p.address, p.opening_times) for p in places],
        )


def _events(db, round_id, action):
    with db() as session:
        return session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == chain_key(round_id), AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ---------------------------------------------------------------- the lead sets it, residents see it


def test_the_convening_lead_saves_contact_questions_and_places_in_their_order_and_it_is_audited(
    app, db, people, round_ids
):
    url = f"/rounds/{round_ids['round']}/help/edit"
    response = people["lead"].submit(url, help_data())
    assert response.status_code == 302, response.get_data(as_text=True)
    contact, questions, places = _help_rows(db, round_ids["round"])
    assert contact == {
        "name": CONTACT["contact_name"],
        "email": CONTACT["contact_email"],
        "phone": CONTACT["contact_phone"],
        "address": CONTACT["contact_address"],
        "hours": CONTACT["contact_hours"],
    }
    assert questions == [
        ("Is my vote secret?", "Yes. Nobody can see how you voted."),
        ("Who can vote?", "Everyone aged 11 or over."),
    ]
    assert places == [("Central Library", "1 Library Way\nEastshire", "Saturdays 10am to 4pm")]
    [event] = _events(db, round_ids["round"], "round.help_set")
    assert json.loads(event.data)["contact"]["phone"] == CONTACT["contact_phone"]
    assert [q["question"] for q in json.loads(event.data)["questions"]] == ["Is my vote secret?", "Who can vote?"]
    with db() as session:
        assert verify_chain(session, chain_key(round_ids["round"])).ok

    # The form shows what is saved, so a second save changes only what the lead changed.
    form = text_of(people["lead"].get(url))
    assert 'value="Eastshire PB team"' in form
    assert "Is my vote secret?" in form

    # Removing a question (both lines emptied) and the place; the contact stays.
    people["lead"].submit(
        url,
        help_data(
            **{
                "questions-0-question": "",
                "questions-0-answer": "",
                "places-0-name": "",
                "places-0-address": "",
                "places-0-opening_times": "",
            }
        ),
    )
    contact, questions, places = _help_rows(db, round_ids["round"])
    assert questions == [("Is my vote secret?", "Yes. Nobody can see how you voted.")]
    assert places == []
    assert contact["name"] == CONTACT["contact_name"]
    assert len(_events(db, round_ids["round"], "round.help_set")) == 2


def test_residents_see_the_contact_questions_and_places_on_the_round_and_its_help_page(app, db, people, round_ids):
    people["lead"].submit(f"/rounds/{round_ids['round']}/help/edit", help_data())
    open_voting(app, db, round_ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    visitor = FormClient(app)
    page = text_of(visitor.get(f"/rounds/{round_ids['round']}"))
    assert CONTACT["contact_phone"] in page
    assert CONTACT["contact_email"] in page
    assert f"/rounds/{round_ids['round']}/help" in page
    help_page = visitor.get(f"/rounds/{round_ids['round']}/help")
    assert help_page.status_code == 200
    body = text_of(help_page)
    for value in CONTACT.values():
        for line in value.split("\n"):
            assert line in body
    assert body.index("Is my vote secret?") < body.index("Who can vote?")
    assert "Central Library" in body
    assert "Saturdays 10am to 4pm" in body
    languages = next(line for line in body.splitlines() if "You can vote in any of these languages" in line)
    assert "English" in languages
    assert "Cymraeg" in languages  # the round's languages, each in its own
    assert "Polski" not in languages  # the site speaks Polish, but this round's projects are not in it

    start = text_of(visitor.get(f"/rounds/{round_ids['round']}/vote"))
    assert "Questions? Contact Eastshire PB team" in start
    assert CONTACT["contact_phone"] in start
    assert "Central Library" in start
    assert "ask the organisers where" not in start

    # The ballot itself carries the same line.
    code = factories.make_codes(app, db, round_ids["round"], round_ids["areas"]["North"])[0]
    visitor.submit(f"/rounds/{round_ids['round']}/vote/code", {"code": code}, page=f"/rounds/{round_ids['round']}/vote")
    ballot = text_of(visitor.get(f"/rounds/{round_ids['round']}/vote/{round_ids['contests']['North']}"))
    assert "<form" in ballot
    assert "Questions? Contact Eastshire PB team" in ballot
    assert f"/rounds/{round_ids['round']}/help" in ballot


def test_places_are_not_shown_when_the_round_takes_no_paper_ballots(app, db, people):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    people["lead"].submit(f"/rounds/{ids['round']}/help/edit", help_data())
    body = text_of(FormClient(app).get(f"/rounds/{ids['round']}/help"))
    assert "Central Library" not in body
    assert "on paper" not in body
    assert "Eastshire PB team" in body


def test_the_contact_can_be_corrected_after_voting_opens_and_the_change_is_audited(app, db, people, round_ids):
    people["lead"].submit(f"/rounds/{round_ids['round']}/help/edit", help_data())
    open_voting(app, db, round_ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    response = people["lead"].submit(
        f"/rounds/{round_ids['round']}/help/edit", help_data(contact_phone="01632 960 999")
    )
    assert response.status_code == 302
    assert _help_rows(db, round_ids["round"])[0]["phone"] == "01632 960 999"
    events = _events(db, round_ids["round"], "round.help_set")
    assert [json.loads(e.data)["contact"]["phone"] for e in events] == ["01632 960 123", "01632 960 999"]
    assert not _events(db, round_ids["round"], "round.change_refused")


# ---------------------------------------------------------------- who may change it, and bad input


@pytest.mark.parametrize("who", ["other", "partner"])
def test_only_the_convening_anchors_leads_may_change_it(app, db, people, round_ids, who):
    people["lead"].submit(f"/rounds/{round_ids['round']}/help/edit", help_data())
    before = _help_rows(db, round_ids["round"])
    client = people[who]
    assert client.get(f"/rounds/{round_ids['round']}/help/edit").status_code == 403
    token = people["lead"].csrf_token(f"/rounds/{round_ids['round']}/help/edit")  # a token is no key
    response = client.post(
        f"/rounds/{round_ids['round']}/help/edit", data={**help_data(contact_phone="0800 000 000"), "csrf_token": token}
    )
    assert response.status_code in (400, 403)
    assert _help_rows(db, round_ids["round"]) == before
    assert len(_events(db, round_ids["round"], "round.help_set")) == 1


def test_a_lead_of_one_round_cannot_change_another_anchors_round(app, db, people, make_user):
    make_user("lead2@fire.example", organisation="Westshire Fire and Rescue", kind="anchor")
    theirs = make_round(app, db, convener=OTHER_LEAD, anchor="Westshire Fire and Rescue")
    lead = people["lead"]
    assert lead.get(f"/rounds/{theirs['round']}/help/edit").status_code == 403
    assert FormClient(app).get("/rounds/9999/help").status_code == 404


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"questions-0-answer": ""}, "Give each question its answer"),
        ({"contact_email": "not an address"}, "Enter an email address like name@example.org."),
        ({"contact_phone": "call me maybe"}, "Enter a phone number"),
        ({"places-0-name": ""}, "Give each place a name"),
        ({"questions-0-order": "99"}, "Number must be between 1 and 10."),
    ],
)
def test_a_bad_help_form_is_refused_with_its_reason_and_changes_nothing(app, db, people, round_ids, changes, message):
    response = people["lead"].submit(f"/rounds/{round_ids['round']}/help/edit", help_data(**changes))
    assert response.status_code == 400
    assert message in text_of(response)
    assert _help_rows(db, round_ids["round"]) == (None, [], [])
    assert not _events(db, round_ids["round"], "round.help_set")


# ---------------------------------------------------------------- letters


def _letters(app, db, ids, area="North", language=None):
    with app.test_request_context(), db() as session:
        factories.officer(session, session.get(Round, ids["round"]), LEAD)
    officer = FormClient(app)
    officer.sign_in(factories.OFFICER, PASSWORD)
    if language:
        officer.submit("/language", {"language": language, "next": "/"}, page="/")
    response = officer.submit(f"/rounds/{ids['round']}/codes", {"area": ids["areas"][area], "count": "2"})
    assert response.status_code == 200
    return text_of(response)


def _closing(db, ids, locale):
    """The closing time as people write it in that language, in London time: worked out
    here with Babel directly."""
    from zoneinfo import ZoneInfo

    with db() as session:
        closes = session.get(Round, ids["round"]).voting_closes_at
    local = closes.replace(tzinfo=closes.tzinfo or ZoneInfo("UTC")).astimezone(ZoneInfo("Europe/London"))
    lang = Locale.parse(locale)
    return lang.datetime_formats["medium"].format(
        format_time(local, "short", locale=lang), format_skeleton("yMMMMd", local, locale=lang)
    )


def test_letters_carry_the_closing_date_contact_languages_and_paper_voting_places(app, db, people, round_ids):
    people["lead"].submit(f"/rounds/{round_ids['round']}/help/edit", help_data())
    page = _letters(app, db, round_ids)
    assert page.count('class="letter"') == 2
    assert page.count(_closing(db, round_ids, "en_GB")) == 2
    for value in (
        "Eastshire PB team",
        CONTACT["contact_phone"],
        CONTACT["contact_email"],
        "Central Library",
        "Saturdays 10am to 4pm",
        "English",
        "Cymraeg",
        "العربية",
    ):
        assert value in page, value
    assert "Polski" not in page  # the letters name the round's languages, not every one the site speaks
    assert f"http://localhost/rounds/{round_ids['round']}/help" in page
    assert "ask the organisers" not in page


def test_a_welsh_letter_gives_the_closing_date_in_welsh(app, db, people, round_ids):
    page = _letters(app, db, round_ids, language="cy")
    assert _closing(db, round_ids, "cy") in page
    assert _closing(db, round_ids, "cy") != _closing(db, round_ids, "en_GB")


def test_letters_of_a_round_without_paper_ballots_do_not_mention_paper(app, db, people):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council", methods=("codes",))
    people["lead"].submit(f"/rounds/{ids['round']}/help/edit", help_data())
    page = _letters(app, db, ids)
    assert "paper" not in page.lower()
    assert "Central Library" not in page
    assert "Eastshire PB team" in page


# ---------------------------------------------------------------- privacy notice and accessibility statement

STATEMENT_SETTINGS = {
    "ORGANISATION_NAME": "Borough of Testington",
    "ORGANISATION_ADDRESS": "Civic Centre, 5 Test Road, Testington TT1 5ZZ",
    "CONTACT_EMAIL": "participation@testington.example",
    "DPO_CONTACT": "Data Protection Officer, dpo@testington.example, 01632 960 555",
    "HOSTING_PROVIDER": "Testington Cloud Services",
    "MAIL_PROVIDER": "Testington Post Ltd",
}


def test_the_privacy_notice_names_every_setting_the_retention_periods_and_the_ico(app, client):
    app.config.update(STATEMENT_SETTINGS, LOG_RETENTION_DAYS=30, PERMANENT_SESSION_LIFETIME=4 * 3600)
    response = client.get("/privacy")
    assert response.status_code == 200
    page = text_of(response)
    for value in STATEMENT_SETTINGS.values():
        assert value in page, value
    assert "Public task (UK GDPR Article 6(1)(e))" in page
    assert "Consent (UK GDPR Article 6(1)(a))" in page
    # The periods the code keeps, as the code keeps them (docs/operating.md, "Retention").
    for item, kept in [
        ("Residents' email addresses given to vote", "Deleted when the round's results are published."),
        ("Details residents declare to vote", "Deleted when the round's results are published."),
        ("Email and text messages we send", "Deleted as soon as it is delivered, or after two days if it cannot be."),
        ("Residents' mobile numbers given to vote by text message", "Deleted when the round's results are published."),
        ("Email addresses given to hear a round's news", "deleted when you stop the news"),
        ("Signed-in sessions", "after 4 hours"),
        ("Server logs", "Kept for 30 days"),
        ("Ballots", "nothing that identifies the voter"),
    ]:
        assert re.search(re.escape(item) + r".*?</th>\s*<td>[^<]*" + re.escape(kept), page), (item, kept)
    for right in ("(access)", "(rectification)", "(erasure)", "(objection)"):
        assert right in page
    assert "Wycliffe House" in page
    assert "SK9 5AF" in page
    assert "https://ico.org.uk/make-a-complaint/" in page
    headings = re.findall(r"<h([1-3])[^>]*>", page)
    assert headings[0] == "1"
    assert "3" in headings
    assert all(int(b) - int(a) <= 1 for a, b in itertools.pairwise(headings))


def test_the_privacy_notice_follows_the_lawful_basis_setting(app, client):
    app.config["LAWFUL_BASIS"] = "legitimate_interests"
    page = text_of(client.get("/privacy"))
    assert "Legitimate interests (UK GDPR Article 6(1)(f))" in page
    assert "Public task" not in page


def test_the_accessibility_statement_has_the_model_sections_and_the_date_and_status_from_settings(app, client):
    app.config.update(STATEMENT_SETTINGS, ACCESSIBILITY_TESTED_ON="2025-03-07")
    page = text_of(client.get("/accessibility"))
    for heading in (
        "How accessible this website is",
        "What to do if you cannot use parts of this website",
        "Reporting accessibility problems with this website",
        "Enforcement procedure",
        "Technical information about this website's accessibility",
        "Compliance status",
        "Non-accessible content",
        "How we tested this website",
    ):
        assert re.search(r"<h[23][^>]*>" + re.escape(heading) + "</h[23]>", page), heading
    assert "Equality and Human Rights Commission" in page
    assert "Equality Advisory and Support Service" in page
    assert "partially compliant" in page
    assert "WCAG 2.2 success criterion 2.2.1" in page
    assert "7 Mar 2025" in page
    assert "Borough of Testington" in page
    assert "participation@testington.example" in page
    app.config["ACCESSIBILITY_COMPLIANCE"] = "full"
    assert "fully compliant" in text_of(client.get("/accessibility"))
    welsh = FormClient(app)
    welsh.http.set_cookie("pb_locale", "cy", domain="localhost")
    assert "7 Maw 2025" in text_of(welsh.get("/accessibility"))  # the date in Welsh


@pytest.mark.parametrize(
    "setting, value",
    [
        ("LAWFUL_BASIS", "because we can"),
        ("ACCESSIBILITY_COMPLIANCE", "mostly"),
        ("ACCESSIBILITY_TESTED_ON", "last Tuesday"),
        ("LOG_RETENTION_DAYS", "a fortnight"),
    ],
)
def test_a_statement_setting_pb_cannot_use_stops_it_starting_with_one_line(tmp_path, setting, value):
    from pb import create_app
    from pb.config import ConfigError

    with pytest.raises(ConfigError, match=f"PB_{setting}"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "x",
                "INSTANCE_PATH": str(tmp_path),
                setting: value,
                "DATABASE_URL": f"sqlite:///{tmp_path}/pb.sqlite",
            }
        )


# ---------------------------------------------------------------- home page and the development outbox


def test_the_home_page_lists_rounds_open_for_voting_first_with_a_vote_link_and_not_drafts(app, db, people):
    voting_ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    open_voting(app, db, voting_ids, convener=LEAD, screener=LEAD, member=MEMBER, group=GROUP)
    taking = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    from pb.rounds import services as rounds

    with app.test_request_context(), db() as session:
        draft = rounds.create_round(
            session,
            actor=factories.user(session, LEAD),
            organisation=factories.organisation(session, "Eastshire Council"),
            title="Secret draft",
        )
        session.get(Round, taking["round"]).title = "Ideas wanted"
        draft_id = draft.id
    page = text_of(FormClient(app).get("/"))
    vote_link = f'href="/rounds/{voting_ids["round"]}/vote"'
    assert vote_link in page
    assert "Vote in Greener Eastshire" in page
    assert page.index(vote_link) < page.index("Ideas wanted") < page.index("What we promise")
    assert f'/rounds/{taking["round"]}/vote"' not in page
    assert f"/rounds/{taking['round']}/proposals" in page
    assert "Secret draft" not in page
    assert f"/rounds/{draft_id}" not in page


def test_the_development_outbox_is_linked_only_where_it_is_shown(app, client):
    link = 'href="/dev/outbox"'
    assert link in text_of(client.get("/"))
    assert client.get("/dev/outbox").status_code == 200
    assert link not in text_of(client.get("/", headers={"X-Forwarded-For": "203.0.113.9"}))  # through a proxy
    assert link not in text_of(client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}))  # another machine
    app.config["MAIL_SERVER"] = "smtp.example.org"  # email really sent, text messages still kept here
    assert link in text_of(client.get("/"))
    assert client.get("/dev/outbox").status_code == 200
    app.config.update(NOTIFY_API_KEY="pb-" + "1" * 36 + "-" + "2" * 36, NOTIFY_SMS_TEMPLATE_ID="3" * 36)
    assert link not in text_of(client.get("/"))
    assert client.get("/dev/outbox").status_code == 404
    app.config.update(NOTIFY_API_KEY=None, NOTIFY_SMS_TEMPLATE_ID=None)
    app.config.update(MAIL_SERVER=None, ENV="production")
    assert link not in text_of(client.get("/"))
    assert client.get("/dev/outbox").status_code == 404


def test_the_demo_says_where_its_mail_is(app):
    from pb.cli import main

    result = app.test_cli_runner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "/dev/outbox" in result.output
    page = text_of(FormClient(app).get("/"))
    assert "Vote in Safer Streets 2027" in page
    assert 'href="/dev/outbox"' in page
