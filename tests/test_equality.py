"""Equality monitoring: optional questions after a resident votes, counted apart from their
ballot, so that nothing pb keeps links an answer to a ballot or a voter; figures with small
numbers suppressed; the convening lead's switch, off by default and frozen with the round."""

import itertools
import json
import logging
import re

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from pb.audit.models import AuditEvent
from pb.equality import services
from pb.equality.disclosure import Hidden, protect
from pb.equality.models import EqualityAnswered, EqualityCount
from pb.proposals.models import Project
from pb.rounds.models import Round
from tests import factories
from tests.conftest import FormClient
from tests.factories import close_voting, make_round, open_voting, publish, user

LEAD, MEMBER = "lead@council.example", "chair@park.example"
PASSWORD = "correct horse battery"
HEADING = "Help us see who took part (optional)"


def _round(app, db, make_user, *, monitoring: bool, minimum_age: int | None = None, codes: int = 4) -> dict:
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        round_.minimum_age = minimum_age
        if monitoring:
            services.set_monitoring(session, round_, actor=user(session, LEAD), on=True)
    ids["codes"] = factories.make_codes(app, db, ids["round"], ids["areas"]["North"], count=codes)
    open_voting(app, db, ids, convener=LEAD, screener=LEAD, member=MEMBER, group="Friends of the Park")
    with db() as session:
        ids["north_projects"] = session.exec(
            select(Project.id).where(Project.contest_id == ids["contests"]["North"]).order_by(Project.id)
        ).all()
    return ids


@pytest.fixture
def asking(app, db, make_user):
    return _round(app, db, make_user, monitoring=True)


def cast(app, ids, code) -> FormClient:
    """A resident proves eligibility with a code and casts the North ballot over HTTP."""
    resident = FormClient(app)
    r = ids["round"]
    proved = resident.submit(f"/rounds/{r}/vote/code", {"code": code}, page=f"/rounds/{r}/vote")
    assert proved.status_code == 302, proved.get_data(as_text=True)
    url = f"/rounds/{r}/vote/{ids['contests']['North']}"
    data = {"project": str(ids["north_projects"][0])}
    assert resident.submit(url, data).status_code == 200
    done = resident.submit(url, {**data, "confirm": "1"})
    assert done.headers["Location"].endswith("/vote/receipt"), done.get_data(as_text=True)
    return resident


def answer(resident, ids, data):
    url = f"/rounds/{ids['round']}/vote/about-you"
    return resident.submit(url, data)


def counts(db, round_id) -> dict[tuple[str, str], int]:
    with db(write=False) as session:
        rows = session.exec(select(EqualityCount).where(EqualityCount.round_id == round_id)).all()
    return {(row.question, row.answer): row.count for row in rows if row.count}


def answered(db, round_id) -> list:
    with db(write=False) as session:
        return session.exec(select(EqualityAnswered).where(EqualityAnswered.round_id == round_id)).all()


# ---------------------------------------------------------------- asked after casting


def test_a_resident_answers_after_casting_and_is_counted_once(app, db, asking):
    resident = cast(app, asking, asking["codes"][0])
    receipt = resident.get(f"/rounds/{asking['round']}/vote/receipt").get_data(as_text=True)
    assert HEADING in receipt
    assert "keep nothing that says who gave it or how they voted" in receipt
    page = resident.get(f"/rounds/{asking['round']}/vote/about-you")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # The five ethnic groups as fieldsets with legends, inside the question's own.
    assert html.count("<fieldset") == 3 + 5
    assert "<legend>Mixed or Multiple ethnic groups</legend>" in html
    assert html.count('value="prefer_not_to_say"') == 3
    assert 'value="under_16"' in html  # the round sets no minimum age

    sent = answer(resident, asking, {"age": "25_34", "ethnic_group": "white_roma"})  # disability skipped
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith(f"/rounds/{asking['round']}/vote/receipt")
    after = resident.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Thank you. Your answers have been counted" in after
    assert HEADING not in after  # not offered again
    assert counts(db, asking["round"]) == {
        ("age", "25_34"): 1,
        ("disability", "not_answered"): 1,
        ("ethnic_group", "white_roma"): 1,
    }

    # Answering again (an old tab, a retry) changes nothing.
    again = answer(resident, asking, {"age": "75_over", "disability": "no", "ethnic_group": "other_arab"})
    assert again.status_code == 200
    assert "You have already answered these questions" in again.get_data(as_text=True)
    assert counts(db, asking["round"])[("age", "25_34")] == 1
    assert ("age", "75_over") not in counts(db, asking["round"])
    assert len(answered(db, asking["round"])) == 1


