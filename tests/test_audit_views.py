"""A round's audit log in public: the page, its filters, the CSV file, and who may see it."""

import csv
import io
import itertools
import json
import re
from datetime import datetime

import pytest
from sqlmodel import select

from pb.audit.chain import canonical_json, record_event
from pb.audit.models import AuditEvent, chain_key
from pb.verify.chain import verify_chain
from tests.conftest import FormClient
from tests.factories import eligible_proposals, make_round, organisation, user
from tests.tampering import tamper

PASSWORD = "correct horse battery"
CONVENER = "lead@council.example"
MEMBER = "chair@park.example"


@pytest.fixture
def round_ids(app, db, make_user):
    """A round taking proposals, with a group's proposals screened by the convening lead."""
    make_user(CONVENER, name="Lee Lead", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Pat Parker", organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=CONVENER, anchor="Eastshire Council")
    eligible_proposals(
        app, db, ids["round"], screener=CONVENER, member=MEMBER, group="Friends of the Park", per_contest=1
    )
    return ids


def page(client, round_id, query=""):
    response = client.get(f"/rounds/{round_id}/audit{query}")
    return response, response.get_data(as_text=True)


def shown_seqs(html):
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)"', html)]


def round_events(db, round_id):
    with db() as session:
        return session.exec(
            select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
        ).all()


def test_the_page_lists_the_rounds_events_newest_first_with_the_head_hash(client, db, round_ids):
    events = round_events(db, round_ids["round"])
    with db() as session:
        head = verify_chain(session, chain_key(round_ids["round"]))
    response, html = page(client, round_ids["round"])
    assert response.status_code == 200
    assert "intact" in html
    assert head.ok
    assert head.head_hash in html
    assert f"The chain of {len(events)} events is intact." in html
    assert shown_seqs(html) == [e.seq for e in reversed(events)]
    # Actions in plain words, and the code beside them.
    assert "Phase changed" in html
    assert "round.phase_changed" in html
    assert "Money pledged" in html
    assert "£50,000.00" in html
    assert "Proposal screened" in html
    # The anchor lead is named; the group member is not, only their group.
    assert "Lee Lead" in html
    assert "Eastshire Council" in html
    assert "Friends of the Park" in html
    assert "Pat Parker" not in html
    assert f"pb audit verify {round_ids['round']}" in html


def test_each_event_shows_its_data_as_a_list(client, db, round_ids):
    _response, html = page(client, round_ids["round"], "?action=round.phase_changed")
    assert re.search(r"<dt>From</dt><dd>Draft</dd>", html)
    assert re.search(r"<dt>To</dt><dd>Proposals open</dd>", html)
    assert re.search(r"<dt>How</dt><dd>by hand</dd>", html)


def test_an_unknown_action_is_shown_by_its_code(app, client, db, round_ids):
    with app.test_request_context(), db() as session:
        record_event(session, "something.new", round_id=round_ids["round"], data={"detail": "x", "list": [1, 2]})
    _response, html = page(client, round_ids["round"])
    assert "something.new" in html
    assert "The platform, automatically" in html
    assert "<dt>list</dt><dd>1, 2</dd>" in html


@pytest.mark.parametrize(
    "new_data",
    ['{"name":"North","postcodes":["LS1"]}', "not json at all"],
    ids=["edited", "unparseable"],
)
def test_a_tampered_event_breaks_the_chain_and_is_named(client, db, round_ids, new_data):
    round_id = round_ids["round"]
    tamper(
        db,
        "UPDATE audit_event SET data = :data WHERE chain = :chain AND seq = 3",
        data=new_data,
        chain=chain_key(round_id),
    )
    response, html = page(client, round_id)
    assert response.status_code == 200
    assert "The chain is broken." in html
    assert "Event 3 was changed after it was recorded." in html
    assert 'href="#event-3"' in html
    assert '<tr id="event-3" role="row" class="broken">' in html
    assert "intact" not in html
    assert client.get(f"/rounds/{round_id}/audit.csv").status_code == 200


def test_a_deleted_event_is_named(client, db, round_ids):
    round_id = round_ids["round"]
    tamper(db, "DELETE FROM audit_event WHERE chain = :chain AND seq = 2", chain=chain_key(round_id))
    _response, html = page(client, round_id)
    assert "The chain is broken." in html
    assert "Event 2 has been deleted." in html


