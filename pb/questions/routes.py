"""Asking about a proposal (signed in, or with an emailed code), the group's answers, and
the convening anchor's moderation. The questions themselves are listed on the proposal's
page (pb.proposals.routes.show, with `questions_on`)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from pb.accounts.models import Role
from pb.accounts.permissions import current_roles, role_required
from pb.db import db_session
from pb.mail import send_mail
from pb.proposals.access import load_proposal
from pb.proposals.models import Proposal
from pb.questions import services
from pb.questions.access import load_question_as_convener, load_question_as_group
from pb.questions.forms import AnswerForm, AskByEmailForm, AskForm, ModerationForm, QuestionCodeForm
from pb.rounds.access import Access, access_to
from pb.rounds.models import Round
from pb.throttle import client_address
from pb.views import form_page, show_refusal
from pb.voting.services import VotingError, code_email_body

bp = Blueprint("questions", __name__)

PENDING = "question_pending"  # this browser's question waiting for its emailed code


def questions_on(proposal: Proposal, round_: Round, *, is_member: bool) -> dict:
    """What the proposal's page shows of its questions, to whoever reads it."""
    return dict(
        questions=services.questions_of(db_session(), proposal),
        asking_open=services.asking_open(round_, proposal),
        answering_open=services.answering_open(round_),
        can_answer=is_member,
        can_moderate=access_to(db_session(), round_) == Access.CONVENER and Role.ANCHOR_LEAD in current_roles(),
    )


def _to_question(proposal: Proposal, question_id: int):
    return redirect(url_for("proposals.show", proposal_id=proposal.id, _anchor=f"question-{question_id}"))


def _closed(heading: str, proposal: Proposal, round_: Round, message: str):
    """A page that says why asking or answering is closed (nothing to fill in)."""
    return render_template(
        "questions/closed.html", heading=heading, proposal=proposal, round=round_, closed=message
    ), 409


@bp.route("/proposals/<int:proposal_id>/ask", methods=["GET", "POST"])
def ask(proposal_id):
    proposal, round_ = load_proposal(proposal_id)
    closed = services.why_asking_is_closed(round_, proposal)
    if closed is not None:
        return _closed(_("Ask a question"), proposal, round_, closed)
    signed_in = current_user.is_authenticated
    form = AskForm() if signed_in else AskByEmailForm()
    context = dict(proposal=proposal, round=round_, signed_in=signed_in)
    if form.validate_on_submit():
        db = db_session()
        try:
            if signed_in:
                question = services.ask(
                    db, proposal, user=current_user, text=form.text.data, name=form.display_name.data or ""
                )
            else:
                question, challenge, code = services.start_asking_by_email(
                    db,
                    proposal,
                    email=form.email.data,
                    text=form.text.data,
                    name=form.display_name.data or "",
                    client=client_address(),
                )
        except (services.QuestionError, VotingError) as error:
            return show_refusal(error, "questions/ask.html", form, **context)
        if signed_in:
            flash(_("Your question is on the proposal's page. The group can answer it there."), "success")
            return _to_question(proposal, question.id)
        send_mail(
            challenge.email,
            _("Your code to confirm your question on “%(title)s”", title=proposal.title),
            code_email_body(code),
        )
        session[PENDING] = {"question": question.id, "challenge": challenge.id}
        return redirect(url_for("questions.confirm", proposal_id=proposal.id))
    return form_page("questions/ask.html", form, **context)


@bp.route("/proposals/<int:proposal_id>/ask/code", methods=["GET", "POST"])
def confirm(proposal_id):
    proposal, round_ = load_proposal(proposal_id)
    closed = services.why_asking_is_closed(round_, proposal)
    if closed is not None:
        return _closed(_("Ask a question"), proposal, round_, closed)
    form = QuestionCodeForm()
    if form.validate_on_submit():
        pending = session.get(PENDING) or {}
        try:
            question = services.confirm_by_email(
                db_session(),
                proposal,
                pending.get("question"),
                pending.get("challenge"),
                form.code.data,
                client=client_address(),
            )
        except (services.QuestionError, VotingError) as error:
            return show_refusal(error, "questions/code.html", form, proposal=proposal, round=round_)
        session.pop(PENDING, None)
        flash(_("Thank you: your question is on the proposal's page. The group can answer it there."), "success")
        return _to_question(proposal, question.id)
    return form_page("questions/code.html", form, proposal=proposal, round=round_)


@bp.route("/questions/<int:question_id>/answer", methods=["GET", "POST"])
@login_required
def answer(question_id):
    question, proposal, round_ = load_question_as_group(question_id)
    db = db_session()
    given = services.answer_of(db, question)
    context = dict(question=question, proposal=proposal, round=round_, given=given)
    if not services.answering_open(round_):
        return _closed(_("Answer a question"), proposal, round_, str(services.ANSWERS_CLOSED))
    form = AnswerForm()
    if request.method == "GET" and given is not None:
        form.text.data = given.text
    if form.validate_on_submit():
        try:
            services.answer(db, question, actor=current_user, text=form.text.data)
        except services.QuestionError as error:
            return show_refusal(error, "questions/answer.html", form, **context)
        flash(_("Your group's answer is on the proposal's page."), "success")
        return _to_question(proposal, question.id)
    return form_page("questions/answer.html", form, **context)


@bp.route("/questions/<int:question_id>/<any(hide, show):action>/<any(question, answer):part>", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def moderate(question_id, action, part):
    question, proposal, round_ = load_question_as_convener(question_id)
    db = db_session()
    given = services.answer_of(db, question)
    if part == "answer" and given is None:
        abort(404)
    form = ModerationForm()
    context = dict(question=question, proposal=proposal, round=round_, given=given, action=action, part=part)
    if form.validate_on_submit():
        try:
            services.moderate(
                db, question, actor=current_user, part=part, hide=action == "hide", reason=form.reason.data
            )
        except services.QuestionError as error:
            return show_refusal(error, "questions/moderate.html", form, **context)
        if action == "hide":
            flash(_("Removed. The reason is shown in its place and in the round's audit log."), "success")
        else:
            flash(_("Shown again. The reason is in the round's audit log."), "success")
        return _to_question(proposal, question.id)
    return form_page("questions/moderate.html", form, **context)
