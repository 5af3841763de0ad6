"""Who may use a round's equality-monitoring pages (the loaders' shape is described in
pb.rounds.access): the questions, to anyone voting while voting is open; the figures, to
the round's leads and returning officer once voting has closed, and to everyone once the
results are published."""

from flask import abort, make_response, render_template
from flask_login import current_user

from pb.db import db_session
from pb.rounds.access import Access, load_round
from pb.rounds.models import Phase, Round
from pb.rounds.services import is_returning_officer
from pb.voting.access import load_voting_round


def load_round_asking(round_id: int) -> Round:
    """The round while voting is open, if it asks the equality questions; else 404 (or 409
    and 403 as load_voting_round)."""
    round_ = load_voting_round(round_id)
    if not round_.equality_monitoring:
        abort(404)
    return round_


def load_round_for_figures(round_id: int) -> Round:
    """The round whose equality figures may be seen: by everyone once its results are
    published; before that, once voting has closed, by its leads and returning officer.
    While voting is open, nobody: figures that could be watched change as someone answers
    would tell what they answered. Else 404 (a page saying when they will be shown)."""
    round_, access = load_round(round_id)
    if not round_.equality_monitoring:
        abort(404)
    if round_.reached(Phase.RESULTS_PUBLISHED):
        return round_
    insider = access >= Access.FUNDER or is_returning_officer(db_session(), round_, current_user)
    if round_.reached(Phase.CLOSED) and insider:
        return round_
    abort(make_response(render_template("equality/not_yet.html", round=round_, insider=insider), 404))