def test_the_same_voter_answering_twice_at_the_service_counts_once(app, db, asking):
    cast(app, asking, asking["codes"][0])
    with db(write=False) as session:
        voter_id = session.exec(select(EqualityAnswered.voter_id)).first()  # none yet
        assert voter_id is None
        from pb.voting.models import Voter

        voter_id = session.exec(select(Voter.id).where(Voter.round_id == asking["round"])).one()
    with app.test_request_context(), db() as session:
        services.record_answers(session, session.get(Round, asking["round"]), voter_id, {"disability": "no"})
    with app.test_request_context(), db() as session, pytest.raises(services.AlreadyAnswered):
        services.record_answers(session, session.get(Round, asking["round"]), voter_id, {"disability": "no"})
    assert counts(db, asking["round"])[("disability", "no")] == 1


def test_skipping_every_question_sends_nothing(app, db, asking):
    resident = cast(app, asking, asking["codes"][0])
    sent = answer(resident, asking, {})
    assert sent.status_code == 303
    assert counts(db, asking["round"]) == {}
    assert answered(db, asking["round"]) == []
    assert HEADING in resident.get(sent.headers["Location"]).get_data(as_text=True)  # may still answer


@pytest.mark.parametrize(
    "data",
    [
        {"ethnic_group": "martian"},
        {"age": "25_34", "disability": "sometimes"},
        {"age": "under_16"},  # not offered: this round's voters are 18 or over
        {"age": "not_answered"},  # counted for blanks, never offered
    ],
)
def test_a_tampered_answer_is_refused_and_nothing_is_stored(app, db, make_user, data):
    ids = _round(app, db, make_user, monitoring=True, minimum_age=18)
    resident = cast(app, ids, ids["codes"][0])
    assert 'value="under_16"' not in resident.get(f"/rounds/{ids['round']}/vote/about-you").get_data(as_text=True)
    refused = answer(resident, ids, data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "That answer is not one of those offered" in html
    assert 'class="error-summary"' in html
    assert counts(db, ids["round"]) == {}
    with db(write=False) as session:
        assert session.exec(select(EqualityCount)).all() == []
    assert answered(db, ids["round"]) == []


def test_only_someone_who_has_voted_here_is_asked(app, db, asking):
    stranger = FormClient(app)
    url = f"/rounds/{asking['round']}/vote/about-you"
    assert stranger.get(url).headers["Location"].endswith(f"/rounds/{asking['round']}/vote")
    # Proved eligibility but cast nothing yet: to the ballot papers first.
    r = asking["round"]
    stranger.submit(f"/rounds/{r}/vote/code", {"code": asking["codes"][1]}, page=f"/rounds/{r}/vote")
    assert stranger.get(url).headers["Location"].endswith(f"/rounds/{r}/vote/ballots")


# ---------------------------------------------------------------- the switch


def test_off_by_default_no_question_is_asked(app, db, make_user):
    ids = _round(app, db, make_user, monitoring=False)
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).equality_monitoring is False
    resident = cast(app, ids, ids["codes"][0])
    receipt = resident.get(f"/rounds/{ids['round']}/vote/receipt").get_data(as_text=True)
    assert HEADING not in receipt
    assert "about-you" not in receipt
    assert resident.get(f"/rounds/{ids['round']}/vote/about-you").status_code == 404
    assert resident.get(f"/rounds/{ids['round']}/equality").status_code == 404


def test_the_convening_lead_switches_it_on_before_voting_and_it_is_audited(app, db, make_user):
    make_user(LEAD, organisation="Eastshire Council", kind="anchor")
    ids = make_round(app, db, convener=LEAD, anchor="Eastshire Council")
    lead = FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    url = f"/rounds/{ids['round']}/equality/settings"
    assert 'name="on"' in lead.get(url).get_data(as_text=True)
    saved = lead.submit(url, {"on": "y"})
    assert saved.status_code == 303
    with db(write=False) as session:
        assert session.get(Round, ids["round"]).equality_monitoring is True
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "equality.monitoring_set", AuditEvent.round_id == ids["round"]
            )
        ).all()
    assert [json.loads(e.data)["on"] for e in events] == [True]
    assert "Residents are asked the optional questions" in lead.get(f"/rounds/{ids['round']}/manage").get_data(
        as_text=True
    )