def test_filtering_by_action(client, db, round_ids):
    events = round_events(db, round_ids["round"])
    pledges = [e.seq for e in reversed(events) if e.action == "pot.pledged"]
    assert len(pledges) == 2
    _response, html = page(client, round_ids["round"], "?action=pot.pledged")
    assert shown_seqs(html) == pledges
    assert "2 events match." in html
    # The select offers the actions present, with the chosen one selected.
    assert '<option value="pot.pledged" selected>Money pledged</option>' in html
    assert '<option value="round.created" >Round created</option>' in html
    assert "Show all events" in html


def test_filtering_by_organisation(client, db, round_ids):
    events = round_events(db, round_ids["round"])
    with db() as session:
        group = organisation(session, "Friends of the Park").id
    expected = [e.seq for e in reversed(events) if e.organisation_id == group]
    assert expected
    _response, html = page(client, round_ids["round"], f"?organisation={group}")
    assert shown_seqs(html) == expected


def test_screening_names_the_screener_and_the_group_concerned(client, round_ids):
    _response, html = page(client, round_ids["round"], "?action=proposal.screened")
    assert 'Lee Lead <span class="muted">(screener)</span>' in html
    assert "Concerning Friends of the Park" in html


def test_the_log_is_paginated(app, client, db, round_ids):
    round_id = round_ids["round"]
    with app.test_request_context(), db() as session:
        for n in range(120):
            record_event(session, "test.filler", round_id=round_id, data={"n": n})
    events = round_events(db, round_id)
    newest_first = [e.seq for e in reversed(events)]
    _response, first = page(client, round_id)
    assert shown_seqs(first) == newest_first[:100]
    assert "Older events" in first
    assert "Page 1 of 2" in first
    _response, second = page(client, round_id, "?page=2")
    assert shown_seqs(second) == newest_first[100:]
    assert "Newer events" in second
    response, third = page(client, round_id, "?page=3")
    assert response.status_code == 200
    assert shown_seqs(third) == []
    assert "There is no page 3" in third
    # Pages keep the filter.
    _response, filtered = page(client, round_id, "?action=test.filler&page=2")
    assert len(shown_seqs(filtered)) == 20
    assert "action=test.filler" in filtered


def parse_csv(response):
    assert response.get_data(as_text=True).startswith("\ufeff")  # so spreadsheets read any script
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_csv_export(client, db, round_ids):
    round_id = round_ids["round"]
    response = client.get(f"/rounds/{round_id}/audit.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".csv" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.splitlines()[0] == '\ufeff"seq","at","action","organisation","actor","data","prev_hash","entry_hash"'
    rows = parse_csv(response)
    events = round_events(db, round_id)
    assert [int(r["seq"]) for r in rows] == [e.seq for e in events]  # oldest first, as the chain runs
    for row, event in zip(rows, events, strict=True):
        assert row["action"] == event.action
        assert row["data"] == event.data
        assert isinstance(json.loads(row["data"]), dict)  # each event's details, as a JSON object
        assert canonical_json(json.loads(row["data"])) == row["data"]
        assert row["prev_hash"] == event.prev_hash
        assert row["entry_hash"] == event.entry_hash
        at = datetime.fromisoformat(row["at"])
        assert at.utcoffset().total_seconds() == 0
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["entry_hash"] for a, b in itertools.pairwise(rows))
    created = rows[0]
    assert created["action"] == "round.created"
    assert created["organisation"] == "Eastshire Council"
    assert created["actor"] == "Lee Lead"
    submitted = next(r for r in rows if r["action"] == "proposal.submitted")
    assert submitted["organisation"] == "Friends of the Park"
    assert submitted["actor"] == ""
    assert "Pat Parker" not in response.get_data(as_text=True)


def test_csv_export_is_filtered_like_the_page(client, db, round_ids):
    round_id = round_ids["round"]
    rows = parse_csv(client.get(f"/rounds/{round_id}/audit.csv?action=pot.pledged"))
    assert [r["action"] for r in rows] == ["pot.pledged", "pot.pledged"]
    _response, html = page(client, round_id, "?action=pot.pledged")
    assert f'href="/rounds/{round_id}/audit.csv?action=pot.pledged"' in html
    empty = client.get(f"/rounds/{round_id}/audit.csv?action=no.such")
    assert empty.status_code == 200
    assert parse_csv(empty) == []


@pytest.fixture
def draft_round(app, db, make_user):
    make_user(CONVENER, name="Lee Lead", organisation="Eastshire Council", kind="anchor")
    make_user("lead@elsewhere.example", organisation="Westshire Council", kind="anchor")
    from pb.rounds import services as rounds

    with app.test_request_context(), db() as session:
        round_ = rounds.create_round(
            session,
            actor=user(session, CONVENER),
            organisation=organisation(session, "Eastshire Council"),
            title="Draft round",
            categories=[],
            objectives=[],
            methods=("codes",),
        )
        assert round_.phase == "draft"
        return round_.id


