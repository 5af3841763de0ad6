"""A newcomer's bugs on the anchor lead's side: each test failed before its fix."""

import re
from html import escape as html_escape
from html import unescape as html_unescape

import pytest
from sqlmodel import select

from pb import lifecycle
from pb.rounds.models import Round
from tests.conftest import FormClient
from tests.factories import make_round, open_voting, publish, user

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
    """A round whose results are published (nobody voted; the count still runs)."""
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Council")
    open_voting(app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park")
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

    made = admin.submit("/admin/organisations", {"name": "Allotment Society", "kind": "group", "subtype": "charity"}, page=group_link)
    assert made.status_code == 302
    for kind, subtype in (("anchor", "charity"), ("group", "nhs"), ("bogus", "nhs")):
        refused = admin.submit("/admin/organisations", {"name": f"Odd {kind}", "kind": kind, "subtype": subtype})
        assert refused.status_code == 400
    with db() as session:
        assert {o.name: (o.kind, o.subtype) for o in session.exec(select(Organisation))}.get("Allotment Society") == ("group", "charity")
        assert not [o for o in session.exec(select(Organisation)) if o.name.startswith("Odd")]


# ---------------------------------------------------------------- 6. one area per postcode


def new_round(council, db, **extra) -> int:
    from pb.accounts.models import Organisation

    with db() as session:
        org = session.exec(select(Organisation).where(Organisation.name == "Eastshire Council")).one().id
    response = council.submit("/rounds/new", {"organisation": org, "title": "Eastshire Together", "methods": ["codes"], **extra})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[2])


def areas_of(db, round_id) -> dict[str, list[str]]:
    from pb.rounds.models import Area

    with db() as session:
        return {a.name: a.postcode_list for a in session.exec(select(Area).where(Area.round_id == round_id))}


@pytest.mark.parametrize("postcodes", ["LS6", "ls6 1aa", "LS6 1", "LS7, LS6 1AA", "LS1, LS11"])
def test_a_postcode_another_area_takes_in_is_refused_naming_that_area(app, db, council, postcodes):
    round_id = new_round(council, db)
    base = f"/rounds/{round_id}/areas"
    assert council.submit(f"{base}/new", {"name": "North", "postcodes": "LS6"}).status_code == 302
    assert council.submit(f"{base}/new", {"name": "Centre", "postcodes": "LS1 1"}).status_code == 302
    before = areas_of(db, round_id)
    refused = council.submit(f"{base}/new", {"name": "South", "postcodes": postcodes})
    assert refused.status_code == 400
    assert "North" in refused.get_data(as_text=True) or "Centre" in refused.get_data(as_text=True)
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
    assert council.submit(f"{base}/{south}", {"name": "South", "postcodes": "LS1, LS12, LS6 2, LS6 3"}).status_code == 302