def test_the_switch_is_frozen_once_voting_opens(app, db, asking):
    lead = FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    url = f"/rounds/{asking['round']}/equality/settings"
    refused = lead.submit(url, {})  # unticked: switch it off
    assert refused.status_code == 409
    assert "Voting has opened" in refused.get_data(as_text=True)
    with db(write=False) as session:
        assert session.get(Round, asking["round"]).equality_monitoring is True
        attempts = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "round.change_refused", AuditEvent.round_id == asking["round"]
            )
        ).all()
    assert [json.loads(a.data)["attempted"] for a in attempts] == ["equality.monitoring_set"]


# ---------------------------------------------------------------- kept apart


def test_no_equality_table_has_a_column_that_could_join_an_answer_to_anyone(app):
    inspector = inspect(app.extensions["pb_engine"])  # the real database, on each backend
    columns = {c["name"] for c in inspector.get_columns("equality_count")}
    assert columns == {"round_id", "question", "answer", "count"}
    assert inspector.get_pk_constraint("equality_count")["constrained_columns"] == ["round_id", "question", "answer"]
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("equality_count")] == ["round"]
    # Who has answered: a round and a voter, nothing of what they answered, and no time.
    assert {c["name"] for c in inspector.get_columns("equality_answered")} == {"round_id", "voter_id"}
    linkable = re.compile(r"voter|ballot|session|receipt|area|_at$|time|date|^id$|user|code|ip|client")
    for table in ("equality_count",):
        assert not [c for c in columns if linkable.search(c) and c != "round_id"], table
    equality_tables = [t for t in inspector.get_table_names() if "equality" in t]
    assert sorted(equality_tables) == ["equality_answered", "equality_count"]


