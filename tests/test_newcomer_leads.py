"""A newcomer's bugs on the anchor lead's side: each test failed before its fix."""

import json
import re
from html import escape as html_escape
from html import unescape as html_unescape

import pytest
from sqlmodel import select

from pb import lifecycle
from pb.rounds.models import Round
from tests.conftest import FormClient
from tests.factories import make_round, open_voting, organisation, publish, user

PASSWORD = "correct horse battery"
COUNCIL, MEMBER = "lead@council.example", "chair@park.example"


@pytest.fixture
def people(make_user):
    make_user(COUNCIL, name="Cllr Ada", organisation="Eastshire Council", kind="anchor")
    make_user(MEMBER, name="Dee", organisation="Friends of the Park", kind="group")


@pytest.fixture
def council(app, people):
    client = FormClient(app)
    client.sign_in(COUNCIL, PASSWORD)
    return client


@pytest.fixture
def published(app, db, people):
    """A round whose results are published: in each area a few residents voted for the
    first project on its ballot paper, which is funded."""
    from pb.proposals.models import Project
    from pb.rounds.models import Contest
    from pb.voting import services as voting
    from pb.voting.models import Voter

    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    open_voting(app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park")
    with app.test_request_context(), db() as session:
        for area, contest_id in ids["contests"].items():
            contest = session.get(Contest, contest_id)
            first = session.exec(select(Project).where(Project.contest_id == contest_id).order_by(Project.id)).first()
            for n in range(3):
                voter = Voter(
                    round_id=ids["round"], area_id=ids["areas"][area], method="declared", identity=f"{area}{n}"
                )
                session.add(voter)
                session.flush()
                voting.cast_ballot(session, voter, contest, {first.id: None})
    publish(app, db, ids["round"], COUNCIL)
    return ids


def move_on(app, db, round_id, times=1):
    with app.test_request_context(), db() as session:
        for _ in range(times):
            lifecycle.move_to_next_phase(session, session.get(Round, round_id), actor=user(session, COUNCIL))


def links(html: str) -> list[str]:
    return [href for href in re.findall(r'href="(/[^"]*)"', html) if not href.startswith(("/static/", "/favicon"))]


# ---------------------------------------------------------------- 2. the money page's verdict link


@pytest.mark.parametrize("moves", [0, 1, 2])  # results published, delivery, archived
def test_every_link_on_the_money_page_leads_somewhere(app, db, published, client, moves):
    move_on(app, db, published["round"], moves)
    page = client.get(f"/rounds/{published['round']}/money")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for href in links(html.replace("&amp;", "&")):
        response = client.get(href)
        response.close()
        assert response.status_code == 200, href
    verdict_link = f"/rounds/{published['round']}/residents"
    assert (verdict_link in links(html)) == (moves < 2)


# ---------------------------------------------------------------- 10. rules by name, not by Pabulib id


def visible_text(html: str) -> str:
    """What a reader sees: the page without its tags (attributes such as option values hidden)."""
    return re.sub(r"<[^>]+>", " ", html)


def test_leads_and_residents_read_each_rule_by_its_name_never_its_id(app, db, people, council, client):
    from pb.rounds.models import RULES

    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council", north_rule="equalshares/add1-comparison")
    round_id = ids["round"]
    form = council.get(f"/rounds/{round_id}/contests/new").get_data(as_text=True)
    for rule in RULES:
        assert f'value="{rule}"' in form  # the form still sends the id
    pages = {
        "form": form,
        "manage": council.get(f"/rounds/{round_id}/manage").get_data(as_text=True),
        "public": client.get(f"/rounds/{round_id}").get_data(as_text=True),
    }
    for where, html in pages.items():
        text = visible_text(html)
        for rule in RULES:
            assert not re.search(rf"(?<![\w-]){re.escape(rule)}(?![\w/-])", text), (where, rule)
    from pb.rounds.models import RULE_NAMES

    with app.test_request_context():
        names = {rule: str(name) for rule, name in RULE_NAMES.items()}
    assert set(names) == set(RULES)
    for rule in RULES:
        assert html_escape(names[rule]) in pages["form"]
    for where in ("manage", "public"):
        assert html_escape(names["equalshares/add1-comparison"]) in pages[where]
        assert html_escape(names["greedy"]) in pages[where]


# ---------------------------------------------------------------- 7. organisation types by kind


def options(html: str, name: str) -> set[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return set(re.findall(r'<option[^>]*value="([^"]*)"', select))


def test_anchors_are_offered_anchor_types_and_groups_group_types(app, db, make_user):
    from pb.accounts.models import ANCHOR_TYPES, GROUP_TYPES, Organisation

    make_user("admin@pb.example", admin=True)
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    admin, member = FormClient(app), FormClient(app)
    admin.sign_in("admin@pb.example", PASSWORD)
    member.sign_in(MEMBER, PASSWORD)
    anchor_page = admin.get("/admin/organisations").get_data(as_text=True)
    assert options(anchor_page, "subtype") == set(ANCHOR_TYPES)
    group_link = re.search(r'href="(/admin/organisations\?kind=group)"', anchor_page).group(1)
    assert options(admin.get(group_link).get_data(as_text=True), "subtype") == set(GROUP_TYPES)
    assert options(member.get("/groups/new").get_data(as_text=True), "subtype") == set(GROUP_TYPES)

    made = admin.submit(
        "/admin/organisations", {"name": "Allotment Society", "kind": "group", "subtype": "charity"}, page=group_link
    )
    assert made.status_code == 302
    for kind, subtype in (("anchor", "charity"), ("group", "nhs"), ("bogus", "nhs")):
        refused = admin.submit("/admin/organisations", {"name": f"Odd {kind}", "kind": kind, "subtype": subtype})
        assert refused.status_code == 400
    with db() as session:
        assert {o.name: (o.kind, o.subtype) for o in session.exec(select(Organisation))}.get("Allotment Society") == (
            "group",
            "charity",
        )
        assert not [o for o in session.exec(select(Organisation)) if o.name.startswith("Odd")]


# ---------------------------------------------------------------- 6. one area per postcode


def new_round(council, db, **extra) -> int:
    from pb.accounts.models import Organisation

    with db() as session:
        org = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one().id
    response = council.submit(
        "/rounds/new", {"organisation": org, "title": "Eastshire Together", "methods": ["codes"], **extra}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[2])


def areas_of(db, round_id) -> dict[str, list[str]]:
    from pb.rounds.models import Area

    with db() as session:
        return {a.name: a.postcode_list for a in session.exec(select(Area).where(Area.round_id == round_id))}


@pytest.mark.parametrize(
    "postcodes, area",
    [("LS6", "North"), ("ls6 1aa", "North"), ("LS6 1", "North"), ("LS7, LS6 1AA", "North"), ("LS1, LS11", "Centre")],
)
def test_a_postcode_another_area_takes_in_is_refused_naming_that_area(app, db, council, postcodes, area):
    round_id = new_round(council, db)
    base = f"/rounds/{round_id}/areas"
    assert council.submit(f"{base}/new", {"name": "North", "postcodes": "LS6"}).status_code == 302
    assert council.submit(f"{base}/new", {"name": "Centre", "postcodes": "LS1 1"}).status_code == 302
    before = areas_of(db, round_id)
    refused = council.submit(f"{base}/new", {"name": "South", "postcodes": postcodes})
    assert refused.status_code == 400
    assert f"overlap the postcodes of the area “{area}”" in refused.get_data(as_text=True)
    assert areas_of(db, round_id) == before


def test_an_area_cannot_grow_into_another_but_neighbouring_districts_are_fine(app, db, council):
    from pb.rounds.models import Area

    round_id = new_round(council, db)
    base = f"/rounds/{round_id}/areas"
    assert council.submit(f"{base}/new", {"name": "North", "postcodes": "LS6 1"}).status_code == 302
    # LS1 is not LS12 or LS16, and LS6 2 is not LS6 1.
    assert council.submit(f"{base}/new", {"name": "South", "postcodes": "LS1, LS12, LS6 2"}).status_code == 302
    with db() as session:
        south = session.exec(select(Area).where(Area.round_id == round_id, Area.name == "South")).one().id
    refused = council.submit(f"{base}/{south}", {"name": "South", "postcodes": "LS1, LS12, LS6"})
    assert refused.status_code == 400
    assert "“North”" in html_unescape(refused.get_data(as_text=True))
    assert areas_of(db, round_id)["South"] == ["LS1", "LS12", "LS6 2"]
    # An area may be saved again with its own postcodes.
    assert (
        council.submit(f"{base}/{south}", {"name": "South", "postcodes": "LS1, LS12, LS6 2, LS6 3"}).status_code == 302
    )


# ---------------------------------------------------------------- 5. the audit log in words


def audited() -> dict[str, set[str]]:
    """Every audit action the code writes, with the keys of its data, read from the source
    (calls of record_event, audit_round, the proposals' _audit and guard_unfrozen)."""
    import ast
    from pathlib import Path

    import pb

    def literal(node):
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    def dict_keys(node):
        return {literal(k) for k in node.keys if literal(k)} if isinstance(node, ast.Dict) else set()

    found: dict[str, set[str]] = {}
    for path in Path(pb.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            keywords = {kw.arg: kw.value for kw in node.keywords}
            if name == "record_event":
                # A literal, or literals chosen between ("codes.replaced" if ... else "codes.generated").
                # A variable (a wrapper's action) files its keys under "*".
                actions = [literal(c) for c in ast.walk(node.args[1]) if literal(c)] or ["*"]
                keys = set().union(*(dict_keys(keywords.get(k)) for k in ("data", "private", "until_results")))
            elif name in ("audit_round", "_audit"):
                actions = [literal(node.args[2])] if len(node.args) > 2 else []
                keys = {kw.arg for kw in node.keywords if kw.arg not in (None, "organisation_id", "private")}
                keys |= dict_keys(keywords.get("private")) | set().union(
                    *(dict_keys(kw.value) for kw in node.keywords if kw.arg is None)
                )
            elif name == "guard_unfrozen":
                actions = ["round.change_refused"]
                keys = {"attempted", "phase"} | dict_keys(keywords.get("detail"))
                if literal(keywords.get("attempted")):
                    found.setdefault(literal(keywords["attempted"]), set())  # shown as "what was tried"
            else:
                continue
            for action in actions:
                if action:
                    found.setdefault(action, set()).update(keys)
    return found


def test_the_source_scan_finds_what_the_code_records():
    found = audited()
    # A sample of what a reader knows is recorded: if the scan misses these, it misses others.
    assert {"amount", "currency", "pot"} <= found["pot.pledged"]
    assert {"over_allocation", "spent_locally", "status"} <= found["delivery.updated"]
    assert {"decision", "reason"} <= found["proposal.screened"]
    assert {"proposal", "status", "title"} <= found["*"]  # every proposal event, from its wrapper
    assert {"attempted", "phase", "fields", "rule"} <= found["round.change_refused"]
    assert {"codes.replaced", "codes.generated", "voting.suspended", "round.timeline_set"} <= set(found)


def test_every_action_and_data_key_the_code_records_has_a_label(app):
    from pb.audit.routes import ACTION_LABELS, DATA_LABELS
    from pb.proposals.ballot_order import DRAWN
    from pb.rounds.routes import TIMELINE
    from pb.rounds.services import CONTEST_FIELDS

    found = audited()
    keys = {key for keys in found.values() for key in keys}
    del found["*"]
    found.setdefault(DRAWN, set())
    found.setdefault("voting.closed_early", set())
    found["contest.added"] |= set(CONTEST_FIELDS)  # written from the list of a contest's fields
    found["round.timeline_set"] |= set(TIMELINE)  # written from the timeline's keys
    assert not sorted(set(found) - set(ACTION_LABELS))
    keys |= set(CONTEST_FIELDS) | set(TIMELINE)
    assert not sorted(keys - set(DATA_LABELS))
    with app.test_request_context():
        for label in (*ACTION_LABELS.values(), *DATA_LABELS.values()):
            assert str(label).strip()


def test_the_audit_log_speaks_in_words_not_codes(app, db, people, client):
    """A proposal found not eligible, and a delivery update that spent more than the
    project was given, locally in part: the log names each key and value in words."""
    from pb.proposals import services as proposals
    from pb.rounds.services import contests_of

    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        content = proposals.ProposalContent(
            contest_id=contests_of(session, round_)[0].id,
            title="Gold taps",
            summary="Taps.",
            description="",
            beneficiaries="",
            category_id=None,
            postcode=None,
            cost_lines=[("Taps", 100_00)],
            objective_ids=[],
        )
        proposal = proposals.create_proposal(
            session,
            round_,
            actor=user(session, MEMBER),
            organisation=organisation(session, "Friends of the Park"),
            content=content,
        )
        proposals.submit_proposal(session, proposal, actor=user(session, MEMBER))
        proposals.screen_proposal(
            session, proposal, actor=user(session, COUNCIL), decision="not_eligible", reason="Not a public good."
        )
    page = html_unescape(client.get(f"/rounds/{ids['round']}/audit").get_data(as_text=True))
    text = visible_text(page)
    assert "not_eligible" not in text
    assert "total_cost" not in text
    with app.test_request_context():
        from pb.audit.routes import DATA_LABELS
        from pb.proposals.models import STATUS_LABELS, Status

        assert str(STATUS_LABELS[Status.NOT_ELIGIBLE]) in text
        assert str(DATA_LABELS["total_cost"]) in text


def test_a_delivery_update_in_the_log_reads_in_words(app, db, published, client):
    from pb.delivery import services as delivery

    with app.test_request_context(), db() as session:
        round_ = session.get(Round, published["round"])
        [project_id, *_] = sorted(delivery.funded_project_ids(session, round_))
        from pb.proposals.models import Project

        project = session.get(Project, project_id)
        delivery.post_update(
            session,
            project,
            actor=user(session, MEMBER),
            content=delivery.UpdateContent(status="in_progress", spend=[("Everything", project.cost + 1_00, True)]),
        )
    text = visible_text(html_unescape(client.get(f"/rounds/{published['round']}/audit").get_data(as_text=True)))
    for raw in (
        "over_allocation",
        "spent_locally",
        "in_progress",
        "identities_sealed",
        "verdict_addresses",
        "total_cost",
    ):
        assert not re.search(rf"(?<![\w.]){raw}(?![\w])", text), raw
    with app.test_request_context():
        from pb.audit.routes import DATA_LABELS
        from pb.delivery.models import DELIVERY_LABELS, DeliveryStatus

        for label in (
            DATA_LABELS["over_allocation"],
            DATA_LABELS["spent_locally"],
            DELIVERY_LABELS[DeliveryStatus.IN_PROGRESS],
        ):
            assert str(label) in text


def test_every_coded_value_is_shown_by_its_label(app):
    """Each code the data can hold (statuses, decisions, answers, ballots, rules, methods,
    declared fields, field names) is shown in words, alone and in a list."""
    from pb.audit.models import AuditEvent
    from pb.audit.routes import ACTION_VALUE_LABELS, VALUE_LABELS, details
    from pb.delivery.models import DeliveryStatus
    from pb.proposals.models import Status
    from pb.rounds.models import RULES, BallotKind, DeclaredField, EligibilityMethod

    codes = {
        "status": list(Status),
        "decision": list(Status),
        "ballot_kind": list(BallotKind),
        "rule": list(RULES),
        "eligibility_methods": list(EligibilityMethod),
        "declared_fields": list(DeclaredField),
    }
    for key, values in codes.items():
        assert set(values) <= set(VALUE_LABELS[key]), key
    assert set(DeliveryStatus) <= set(ACTION_VALUE_LABELS[("delivery.updated", "status")])
    round_ = Round(id=1, title="R", convening_organisation_id=1)
    with app.test_request_context():
        for (action, key), labels in [(("proposal.screened", k), v) for k, v in VALUE_LABELS.items()] + list(
            ACTION_VALUE_LABELS.items()
        ):
            for code, label in labels.items():
                event = AuditEvent(
                    chain="round:1",
                    seq=1,
                    action=action,
                    data=json.dumps({key: str(code)}),
                    prev_hash="",
                    entry_hash="",
                )
                [(shown_key, shown)] = details(event, round_)
                assert shown == str(label), (action, key, code)
                assert shown_key != key, (action, key, code)
            both = ",".join(list(labels)[:2])
            event = AuditEvent(
                chain="round:1", seq=1, action=action, data=json.dumps({key: both}), prev_hash="", entry_hash=""
            )
            assert details(event, round_)[0][1] == ", ".join(str(labels[c]) for c in list(labels)[:2])


# ---------------------------------------------------------------- 4. a past date never publishes a draft silently


def local(moment) -> str:
    """A moment as the timeline form takes it (UK time, to the minute)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%dT%H:%M")


def ready_to_go_public(council, db, round_id) -> None:
    """A ballot paper with money in it: all a draft needs to go public, but dates."""
    from pb.accounts.models import Organisation
    from pb.rounds.models import Contest

    ballot = {
        "name": "Everyone",
        "area": "0",
        "ballot_kind": "approval",
        "min_picks": "1",
        "max_picks": "2",
        "rank_depth": "3",
        "rule": "greedy",
    }
    assert council.submit(f"/rounds/{round_id}/contests/new", ballot).status_code == 302
    with db() as session:
        contest = session.exec(select(Contest).where(Contest.round_id == round_id)).one().id
        org = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one().id
    assert (
        council.submit(
            f"/rounds/{round_id}/pots/new", {"organisation": org, "contest": contest, "name": "Fund", "amount": "500"}
        ).status_code
        == 302
    )


def test_a_past_date_for_a_phase_to_come_is_refused_unless_the_lead_confirms_the_move(app, db, council, client):
    from datetime import timedelta

    from pb.audit.models import AuditEvent, chain_key
    from pb.clock import now

    round_id = new_round(council, db)
    ready_to_go_public(council, db, round_id)
    page = f"/rounds/{round_id}/timeline"
    assert 'name="move_now"' not in council.get(page).get_data(as_text=True)
    dates = {
        "proposals_open_at": local(now() - timedelta(days=1)),
        "voting_closes_at": local(now() + timedelta(days=30)),
    }
    refused = council.submit(page, dates)
    assert refused.status_code == 400
    html = html_unescape(refused.get_data(as_text=True))
    assert "already passed" in html
    assert "Proposals open" in html
    assert 'name="move_now"' in html  # now, and only now, the lead is asked
    assert client.get(f"/rounds/{round_id}").status_code == 404  # still a draft nobody else sees
    with db() as session:
        round_ = session.get(Round, round_id)
        assert (round_.phase, round_.proposals_open_at, round_.voting_closes_at) == ("draft", None, None)

    assert council.submit(page, {**dates, "move_now": "y"}).status_code == 302
    assert client.get(f"/rounds/{round_id}").status_code == 200  # moved on, as confirmed
    with db() as session:
        assert session.get(Round, round_id).phase == "proposals_open"
        [timeline_set] = [
            e
            for e in session.exec(select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)))
            if e.action == "round.timeline_set"
        ]
        assert json.loads(timeline_set.data)["move_now"] is True
    # A date already reached is no news: the round taking proposals keeps its past opening date.
    assert council.submit(page, dates).status_code == 302


# ---------------------------------------------------------------- 1. the public timeline tells what happened


def test_the_public_timeline_shows_when_phases_really_began_and_plans_only_what_is_to_come(app, db, people, client):
    """Planned: screening in 20 days, voting in 30. Moved on by hand today instead, then
    published: the page must not show the plan beside phases long past."""
    from pb.audit.models import AuditEvent, chain_key
    from pb.i18n import when

    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    with db() as session:
        round_ = session.get(Round, ids["round"])
        planned = {"screening": round_.screening_at, "voting": round_.voting_opens_at}
    proposals_page = visible_text(html_unescape(client.get(f"/rounds/{ids['round']}").get_data(as_text=True)))
    open_voting(app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park")
    publish(app, db, ids["round"], COUNCIL)
    page = visible_text(html_unescape(client.get(f"/rounds/{ids['round']}").get_data(as_text=True)))
    with db() as session:
        began = {
            json.loads(e.data)["to"]: e.created_at
            for e in session.exec(
                select(AuditEvent).where(
                    AuditEvent.chain == chain_key(ids["round"]), AuditEvent.action == "round.phase_changed"
                )
            )
        }
    with app.test_request_context():
        planned_text = {phase: when(at) for phase, at in planned.items()}
        began_text = {phase: when(at) for phase, at in began.items()}
    for phase in ("screening", "voting"):
        assert planned_text[phase] not in page, phase
        assert began_text[phase] in page, phase
    # While proposals were open, what was to come was shown as a plan.
    assert "planned for " + planned_text["voting"] in proposals_page
    assert "planned for" not in page
    assert "since " + began_text["results_published"] in page


# ---------------------------------------------------------------- 11. a round's own currency


def test_a_round_is_run_in_the_currency_its_lead_chooses_until_money_is_pledged(app, db, council):
    from babel.numbers import get_currency_name, get_currency_precision

    from pb.audit.models import AuditEvent, chain_key
    from pb.rounds.models import CURRENCIES, Contest, Pot

    assert all(get_currency_precision(code) == 2 for code in CURRENCIES)  # what the money fields expect
    form = council.get("/rounds/new").get_data(as_text=True)
    assert options(form, "currency") == set(CURRENCIES)
    assert html_escape(f"{get_currency_name('PLN', locale='en_GB')} (PLN)") in form
    council.http.set_cookie("pb_locale", "pl", domain="localhost")
    assert html_escape(f"{get_currency_name('PLN', locale='pl')} (PLN)") in council.get("/rounds/new").get_data(
        as_text=True
    )
    council.http.set_cookie("pb_locale", "en_GB", domain="localhost")

    with db() as session:
        rounds_before = len(session.exec(select(Round)).all())
    assert (
        council.submit(
            "/rounds/new", {"organisation": "1", "title": "Bad", "methods": ["codes"], "currency": "XXX"}
        ).status_code
        == 400
    )
    with db() as session:
        assert len(session.exec(select(Round)).all()) == rounds_before

    round_id = new_round(council, db, currency="EUR")
    edit = f"/rounds/{round_id}/edit"
    details = {"title": "Eastshire Together", "methods": ["codes"]}
    assert council.submit(edit, {**details, "currency": "PLN"}).status_code == 302
    assert (
        council.submit(
            f"/rounds/{round_id}/contests/new",
            {
                "name": "Everyone",
                "area": "0",
                "ballot_kind": "approval",
                "min_picks": "1",
                "max_picks": "3",
                "rank_depth": "3",
                "rule": "greedy",
            },
        ).status_code
        == 302
    )
    with db() as session:
        contest = session.exec(select(Contest).where(Contest.round_id == round_id)).one()
    from pb.accounts.models import Organisation

    with db() as session:
        org = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one().id
    pledged = council.submit(
        f"/rounds/{round_id}/pots/new", {"organisation": org, "contest": contest.id, "name": "Fund", "amount": "1000"}
    )
    assert pledged.status_code == 302
    refused = council.submit(edit, {**details, "currency": "GBP"})
    assert refused.status_code == 400
    assert "can no longer change" in html_unescape(refused.get_data(as_text=True))
    with db() as session:
        assert session.get(Round, round_id).currency == "PLN"
        assert session.exec(select(Pot)).one().amount == 1000_00
        logged = {
            e.action: json.loads(e.data)
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq)
            )
        }
    assert logged["round.created"]["currency"] == "EUR"
    assert logged["round.updated"]["currency"] == "PLN"


# ---------------------------------------------------------------- 3. a draft goes public only when it is ready


def test_an_empty_draft_cannot_go_public_and_the_lead_is_told_what_is_missing(app, db, council, client):
    from pb.accounts.models import Organisation

    round_id = new_round(council, db)
    base = f"/rounds/{round_id}"
    missing = ["no ballot paper", "timeline has no dates"]
    for url in (f"{base}/manage", f"{base}/phase"):
        text = html_unescape(council.get(url).get_data(as_text=True))
        assert all(words in text for words in missing), url
    moved = council.submit(f"{base}/phase", {"confirm": "y"})
    assert moved.status_code == 303
    assert "no ballot paper" in html_unescape(council.get(f"{base}/manage").get_data(as_text=True))
    assert client.get(base).status_code == 404
    with db() as session:
        assert session.get(Round, round_id).phase == "draft"

    # A ballot paper without money is not enough; with money and a date it is.
    ballot = {
        "name": "Everyone",
        "area": "0",
        "ballot_kind": "approval",
        "min_picks": "1",
        "max_picks": "2",
        "rank_depth": "3",
        "rule": "greedy",
    }
    assert council.submit(f"{base}/contests/new", ballot).status_code == 302
    assert council.submit(f"{base}/phase", {"confirm": "y"}).status_code == 303
    assert "No money has been pledged to any ballot paper" in html_unescape(
        council.get(f"{base}/phase").get_data(as_text=True)
    )
    from pb.rounds.models import Contest

    with db() as session:
        contest = session.exec(select(Contest).where(Contest.round_id == round_id)).one().id
        org = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one().id
    assert (
        council.submit(
            f"{base}/pots/new", {"organisation": org, "contest": contest, "name": "Fund", "amount": "500"}
        ).status_code
        == 302
    )
    assert council.submit(f"{base}/timeline", {"voting_closes_at": "2099-01-01T12:00"}).status_code == 302
    # Unconfirmed, the move only shows what it does.
    assert council.submit(f"{base}/phase", {}).status_code == 200
    assert client.get(base).status_code == 404
    assert council.submit(f"{base}/phase", {"confirm": "y"}).status_code == 302
    assert client.get(base).status_code == 200


def test_the_timeline_does_not_publish_a_draft_that_is_not_ready(app, db, council, client):
    from datetime import timedelta

    from pb.clock import now

    round_id = new_round(council, db)
    dates = {
        "proposals_open_at": local(now() - timedelta(hours=1)),
        "voting_closes_at": local(now() + timedelta(days=30)),
        "move_now": "y",
    }
    assert council.submit(f"/rounds/{round_id}/timeline", dates).status_code == 302
    assert client.get(f"/rounds/{round_id}").status_code == 404  # the date came, but nothing is in the round
    with db() as session:
        assert session.get(Round, round_id).phase == "draft"


def test_the_convening_lead_deletes_a_draft_after_confirming_and_it_stays_on_record(
    app, db, council, client, make_user
):
    from pb.audit.models import PLATFORM_CHAIN, AuditEvent, chain_key
    from pb.verify.chain import verify_chain

    make_user("lead@nhs.example", organisation="Eastshire NHS Trust", kind="anchor")
    partner = FormClient(app)
    partner.sign_in("lead@nhs.example", PASSWORD)
    round_id = new_round(council, db)
    base = f"/rounds/{round_id}"
    assert f'href="{base}/delete"' in council.get(f"{base}/manage").get_data(as_text=True)
    from pb.accounts.models import Organisation

    with db() as session:
        nhs = session.exec(select(Organisation).where(Organisation.name == "Eastshire NHS Trust")).one().id
    assert council.submit(f"{base}/partners", {"organisation": nhs}).status_code == 302
    assert partner.get(f"{base}/delete").status_code == 403  # a partner is not the convener
    assert council.submit(f"{base}/delete", {}).status_code == 200  # not confirmed: the page again
    assert council.get(f"{base}/manage").status_code == 200

    assert council.submit(f"{base}/delete", {"confirm": "y"}).status_code == 302
    assert client.get(base).status_code == 404
    for who in (council, partner):
        assert who.get(base).status_code == 404
        assert who.get(f"{base}/manage").status_code == 404
        assert who.get(f"{base}/screening").status_code == 404  # its screeners' page is gone too
    assert "Eastshire Together" not in council.get("/anchor").get_data(as_text=True)
    with db() as session:
        assert session.get(Round, round_id).deleted_at is not None
        last = session.exec(
            select(AuditEvent).where(AuditEvent.chain == chain_key(round_id)).order_by(AuditEvent.seq.desc())
        ).first()
        assert last.action == "round.deleted"
        platform = session.exec(
            select(AuditEvent).where(AuditEvent.chain == PLATFORM_CHAIN, AuditEvent.action == "round.deleted")
        ).one()
        assert json.loads(platform.data) == {"round": round_id, "title": "Eastshire Together"}
        assert verify_chain(session, chain_key(round_id)).ok
        assert verify_chain(session, PLATFORM_CHAIN).ok


def test_a_round_that_has_been_public_cannot_be_deleted(app, db, people, council):
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")  # taking proposals
    base = f"/rounds/{ids['round']}"
    assert 'delete"' not in council.get(f"{base}/manage").get_data(as_text=True)
    assert council.get(f"{base}/delete").status_code == 404
    assert council.submit(f"{base}/delete", {"confirm": "y"}, page=f"{base}/manage").status_code == 404
    with db() as session:
        assert session.get(Round, ids["round"]).deleted_at is None


def test_deleting_reads_the_round_afresh_so_one_gone_public_meanwhile_is_kept(app, db, council):
    """The delete page read the round while it was a draft; by the time the deletion is
    written it has gone public (a move by hand or its timeline, in another request). The
    deletion reads the row afresh, locked, and refuses."""
    from sqlalchemy import update

    from pb.rounds import services as rounds

    round_id = new_round(council, db)
    with app.test_request_context(), db() as session:
        seen = session.get(Round, round_id)  # as the delete request saw it: a draft
        session.exec(
            update(Round)
            .where(Round.id == round_id)
            .values(phase="proposals_open")
            .execution_options(synchronize_session=False)
        )  # what another request wrote since
        assert seen.phase == "draft"
        with pytest.raises(rounds.RoundError, match="Only a draft can be deleted"):
            rounds.delete_draft(session, seen, actor=user(session, COUNCIL))
    with db() as session:
        assert session.get(Round, round_id).deleted_at is None
