"""An anchor lead's pages at phone size and on a desktop: wide money tables scroll inside
a labelled, focusable region with a visible cue, the page itself never scrolls sideways,
and chart labels keep a readable size however wide the screen."""

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from tests.factories import make_round, open_voting, publish, user

COUNCIL, MEMBER = "lead@council.example", "chair@park.example"


@pytest.fixture
def published(app, db, make_user):
    """A round whose results are published, with funded projects, spending reported and an
    anchor report."""
    from pb.delivery import services as delivery
    from pb.proposals.models import Project
    from pb.rounds.models import Contest, Round
    from pb.voting import services as voting
    from pb.voting.models import Voter

    make_user(COUNCIL, organisation="Eastshire Metropolitan Borough Council", kind="anchor")
    make_user(MEMBER, organisation="Friends of the Park", kind="group")
    ids = make_round(app, db, convener=COUNCIL, anchor="Eastshire Metropolitan Borough Council")
    open_voting(app, db, ids, convener=COUNCIL, screener=COUNCIL, member=MEMBER, group="Friends of the Park")
    with app.test_request_context(), db() as session:
        for area, contest_id in ids["contests"].items():
            contest = session.get(Contest, contest_id)
            projects = session.exec(select(Project).where(Project.contest_id == contest_id).order_by(Project.id)).all()
            for n in range(6):
                voter = Voter(
                    round_id=ids["round"], area_id=ids["areas"][area], method="declared", identity=f"{area}{n}"
                )
                session.add(voter)
                session.flush()
                voting.cast_ballot(session, voter, contest, {p.id: None for p in projects[: 1 + n % 3]})
    publish(app, db, ids["round"], COUNCIL)
    with app.test_request_context(), db() as session:
        round_ = session.get(Round, ids["round"])
        for project_id in sorted(delivery.funded_project_ids(session, round_)):
            project = session.get(Project, project_id)
            delivery.post_update(
                session,
                project,
                actor=user(session, MEMBER),
                content=delivery.UpdateContent(
                    status="in_progress",
                    spend=[("Materials from a local firm", project.cost // 2, True), ("Hire", 1234_56, False)],
                ),
            )
        ids["anchor"] = round_.convening_organisation_id
    return ids


def pages(ids) -> list[str]:
    r = ids["round"]
    return [
        f"/rounds/{r}/money",
        f"/rounds/{r}/results",
        f"/rounds/{r}/results/{ids['contests']['North']}",
        f"/rounds/{r}/results/recount",
        f"/anchors/{ids['anchor']}/report",
        f"/rounds/{r}",
        f"/rounds/{r}/audit",
    ]


# Every table wider than the space it has: is it inside a focusable, labelled region that
# scrolls, with a visible cue (a shadow at the edge that has more)?
WIDE_TABLES = """() => [...document.querySelectorAll('main table')].map(table => {
  const region = table.closest('.table-scroll');
  const box = (region || table.parentElement);
  const style = region ? getComputedStyle(region) : null;
  return {
    caption: (table.caption ? table.caption.innerText : table.innerText).slice(0, 40),
    wide: table.scrollWidth > box.clientWidth + 1,
    region: !!region,
    scrolls: !!region && ['auto', 'scroll'].includes(style.overflowX),
    focusable: !!region && region.tabIndex === 0,
    role: region ? region.getAttribute('role') : null,
    named: !!region && !!(region.getAttribute('aria-label') || region.getAttribute('aria-labelledby')),
    cue: !!region && style.backgroundImage !== 'none',
  };
})"""


def test_wide_money_tables_scroll_in_a_labelled_region_with_a_cue_and_the_page_does_not(published, live_server, phone):
    page = phone()
    for url in pages(published):
        page.goto(live_server + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, url
        tables = page.evaluate(WIDE_TABLES)
        for table in tables:
            if table["wide"] or table["region"]:
                assert table == {
                    **table,
                    "region": True,
                    "scrolls": True,
                    "focusable": True,
                    "role": "region",
                    "named": True,
                    "cue": True,
                }, (url, table)
    page.goto(f"{live_server}/rounds/{published['round']}/money")
    assert any(t["wide"] for t in page.evaluate(WIDE_TABLES))  # the check above had something to check


# The size a chart label is drawn at: its font size times the SVG's scale on screen.
LABEL_SIZES = """() => [...document.querySelectorAll('.chart svg text')].map(text =>
  parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a)"""


@pytest.mark.parametrize("width", [360, 1280, 1920])
def test_chart_labels_stay_a_readable_size_on_any_screen(published, live_server, phone, width):
    page = phone(viewport={"width": width, "height": 900}, is_mobile=width < 400, has_touch=width < 400)
    r = published["round"]
    seen = 0
    for url in (
        f"/rounds/{r}/money",
        f"/rounds/{r}/results/{published['contests']['North']}",
        f"/anchors/{published['anchor']}/report",
    ):
        page.goto(live_server + url)
        sizes = page.evaluate(LABEL_SIZES)
        seen += len(sizes)
        assert all(10 <= size <= 18 for size in sizes), (url, width, sorted(set(round(s, 1) for s in sizes)))
    assert seen


def test_the_leads_new_pages_pass_axe_at_phone_size(app, db, make_user, live_server, phone):
    """A draft's manage page (with what stops it going public), its move and delete pages, the
    timeline refusing a past date, and the admin's organisation form for each kind."""
    from tests.browser.conftest import assert_accessible, sign_in

    make_user(COUNCIL, organisation="Eastshire Council", kind="anchor")
    make_user("admin@example.org", admin=True)
    page = phone()
    sign_in(page, live_server, COUNCIL)
    page.goto(f"{live_server}/rounds/new")
    assert_accessible(page, "new round")
    page.get_by_label("Title").fill("Eastshire Together")
    page.get_by_role("button", name="Create draft round").click()
    page.wait_for_url("**/manage")
    base = page.url.rsplit("/", 1)[0]
    for url in (f"{base}/manage", f"{base}/phase", f"{base}/delete", f"{base}/timeline"):
        page.goto(url)
        assert_accessible(page, url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, url
    page.goto(f"{base}/timeline")
    page.get_by_label("Proposals open").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Move the round on now to the phases whose dates have passed")).to_be_visible()
    assert_accessible(page, "timeline refused")
    admin = phone()
    sign_in(admin, live_server, "admin@example.org")
    for kind in ("anchor", "group"):
        admin.goto(f"{live_server}/admin/organisations?kind={kind}")
        assert_accessible(admin, f"organisations ({kind})")
