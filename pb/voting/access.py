"""Who may use a round's voting pages: anyone while voting is open, its polling helpers,
and a voter their own ballot papers. Object-level checks, on top of the role decorator
(the loaders' shape is described in pb.rounds.access)."""

from flask import abort, make_response, render_template
from flask_login import current_user

from pb.db import db_session
from pb.rounds.access import load_round
from pb.rounds.models import Contest, Phase, Round
from pb.voting.models import Voter
from pb.voting.services import is_helper


def load_voting_round(round_id: int) -> Round:
    """The round while voting is open (else a page that says so, 409); 404 or 403 as load_round."""
    round_, _access = load_round(round_id)
    if round_.phase != Phase.VOTING.value:
        abort(make_response(render_template("voting/not_open.html", round=round_), 409))
    return round_


def load_round_as_helper(round_id: int) -> Round:
    """The round while voting is open, for its polling helpers; else 404, 409 or 403."""
    round_ = load_voting_round(round_id)
    if not is_helper(db_session(), round_, current_user):
        abort(403)
    return round_


def load_contest_as_voter(round_: Round, voter: Voter, contest_id: int) -> Contest:
    """One of the round's ballot papers, for a voter it is for (round-wide, or their area's);
    else 404 (not the round's) or 403."""
    contest = db_session().get(Contest, contest_id)
    if contest is None or contest.round_id != round_.id:
        abort(404)
    if contest.area_id not in (None, voter.area_id):
        abort(403)
    return contest