@pytest.mark.parametrize("suffix", ["", ".csv"])
def test_a_draft_rounds_log_is_only_for_its_anchors(app, client, draft_round, suffix):
    url = f"/rounds/{draft_round}/audit{suffix}"
    assert client.get(url).status_code == 404
    stranger = FormClient(app)
    stranger.sign_in("lead@elsewhere.example", PASSWORD)
    assert stranger.get(url).status_code == 403
    convener = FormClient(app)
    convener.sign_in(CONVENER, PASSWORD)
    assert convener.get(url).status_code == 200


def test_an_unknown_round_is_404(client):
    assert client.get("/rounds/999999/audit").status_code == 404
    assert client.get("/rounds/999999/audit.csv").status_code == 404


BAD_QUERIES = [
    "?page=abc",
    "?page=-4",
    "?page=0",
    "?page=1.5",
    "?page=" + "9" * 40,
    "?page=%00",
    "?organisation=abc",
    "?organisation=-1",
    "?organisation=" + "9" * 40,
    "?organisation=",
    "?action=no.such",
    "?action=" + "x" * 2000,
    "?action=%27%3B--",
    "?action=%00",
    "?action=round.created&action=x",
    "?page=2&action=no.such&organisation=abc",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_query_parameters_never_fail(client, round_ids, query):
    response, _html = page(client, round_ids["round"], query)
    assert response.status_code == 200
    assert client.get(f"/rounds/{round_ids['round']}/audit.csv{query}").status_code == 200


def test_bad_filters_say_why_the_list_is_empty(client, round_ids):
    _response, html = page(client, round_ids["round"], "?action=no.such")
    assert shown_seqs(html) == []
    assert "No events match these filters." in html
    _response, html = page(client, round_ids["round"], "?organisation=" + "9" * 40)
    assert shown_seqs(html) == []
    assert "No events match these filters." in html
    _response, html = page(client, round_ids["round"], "?page=abc&organisation=abc")
    assert shown_seqs(html)  # not numbers: ignored


def test_round_pages_link_to_the_log(app, client, round_ids):
    round_id = round_ids["round"]
    link = f'href="/rounds/{round_id}/audit"'
    assert link in client.get(f"/rounds/{round_id}").get_data(as_text=True)
    lead = FormClient(app)
    lead.sign_in(CONVENER, PASSWORD)
    assert link in lead.get(f"/rounds/{round_id}/manage").get_data(as_text=True)


def test_the_platform_log_still_works(app, db, make_user):
    make_user("admin@pb.example", admin=True)
    admin = FormClient(app)
    admin.sign_in("admin@pb.example", PASSWORD)
    response = admin.get("/audit/platform")
    assert response.status_code == 200
    assert "intact" in response.get_data(as_text=True)


def test_a_refused_change_names_an_anchor_lead_but_never_a_group_member(app, client, db, round_ids):
    round_id = round_ids["round"]
    with app.test_request_context(), db() as session:
        for email in (CONVENER, MEMBER):
            record_event(
                session,
                "round.change_refused",
                actor=user(session, email),
                round_id=round_id,
                data={"attempted": "proposal.updated", "phase": "voting"},
            )
    _response, html = page(client, round_id, "?action=round.change_refused")
    assert len(shown_seqs(html)) == 2
    assert "Change refused" in html
    assert "<dt>What was tried</dt><dd>Proposal edited</dd>" in html
    assert "<dt>Phase</dt><dd>Voting</dd>" in html
    assert "Lee Lead" in html
    assert "Eastshire Council" in html
    assert "Friends of the Park" in html
    assert "Pat Parker" not in html
    rows = parse_csv(client.get(f"/rounds/{round_id}/audit.csv?action=round.change_refused"))
    assert [r["actor"] for r in rows] == ["Lee Lead", ""]


def test_events_cut_off_the_end_are_noticed(client, db, round_ids):
    round_id = round_ids["round"]
    last = round_events(db, round_id)[-1].seq
    tamper(db, "DELETE FROM audit_event WHERE chain = :chain AND seq = :seq", chain=chain_key(round_id), seq=last)
    _response, html = page(client, round_id)
    assert "The chain is broken." in html
    assert f"The log should end at event {last} but ends at event {last - 1}." in html
