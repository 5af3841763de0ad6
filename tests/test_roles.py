"""Role checks: each role is refused (403) where it does not belong; anonymous users sign in first."""

import pytest
from sqlmodel import func, select

from pb.accounts.models import Membership, Organisation
from tests.conftest import FormClient

PASSWORD = "correct horse battery"

PAGES = {
    "/admin/organisations": "platform_admin",
    "/audit/platform": "platform_admin",
    "/anchor": "anchor_lead",
    "/group": "group_member",
}


@pytest.fixture
def people(make_user):
    make_user("admin@example.org", admin=True)
    make_user("lead@example.org", organisation="Eastshire Council", kind="anchor")
    make_user("member@example.org", organisation="Friends of the Park", kind="group")
    make_user("plain@example.org")
    return {
        "platform_admin": "admin@example.org",
        "anchor_lead": "lead@example.org",
        "group_member": "member@example.org",
        None: "plain@example.org",
    }


@pytest.mark.parametrize("path,role", PAGES.items())
def test_anonymous_visitors_are_sent_to_sign_in(client, path, role):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("who", ["platform_admin", "anchor_lead", "group_member", None])
def test_each_role_reaches_its_pages_and_is_refused_elsewhere(app, people, who):
    client = FormClient(app)
    client.sign_in(people[who], PASSWORD)
    for path, role in PAGES.items():
        expected = 200 if role == who else 403
        assert client.get(path).status_code == expected, (who, path)


def test_admin_creates_organisation_and_adds_member(app, client, people, db):
    client.sign_in(people["platform_admin"], PASSWORD)
    response = client.submit(
        "/admin/organisations", {"name": "Westshire Fire and Rescue", "kind": "anchor", "subtype": "fire"}
    )
    assert response.status_code == 302
    with db() as session:
        org = session.exec(select(Organisation).where(Organisation.name == "Westshire Fire and Rescue")).one()
    response = client.submit(f"/admin/organisations/{org.id}", {"email": "plain@example.org"})
    assert response.status_code == 302
    with db() as session:
        assert session.exec(select(Membership).where(Membership.organisation_id == org.id)).one()

    # The new member is now an anchor lead.
    member = FormClient(app)
    member.sign_in("plain@example.org", PASSWORD)
    assert member.get("/anchor").status_code == 200


def test_organisation_with_mismatched_type_is_refused(client, people, db):
    client.sign_in(people["platform_admin"], PASSWORD)
    with db() as session:
        before = session.exec(select(func.count()).select_from(Organisation)).one()
    response = client.submit("/admin/organisations", {"name": "Odd One", "kind": "anchor", "subtype": "charity"})
    assert response.status_code == 400
    response = client.submit("/admin/organisations", {"name": "Odd Two", "kind": "anchor", "subtype": "bogus"})
    assert response.status_code == 400
    with db() as session:
        assert session.exec(select(func.count()).select_from(Organisation)).one() == before


def test_non_admin_cannot_create_organisations_by_crafted_post(app, people, db):
    client = FormClient(app)
    client.sign_in(people["anchor_lead"], PASSWORD)
    token = client.csrf_token("/dashboard")
    response = client.post(
        "/admin/organisations", data={"name": "Sneaky", "kind": "anchor", "subtype": "police", "csrf_token": token}
    )
    assert response.status_code == 403
    with db() as session:
        assert session.exec(select(Organisation).where(Organisation.name == "Sneaky")).first() is None
