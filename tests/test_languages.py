"""Round and project text in each language a round offers (issue 21): the round chooses
its languages, groups and leads give their text in them, residents read their language
where it exists and the text as written otherwise, marked with its language; what
residents vote on, in every language, is fixed when voting opens."""

import json

import pytest
from sqlmodel import select

from pb import lifecycle
from pb.audit.models import AuditEvent, chain_key
from pb.i18n import language_name
from pb.languages.models import ProposalTranslation, RoundTranslation
from pb.proposals import services as proposals
from pb.proposals.models import Project, Proposal
from pb.rounds.models import Area, Round
from pb.voting.models import CodeBatch
from pb.voting.services import generate_codes
from tests.conftest import FormClient
from tests.factories import eligible_proposals, make_codes, make_round, officer, publish, user

PASSWORD = "correct horse battery"
LEAD, OTHER_LEAD, MEMBER, OTHER_MEMBER = (
    "lead@council.example",
    "lead@police.example",
    "chair@park.example",
    "chair@youth.example",
)
WELSH_TITLE, WELSH_SUMMARY = "Gwelyau gardd cymunedol", "Gwelyau uchel ac offer ar gyfer gardd a rennir."


@pytest.fixture
def people(app, make_user):
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(OTHER_LEAD, organisation="Eastshire Police", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    make_user(OTHER_MEMBER, organisation="Eastshire Youth Club", kind="group")
    clients = {}
    for key, email in [("lead", LEAD), ("other_lead", OTHER_LEAD), ("member", MEMBER), ("other_member", OTHER_MEMBER)]:
        clients[key] = FormClient(app)
        clients[key].sign_in(email, PASSWORD)
    return clients


@pytest.fixture
def ids(app, db, people):
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    ids["proposals"] = eligible_proposals(
        app, db, ids["round"], screener=LEAD, member=MEMBER, group="Friends of the Park"
    )
    return ids


def choose_languages(client, round_id, source="en_GB", others=("cy",)):
    return client.submit(f"/rounds/{round_id}/languages", {"source": source, "others": list(others)})


def translate(client, proposal_id, language="cy", **texts):
    return client.submit(f"/proposals/{proposal_id}/translations", {"language": language, **texts})


def stored(db, model=ProposalTranslation):
    with db() as session:
        return sorted((row.field, row.locale, row.text) for row in session.exec(select(model)))


def events(db, round_id, action):
    """The public data of the round's audit events of one kind, in order."""
    with db() as session:
        query = select(AuditEvent).where(AuditEvent.chain == chain_key(round_id), AuditEvent.action == action)
        return [json.loads(e.data) for e in session.exec(query.order_by(AuditEvent.seq))]


def page(app, url, locale):
    """A page as a visitor who chose `locale` with the site's language switcher sees it."""
    visitor = app.test_client()
    visitor.set_cookie("pb_locale", locale)
    response = visitor.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def open_voting(app, db, ids):
    """Open voting on the proposals already eligible (codes for every area first)."""
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        made = {batch.area_id for batch in session.exec(select(CodeBatch).where(CodeBatch.round_id == round_.id))}
        for area_id in set(ids["areas"].values()) - made:
            generate_codes(
                session, round_, actor=officer(session, round_, LEAD), area=session.get(Area, area_id), count=1
            )
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        lifecycle.move_to_next_phase(session, round_, actor=user(session, LEAD))
        lifecycle.move_to_next_phase(session, round_, actor=user(session, LEAD))
        assert round_.phase == "voting", lifecycle.voting_blockers(session, round_)


def rescreen(app, db, proposal_id):
    with app.test_request_context(), db() as session:
        proposal = session.get(Proposal, proposal_id)
        proposals.screen_proposal(session, proposal, actor=user(session, LEAD), decision="eligible", reason="")


# ---------------------------------------------------------------- the round's languages


def test_the_convening_lead_chooses_the_rounds_languages_and_it_is_audited(app, db, people, ids):
    with db() as session:
        assert session.get(Round, ids["round"]).source_locale == app.config["BABEL_DEFAULT_LOCALE"]
    response = choose_languages(people["lead"], ids["round"], others=["cy", "ar", "en_GB"])
    assert response.status_code == 302
    with db() as session:
        round_ = session.get(Round, ids["round"])
        assert (round_.source_locale, round_.translated_into) == (
            "en_GB",
            ["cy", "ar"],
        )  # the source is not "another" language
    [event] = events(db, ids["round"], "round.languages_set")
    assert event["source"] == "en_GB"
    assert event["others"] == ["cy", "ar"]


@pytest.mark.parametrize(
    "form",
    [
        {"source": "en_GB", "others": ["xx"]},
        {"source": "xx", "others": ["cy"]},
        {"source": "", "others": []},
    ],
)
def test_only_the_sites_languages_can_be_chosen(db, people, ids, form):
    response = people["lead"].submit(f"/rounds/{ids['round']}/languages", form)
    assert response.status_code == 400
    with db() as session:
        round_ = session.get(Round, ids["round"])
        assert (round_.source_locale, round_.other_locales) == ("en_GB", "")
    assert not events(db, ids["round"], "round.languages_set")


def test_a_lead_of_another_anchor_cannot_set_a_rounds_languages(app, db, people, ids):
    assert people["other_lead"].get(f"/rounds/{ids['round']}/languages").status_code == 403
    token = people["other_lead"].csrf_token("/rounds/new")  # a valid token of its own, from a page it may use
    response = people["other_lead"].post(
        f"/rounds/{ids['round']}/languages", data={"source": "cy", "others": ["en_GB"], "csrf_token": token}
    )
    assert response.status_code == 403
    with db() as session:
        assert session.get(Round, ids["round"]).source_locale == "en_GB"


# ---------------------------------------------------------------- giving and showing translations


def test_a_groups_translation_is_shown_in_that_language_and_the_text_as_written_elsewhere_marked(app, db, people, ids):
    choose_languages(people["lead"], ids["round"], others=["cy", "ar"])
    proposal_id = ids["proposals"][0]
    response = translate(people["member"], proposal_id, title=WELSH_TITLE, summary=WELSH_SUMMARY)
    assert response.status_code == 302
    assert stored(db) == [("summary", "cy", WELSH_SUMMARY), ("title", "cy", WELSH_TITLE)]
    with db() as session:
        proposal = session.get(Proposal, proposal_id)
        english_title, english_summary = proposal.title, proposal.summary
        assert proposal.status == "submitted"  # what it says has changed: screened again
    assert events(db, ids["round"], "proposal.translated")[0]["translation"] == {
        "title": WELSH_TITLE,
        "summary": WELSH_SUMMARY,
    }

    welsh = page(app, f"/proposals/{proposal_id}", "cy")
    assert f"<h1>{WELSH_TITLE}</h1>" in welsh
    assert WELSH_SUMMARY in welsh
    assert english_title not in welsh.split("<h1>")[1]  # not the English one

    english = page(app, f"/proposals/{proposal_id}", "en_GB")
    assert f"<h1>{english_title}</h1>" in english
    assert WELSH_TITLE not in english
    assert "translation-note" not in english

    arabic = page(app, f"/proposals/{proposal_id}", "ar")  # offered, but nothing given in Arabic
    assert f'<h1><span lang="en-GB" dir="ltr">{english_title}</span></h1>' in arabic
    assert f'<span lang="en-GB" dir="ltr">{english_summary}</span>' in arabic
    assert "translation-note" in arabic
    assert WELSH_TITLE not in arabic

    polish = page(app, f"/proposals/{proposal_id}", "pl")  # not offered by the round: as written, marked
    assert f'<h1><span lang="en-GB" dir="ltr">{english_title}</span></h1>' in polish
    assert "translation-note" in polish


def test_an_empty_translation_removes_it(app, db, people, ids):
    choose_languages(people["lead"], ids["round"])
    proposal_id = ids["proposals"][0]
    translate(people["member"], proposal_id, title=WELSH_TITLE, summary=WELSH_SUMMARY)
    assert translate(people["member"], proposal_id, title=WELSH_TITLE, summary="").status_code == 302
    assert stored(db) == [("title", "cy", WELSH_TITLE)]


@pytest.mark.parametrize("language", ["pl", "en_GB", "xx", ""])
def test_a_translation_into_a_language_the_round_does_not_offer_is_refused(db, people, ids, language):
    choose_languages(people["lead"], ids["round"])  # en_GB, and cy only
    response = translate(people["member"], ids["proposals"][0], language=language, title="Tytuł", summary="Opis")
    assert response.status_code == 400
    assert stored(db) == []
    assert not events(db, ids["round"], "proposal.translated")


def test_a_group_cannot_translate_another_groups_proposal(db, people, ids):
    choose_languages(people["lead"], ids["round"])
    url = f"/proposals/{ids['proposals'][0]}/translations"
    assert people["other_member"].get(url).status_code == 403
    token = people["other_member"].csrf_token("/groups/new")
    response = people["other_member"].post(url, data={"language": "cy", "title": "Ein un ni", "csrf_token": token})
    assert response.status_code == 403
    assert people["lead"].get(url).status_code == 403  # the lead does not speak for the group either
    assert stored(db) == []


def test_the_lead_translates_the_rounds_own_text(app, db, people, ids):
    choose_languages(people["lead"], ids["round"])
    with db() as session:
        session.get(Round, ids["round"]).purpose = "Money for green ideas."
    response = people["lead"].submit(
        f"/rounds/{ids['round']}/translations",
        {"language": "cy", "title": "Dwyrain Sir Wyrddach", "purpose": "Arian ar gyfer syniadau gwyrdd."},
    )
    assert response.status_code == 302
    assert stored(db, RoundTranslation) == [
        ("purpose", "cy", "Arian ar gyfer syniadau gwyrdd."),
        ("title", "cy", "Dwyrain Sir Wyrddach"),
    ]
    welsh = page(app, f"/rounds/{ids['round']}", "cy")
    assert "<h1>Dwyrain Sir Wyrddach</h1>" in welsh
    assert "Arian ar gyfer syniadau gwyrdd." in welsh
    assert "Money for green ideas." not in welsh
    english = page(app, f"/rounds/{ids['round']}", "en_GB")
    assert "<h1>Greener Eastshire</h1>" in english
    assert "Money for green ideas." in english
    assert events(db, ids["round"], "round.translated")[0]["locale"] == "cy"


# ---------------------------------------------------------------- frozen when voting opens


def test_what_residents_vote_on_is_fixed_in_every_language_when_voting_opens(app, db, people, ids):
    choose_languages(people["lead"], ids["round"])
    translated, untranslated = ids["proposals"][0], ids["proposals"][1]
    translate(people["member"], translated, title=WELSH_TITLE, summary=WELSH_SUMMARY)
    rescreen(app, db, translated)
    open_voting(app, db, ids)
    before = stored(db)

    response = translate(people["member"], translated, title="Teitl newydd", summary="Crynodeb newydd")
    assert response.status_code == 409
    assert "Voting has opened" in response.get_data(as_text=True)
    assert stored(db) == before
    refused = events(db, ids["round"], "round.change_refused")
    assert refused[-1]["attempted"] == "proposal.translated"

    response = choose_languages(people["lead"], ids["round"], others=["cy", "ar"])
    assert response.status_code == 409
    with db() as session:
        assert session.get(Round, ids["round"]).translated_into == ["cy"]
    assert events(db, ids["round"], "round.change_refused")[-1]["attempted"] == "round.languages_set"

    # The round's title and purpose may still be corrected, so also translated; who may vote may not.
    lead = people["lead"]
    assert (
        lead.submit(
            f"/rounds/{ids['round']}/translations", {"language": "cy", "title": "Dwyrain Sir Wyrddach"}
        ).status_code
        == 302
    )
    response = lead.submit(
        f"/rounds/{ids['round']}/translations",
        {"language": "cy", "title": "Dwyrain Sir Wyrddach", "eligibility": "Pawb"},
    )
    assert response.status_code == 409
    assert stored(db, RoundTranslation) == [("title", "cy", "Dwyrain Sir Wyrddach")]

    # On the ballot: the Welsh title and summary for a resident who chose Cymraeg, and the
    # project without Welsh text as written, marked as English.
    with db() as session:
        project = session.exec(select(Project).where(Project.proposal_id == translated)).one()
        other = session.exec(select(Project).where(Project.proposal_id == untranslated)).one()
        contest_id = project.contest_id
        area = next(name for name, cid in ids["contests"].items() if cid == contest_id)
    code = make_codes(app, db, ids["round"], ids["areas"][area], count=1)[0]
    resident = FormClient(app)
    resident.http.set_cookie("pb_locale", "cy")
    assert (
        resident.submit(
            f"/rounds/{ids['round']}/vote/code", {"code": code}, page=f"/rounds/{ids['round']}/vote"
        ).status_code
        == 302
    )
    ballot = resident.get(f"/rounds/{ids['round']}/vote/{contest_id}").get_data(as_text=True)
    assert f"<strong>{WELSH_TITLE}</strong>" in ballot
    assert WELSH_SUMMARY in ballot
    assert f'<strong><span lang="en-GB" dir="ltr">{other.title}</span></strong>' in ballot
    review = resident.submit(f"/rounds/{ids['round']}/vote/{contest_id}", {"project": [str(project.id)]}).get_data(
        as_text=True
    )
    assert WELSH_TITLE in review
    assert project.title not in review
    cast = resident.submit(f"/rounds/{ids['round']}/vote/{contest_id}", {"project": [str(project.id)], "confirm": "1"})
    assert cast.status_code in (200, 302)

    # Published: the results read in Welsh; the files anyone recounts keep the text as written.
    publish(app, db, ids["round"], LEAD)
    results = page(app, f"/rounds/{ids['round']}/results/{contest_id}", "cy")
    assert WELSH_TITLE in results
    assert f'<span lang="en-GB" dir="ltr">{other.title}</span>' in results
    for export in ("ballots.pb", "results.csv"):
        data = app.test_client().get(f"/rounds/{ids['round']}/results/{contest_id}/{export}").get_data(as_text=True)
        assert project.title in data, export
        assert WELSH_TITLE not in data, export


# ---------------------------------------------------------------- screening reasons


def test_a_screener_gives_the_reason_in_welsh_and_a_new_decision_forgets_it(app, db, people, ids):
    choose_languages(people["lead"], ids["round"])
    proposal_id = ids["proposals"][0]
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session,
            session.get(Proposal, proposal_id),
            actor=user(session, LEAD),
            decision="not_eligible",
            reason="Outside the round's areas.",
        )
    url = f"/proposals/{proposal_id}/reason-translations"
    assert people["member"].get(url).status_code == 403  # the group does not word the screeners' reasons
    response = people["lead"].submit(url, {"language": "cy", "screening_reason": "Y tu allan i ardaloedd y rownd."})
    assert response.status_code == 302
    assert "Y tu allan i ardaloedd y rownd." in page(app, f"/proposals/{proposal_id}", "cy")
    assert events(db, ids["round"], "proposal.reason_translated")[0]["reason"] == "Y tu allan i ardaloedd y rownd."
    assert people["lead"].submit(url, {"language": "pl", "screening_reason": "Poza obszarem."}).status_code == 400

    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session,
            session.get(Proposal, proposal_id),
            actor=user(session, LEAD),
            decision="not_eligible",
            reason="Costs more than the round allows.",
        )
    assert stored(db) == []
    welsh = page(app, f"/proposals/{proposal_id}", "cy")
    assert '<span lang="en-GB" dir="ltr">Costs more than the round allows.</span>' in welsh


