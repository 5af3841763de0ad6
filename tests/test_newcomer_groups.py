"""What a newcomer met proposing as a community group and voting as a resident (issue 21):
each test here failed before its fix."""

import re

from sqlmodel import select

from pb.proposals.models import Project
from tests.conftest import FormClient
from tests.test_proposals import (  # noqa: F401 (fixtures)
    PASSWORD,
    new_proposal,
    people,
    proposal,
    proposal_form,
    screen,
    setup,
)


def edit_form(db, setup, **changes):
    data = proposal_form(db, setup, **changes)
    del data["organisation"]
    return data


# ---------------------------------------------------------------- 1. submitting an edited, submitted proposal


def test_submitting_again_after_editing_a_submitted_proposal_saves_the_edits(people, db, setup):
    park = people["park"]
    pid = new_proposal(park, db, setup, action="submit")
    assert proposal(db, pid).status == "submitted"
    response = park.submit(f"/proposals/{pid}/edit", edit_form(db, setup, title="Meadow with benches", action="submit"))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = proposal(db, pid)
    assert saved.title == "Meadow with benches" and saved.status == "submitted"
    page = park.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your proposal has been submitted" in page


def test_submitting_an_edited_eligible_proposal_sends_it_back_to_screening(people, db, setup):
    park, council = people["park"], people["council"]
    pid = new_proposal(park, db, setup, action="submit")
    assert screen(council, pid, "eligible").status_code == 302
    response = park.submit(f"/proposals/{pid}/edit", edit_form(db, setup, title="A changed meadow", action="submit"))
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = proposal(db, pid)
    assert saved.title == "A changed meadow" and saved.status == "submitted"
