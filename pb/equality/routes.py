"""Equality monitoring: the questions after a resident votes, the convening lead's switch,
and the figures.

Nothing here logs or audits an answer: the request log names the route only (pb.logs),
and the answers go nowhere but the round's counters (pb.equality.services)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from pb.accounts.models import Role
from pb.accounts.permissions import role_required
from pb.db import db_session
from pb.equality import services
from pb.equality.access import load_round_asking, load_round_for_figures
from pb.equality.forms import MonitoringForm, questions_form
from pb.equality.questions import QUESTIONS
from pb.refusal import Refusal
from pb.rounds.access import Access, load_round
from pb.rounds.models import Phase
from pb.views import form_page, show_refusal
from pb.voting import services as voting
from pb.voting.models import Channel, Voter

bp = Blueprint("equality", __name__)


def _answers_offered(round_) -> dict[str, list[str]]:
    """Each question's answers offered in this round (question id -> answer ids)."""
    return {q.id: services.offered_answers(round_, q) for q in QUESTIONS}


@bp.route("/rounds/<int:round_id>/vote/about-you", methods=["GET", "POST"])
def answer(round_id):
    """The optional questions, for someone who has just voted in this browser. Skipping
    them changes nothing; answering twice counts once."""
    round_ = load_round_asking(round_id)
    db = db_session()
    state = voting.voting_session(db, session.get("voting"), round_.id, current_user)
    voter = db.get(Voter, state.voter_id) if state is not None else None
    if state is None or voter is None:
        return redirect(url_for("voting.start", round_id=round_.id))
    if state.channel == Channel.PAPER.value:
        abort(404)  # a polling helper enters paper ballots: they do not answer for the resident
    if not voting.ballots_seen_by(db, state, voter):
        return redirect(url_for("voting.ballots", round_id=round_.id))
    back = url_for("voting.receipt", round_id=round_.id) if session.get("receipt") else None
    context = {"round": round_, "back": back, "questions": QUESTIONS}
    form = questions_form(_answers_offered(round_))
    if request.method == "POST" and not form.validate_on_submit():
        return form_page("equality/answer.html", form, **context)  # a tampered answer: 400, nothing stored
    if services.has_answered(db, round_, voter.id):
        return render_template("equality/answered.html", **context)
    if request.method == "POST":
        answers = {q.id: form[q.id].data or None for q in QUESTIONS}
        if any(answers.values()):
            try:
                services.record_answers(db, round_, voter.id, answers)
            except services.EqualityError as error:
                return show_refusal(error, "equality/answer.html", form, **context)
            flash(_("Thank you. Your answers have been counted, apart from your vote."), "success")
        else:
            flash(_("You did not answer any question, so nothing was sent. That is fine."), "info")
        return redirect(back or url_for("voting.ballots", round_id=round_.id), 303)
    return form_page("equality/answer.html", form, **context)


@bp.route("/rounds/<int:round_id>/equality/settings", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def settings(round_id):
    """The convening lead chooses, before voting opens, whether residents are asked."""
    round_, _access = load_round(round_id, Access.CONVENER)
    form = MonitoringForm(data={"on": round_.equality_monitoring} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.set_monitoring(db_session(), round_, actor=current_user, on=bool(form.on.data))
        except Refusal as error:
            return show_refusal(error, "equality/settings.html", form, round=round_)
        flash(_("Equality monitoring has been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id), 303)
    return form_page("equality/settings.html", form, round=round_)


@bp.route("/rounds/<int:round_id>/equality")
def figures(round_id):
    """Who took part: aggregates only, small numbers suppressed."""
    round_ = load_round_for_figures(round_id)
    return render_template(
        "equality/figures.html",
        round=round_,
        figures=services.figures(db_session(), round_),
        published=round_.reached(Phase.RESULTS_PUBLISHED),
    )