def test_right_to_left_text_keeps_its_direction_on_a_left_to_right_page_and_back(app, db, people, ids):
    """A round written in Arabic, offering English: English readers see its Arabic text
    marked lang="ar" dir="rtl" where nothing is given in English. (English text on an
    Arabic page is marked dir="ltr": see the test of a group's translation above.)"""
    assert choose_languages(people["lead"], ids["round"], source="ar", others=["en_GB"]).status_code == 302
    with db() as session:
        round_ = session.get(Round, ids["round"])
        round_.title = "أحياء أكثر خضرة"
    english = page(app, f"/rounds/{ids['round']}", "en_GB")
    assert '<h1><span lang="ar" dir="rtl">أحياء أكثر خضرة</span></h1>' in english
    assert f"Not available in {language_name('en_GB')}; shown in {language_name('ar')}." in english
    arabic = page(app, f"/rounds/{ids['round']}", "ar")
    assert "<h1>أحياء أكثر خضرة</h1>" in arabic
    assert "translation-note" not in arabic


def test_a_drafts_translation_is_not_published_in_the_audit_log(app, db, people, ids):
    """A draft is the group's alone (its page is 404 to the public), and the audit chain is
    public for good: its log names the fields translated, never what they say."""
    from tests.factories import organisation

    choose_languages(people["lead"], ids["round"], others=["cy"])
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        contest_id = ids["contests"]["North"]
        content = proposals.ProposalContent(
            contest_id=contest_id,
            title="Secret plan",
            summary="Not yet",
            description="",
            beneficiaries="",
            category_id=None,
            postcode=None,
            cost_lines=[("Everything", 500_00)],
            objective_ids=[],
        )
        draft = proposals.create_proposal(
            session,
            round_,
            actor=user(session, MEMBER),
            organisation=organisation(session, "Friends of the Park"),
            content=content,
        ).id
    secret = "CYNLLUN PREIFAT: dim ond i'r grŵp"
    assert translate(people["member"], draft, description=secret).status_code == 302
    visitor = FormClient(app)
    assert visitor.get(f"/proposals/{draft}").status_code == 404
    for url in (
        f"/rounds/{ids['round']}/audit",
        f"/rounds/{ids['round']}/audit.csv",
        f"/rounds/{ids['round']}/audit.jsonl",
    ):
        assert secret not in visitor.get(url).get_data(as_text=True), url
    [event] = events(db, ids["round"], "proposal.translated")
    assert event["translated"] == ["description"]
    assert event["locale"] == "cy"


def test_a_screener_from_the_proposals_own_group_cannot_word_its_reason(app, db, people, ids):
    """Screeners may not screen their own group's proposals; nor may they word the reason
    given for one, in any language."""
    from pb.accounts.models import Membership, Organisation

    choose_languages(people["lead"], ids["round"])
    proposal_id = ids["proposals"][0]
    with app.test_request_context(), db() as session:
        proposals.screen_proposal(
            session,
            session.get(Proposal, proposal_id),
            actor=user(session, LEAD),
            decision="not_eligible",
            reason="Outside the round's areas.",
        )
        park = session.exec(select(Organisation).where(Organisation.name == "Friends of the Park")).one()
        session.add(Membership(user_id=user(session, LEAD).id, organisation_id=park.id))
    response = people["lead"].submit(
        f"/proposals/{proposal_id}/reason-translations",
        {"language": "cy", "screening_reason": "Wedi'i ysgrifennu gan aelod."},
    )
    assert response.status_code == 400
    assert "a group you belong to" in response.get_data(as_text=True)
    assert stored(db) == []