def _dump(engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {
            table: [" ".join(str(v) for v in row) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
            for table in inspect(engine).get_table_names()
        }


def test_after_several_voters_answer_nothing_in_any_table_links_an_answer_to_a_ballot(app, db, asking, caplog):
    choices = [
        {"age": "16_24", "disability": "limited_a_lot", "ethnic_group": "asian_bangladeshi"},
        {"age": "45_54", "ethnic_group": "black_caribbean"},
        {"age": "75_over", "disability": "limited_a_little", "ethnic_group": "white_gypsy_traveller"},
        {"disability": "prefer_not_to_say", "ethnic_group": "mixed_white_asian"},
    ]
    caplog.set_level(logging.DEBUG)
    for code, chosen in zip(asking["codes"], choices, strict=True):
        resident = cast(app, asking, code)
        assert answer(resident, asking, chosen).status_code == 303
    engine = app.extensions["pb_engine"]
    needles = {value for chosen in choices for value in chosen.values()}

    def only_counters_hold_answers():
        for table, rows in _dump(engine).items():
            if table == "equality_count":
                continue
            for row in rows:
                assert not [n for n in needles if n in row], (table, row)

    only_counters_hold_answers()
    # Nor the log (each request is logged by its route alone), nor the outbox (checked above).
    assert not [n for n in needles if n in caplog.text]
    # The counters: a round, a question, an answer and a count, each answer counted once.
    expected: dict[tuple[str, str], int] = {}
    for chosen in choices:
        for question in ("age", "disability", "ethnic_group"):
            key = (question, chosen.get(question, "not_answered"))
            expected[key] = expected.get(key, 0) + 1
    assert counts(db, asking["round"]) == expected
    with db(write=False) as session:
        rows = session.exec(select(EqualityCount).where(EqualityCount.round_id == asking["round"])).all()
    assert all(row.count == 0 for row in rows if (row.question, row.answer) not in expected)
    # Which voters answered is kept only while voting is open, and says nothing of what.
    assert len(answered(db, asking["round"])) == len(choices)
    close_voting(app, db, asking["round"])
    assert answered(db, asking["round"]) == []
    only_counters_hold_answers()


def test_the_counters_rows_do_not_show_which_an_answer_added_to(app, db, make_user):
    """SQLite: the rows' order (rowid) is the questions' own, whatever was answered first,
    and updates are made in place. PostgreSQL: every counter of the round was last written
    by the same transaction (each answer rewrites them all, in the order of the table, so
    their physical order owes nothing to what was answered either)."""
    ids = _round(app, db, make_user, monitoring=True, codes=3)
    firsts = [{"ethnic_group": "other_arab"}, {"age": "35_44"}, {"disability": "no", "age": "16_24"}]
    for code, chosen in zip(ids["codes"], firsts, strict=True):
        assert answer(cast(app, ids, code), ids, chosen).status_code == 303
    engine = app.extensions["pb_engine"]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            writers = conn.execute(
                text("SELECT COUNT(DISTINCT xmin::text) FROM equality_count WHERE round_id = :r"), {"r": ids["round"]}
            ).scalar_one()
            assert writers == 1
            return
        physical = [
            tuple(row)
            for row in conn.execute(
                text("SELECT question, answer FROM equality_count WHERE round_id = :r ORDER BY rowid"),
                {"r": ids["round"]},
            )
        ]
    # The first answer was about ethnic group, yet its rows do not come first: the order is
    # the questions' own (age, disability, ethnic group), and within each the answers' own.
    questions = [q for q, _a in physical]
    assert questions == sorted(questions, key=["age", "disability", "ethnic_group"].index)
    ages = [a for q, a in physical if q == "age"]
    assert ages[:3] == ["under_16", "16_24", "25_34"]  # 35_44 was answered before 16_24, yet comes after it


def test_concurrent_answers_are_all_counted_and_a_voter_racing_themself_counts_once(app, db, asking):
    """Twenty voters answer at the same moment, the first (first to answer in the round:
    the counters are made then) and one voter five times over: every answer counts, once."""
    import threading

    from pb.voting.models import Voter

    with db() as session:
        voters = [Voter(round_id=asking["round"], method="codes", identity=f"race-{n}") for n in range(20)]
        session.add_all(voters)
        session.flush()
        ids = [v.id for v in voters]
    attempts = ids + [ids[0]] * 4  # the first voter answers five times at once
    barrier, errors, refused = threading.Barrier(len(attempts)), [], []
    ages = ["16_24", "25_34", "35_44"]

    def answer_at_once(n, voter_id):
        try:
            barrier.wait()
            with app.test_request_context(), db() as session:
                services.record_answers(
                    session, session.get(Round, asking["round"]), voter_id, {"age": ages[voter_id % 3]}
                )
        except services.AlreadyAnswered:
            refused.append(voter_id)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=answer_at_once, args=(n, v)) for n, v in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert refused == [ids[0]] * 4
    expected: dict[tuple[str, str], int] = {("disability", "not_answered"): 20, ("ethnic_group", "not_answered"): 20}
    for voter_id in ids:
        expected[("age", ages[voter_id % 3])] = expected.get(("age", ages[voter_id % 3]), 0) + 1
    assert counts(db, asking["round"]) == expected


# ---------------------------------------------------------------- figures


def test_small_numbers_are_suppressed():
    # 9 is shown as "fewer than 10"; the single hidden count would be known by
    # subtraction, so the next smallest is hidden too.
    assert protect({"a": 9, "b": 12, "c": 30, "d": 0}) == {
        "a": Hidden.FEWER_THAN_TEN,
        "b": Hidden.PROTECTED,
        "c": 30,
        "d": 0,
    }
    # Two hidden counts adding up to 10 or more: nothing more to hide.
    assert protect({"a": 4, "b": 7, "c": 50}) == {"a": Hidden.FEWER_THAN_TEN, "b": Hidden.FEWER_THAN_TEN, "c": 50}
    # Two hidden counts adding up to 2 would each be 1: a third is hidden.
    assert protect({"a": 1, "b": 1, "c": 11, "d": 40}) == {
        "a": Hidden.FEWER_THAN_TEN,
        "b": Hidden.FEWER_THAN_TEN,
        "c": Hidden.PROTECTED,
        "d": 40,
    }
    assert protect({"a": 10, "b": 25, "c": 0}) == {"a": 10, "b": 25, "c": 0}


def _possible_values(counts: dict[str, int]) -> dict[str, set[int]]:
    """What a reader of the figures could think each hidden count is: every set of counts
    with the same total (shown) that the figures would show just the same, tried one by one."""
    keys, total, shown = list(counts), sum(counts.values()), protect(counts)
    possible: dict[str, set[int]] = {key: set() for key, value in shown.items() if isinstance(value, Hidden)}
    for values in itertools.product(range(total + 1), repeat=len(keys) - 1):
        if sum(values) <= total:
            other = dict(zip(keys, (*values, total - sum(values)), strict=True))
            if protect(other) == shown:
                for key in possible:
                    possible[key].add(other[key])
    return possible


@pytest.mark.parametrize(
    "counts",
    [
        {"a": 1, "b": 10, "c": 50},  # 1 + 10 hidden add up to 11; "not shown" is 10 or more, so 1 and 10
        {"a": 2, "b": 10, "c": 10, "d": 30},
        {"a": 9, "b": 9, "c": 40},  # two "fewer than 10" adding up to 18 are 9 each
        {"a": 1, "b": 1, "c": 10, "d": 0},  # all hidden, and still 1, 1 and 10: none is shown
    ],
)
def test_no_hidden_count_can_be_worked_out(counts):
    possible = _possible_values(counts)
    assert possible
    assert all(len(values) > 1 for values in possible.values()), possible


def _answers_directly(app, db, round_id, chosen: list[dict]) -> None:
    """Voters made and answered through the services (the HTTP path is tested above)."""
    from pb.voting.models import Voter

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, round_id)
        for n, answers in enumerate(chosen):
            voter = Voter(round_id=round_id, method="codes", identity=f"figures-{n}")
            session.add(voter)
            session.flush()
            services.record_answers(session, round_, voter.id, answers)


def test_figures_are_shown_to_leads_after_close_and_to_everyone_with_the_results(app, db, asking):
    r = asking["round"]
    # 23 people: age 25-34 x 14, 45-54 x 9 (hidden), so 25-34 is hidden too; disability "no" x 23.
    _answers_directly(
        app, db, r, [{"age": "25_34", "disability": "no"}] * 14 + [{"age": "45_54", "disability": "no"}] * 9
    )
    lead, anyone = FormClient(app), FormClient(app)
    lead.sign_in(LEAD, PASSWORD)
    url = f"/rounds/{r}/equality"
    # While voting is open nobody sees them, the lead included.
    assert lead.get(url).status_code == 404
    assert anyone.get(url).status_code == 404
    close_voting(app, db, r)
    assert anyone.get(url).status_code == 404
    page = lead.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "23 people answered." in html
    age = html[html.index("What is your age?") : html.index("Are your day-to-day")]
    assert re.search(r"45 to 54</td><td class=\"num\">fewer than 10<", age)
    assert re.search(r"25 to 34</td><td class=\"num\">not shown", age)
    assert 'id="not-shown"' in html  # and the page says why
    assert "14" not in age
    assert ">9<" not in age
    disability = html[html.index("Are your day-to-day") : html.index("What is your ethnic group?")]
    assert re.search(r"No</td><td class=\"num\">23<", disability)
    publish(app, db, r, LEAD)
    public = anyone.get(url)
    assert public.status_code == 200
    assert "23 people answered." in public.get_data(as_text=True)
    assert f'href="/rounds/{r}/equality"' in anyone.get(f"/rounds/{r}/results").get_data(as_text=True)


def test_a_question_whose_hidden_counts_would_all_be_known_shows_none(app, db, asking):
    """12 answers of age: 10 people 25 to 34, 1 person 45 to 54, 1 who did not say. Hiding
    the 1s and the 10 is not enough: a reader knows two 'fewer than 10' and a 'not shown'
    (10 or more) adding up to 12 are 1, 1 and 10."""
    r = asking["round"]
    _answers_directly(
        app,
        db,
        r,
        [{"age": "25_34"}] * 10 + [{"age": "45_54"}] + [{"disability": "no", "ethnic_group": "white_british"}],
    )
    publish(app, db, r, LEAD)
    html = FormClient(app).get(f"/rounds/{r}/equality").get_data(as_text=True)
    assert "12 people answered." in html
    age = html[html.index("What is your age?") : html.index("Are your day-to-day")]
    assert "fewer than 10" not in age
    assert "none of the numbers can be shown without telling how someone answered" in age
    assert re.search(r"25 to 34</td><td class=\"num\">not shown<", age)
    assert re.search(r"75 and over</td><td class=\"num\">not shown<", age)  # its zero too


def test_no_figures_when_fewer_than_ten_answered(app, db, asking):
    r = asking["round"]
    _answers_directly(app, db, r, [{"age": "25_34"}] * 9)
    publish(app, db, r, LEAD)
    html = FormClient(app).get(f"/rounds/{r}/equality").get_data(as_text=True)
    assert "Fewer than 10 people answered, so no figures are shown." in html
    assert "25 to 34" not in html
