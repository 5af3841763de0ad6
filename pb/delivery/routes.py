"""A funded project's delivery page, the group's updates, residents' verdicts and moderation."""

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from pb.accounts.models import Role
from pb.accounts.permissions import current_roles, role_required
from pb.db import db_session
from pb.delivery import services, verdicts
from pb.delivery.access import (
    load_project,
    load_project_as_group,
    load_verdict_as_convener,
)
from pb.delivery.forms import (
    MILESTONE_ROWS,
    SPEND_ROWS,
    HideForm,
    ResidentCodeForm,
    ResidentEmailCodeForm,
    ResidentEmailForm,
    UpdateForm,
    VerdictForm,
)
from pb.delivery.models import NEEDS_REASON, NEXT_STATUSES, DeliveryUpdate
from pb.ids import id_arg
from pb.mail import send_mail
from pb.proposals.models import Project, Proposal
from pb.proposals.photos import discard_photo, photo_folder, store_photo
from pb.proposals.services import ProposalError
from pb.rounds.access import Access, access_to, load_round
from pb.rounds.models import EligibilityMethod, Round
from pb.throttle import client_address
from pb.views import form_page, refuse, show_refusal
from pb.voting.services import VotingError, code_email_body

bp = Blueprint("delivery", __name__)


def _resident(round_: Round) -> str | None:
    state = session.get("resident")
    return state["key"] if state and state.get("round") == round_.id else None


def _project_page(project: Project, round_: Round, status: int = 200, **extra):
    db = db_session()
    updates = services.updates_of(db, project)
    access = access_to(db, round_)
    context = dict(
        project=project,
        round=round_,
        proposal=db.get(Proposal, project.proposal_id),
        group=services.group_of(db, project),
        updates=[(u, services.milestones_of(db, u), services.spend_lines_of(db, u)) for u in updates],
        latest=updates[0] if updates else None,
        over=services.is_over_allocation(project, updates[0] if updates else None),
        counts=verdicts.verdict_counts(db, [project.id])[project.id],
        comments=verdicts.comments_of(db, project),
        mine=verdicts.verdict_of(db, project, _resident(round_)),
        can_report=services.can_report(db, project, current_user),
        can_moderate=access == Access.CONVENER and Role.ANCHOR_LEAD in current_roles(),
        verdicts_open=verdicts.verdicts_open(round_),
        hide_form=extra.pop("hide_form", None) or HideForm(formdata=None),
        **extra,
    )
    return render_template("delivery/project.html", **context), status


@bp.route("/projects/<int:project_id>")
def project(project_id):
    project, round_ = load_project(project_id)
    return _project_page(project, round_)


@bp.route("/projects/<int:project_id>/updates/<int:update_id>/photo")
def photo(project_id, update_id):
    project, _round = load_project(project_id)
    update = db_session().get(DeliveryUpdate, update_id)
    if update is None or update.project_id != project.id or not update.photo:
        abort(404)
    return send_from_directory(photo_folder(), update.photo, mimetype="image/jpeg", max_age=3600)


# ---------------------------------------------------------------- the group reports


def _prefill(form: UpdateForm, db, latest: DeliveryUpdate | None) -> None:
    """Start from the latest picture: the group changes what has changed."""
    if latest is None:
        return
    form.status.data = latest.status
    if latest.status in {s.value for s in NEEDS_REASON}:
        form.reason.data = latest.reason
    for row, milestone in zip(form.milestones.entries, services.milestones_of(db, latest), strict=False):
        row.form.title.data, row.form.due.data, row.form.done.data = milestone.title, milestone.due, milestone.done
    for row, line in zip(form.spend.entries, services.spend_lines_of(db, latest), strict=False):
        row.form.item.data, row.form.amount.data, row.form.local.data = line.item, line.amount, line.local


@bp.route("/projects/<int:project_id>/update", methods=["GET", "POST"])
@login_required
def update(project_id):
    project, round_ = load_project_as_group(project_id)
    db = db_session()
    form = UpdateForm()
    latest = services.latest_updates(db, [project.id]).get(project.id)
    allowed = NEXT_STATUSES[services.current_status(latest)]
    form.status.choices = [choice for choice in form.status.choices if choice.value in allowed]
    context = dict(project=project, round=round_, latest=latest, milestone_rows=MILESTONE_ROWS, spend_rows=SPEND_ROWS)
    if request.method == "GET":
        _prefill(form, db, latest)
    if form.validate_on_submit():
        content = services.UpdateContent(
            status=form.status.data,
            reason=form.reason.data or "",
            note=form.note.data or "",
            milestones=form.milestone_values,
            spend=form.spend_values,
        )
        try:
            if form.photo.data:
                content.photo = store_photo(form.photo.data)
            made = services.post_update(db, project, actor=current_user, content=content)
        except (services.DeliveryError, ProposalError) as error:
            discard_photo(content.photo)
            return show_refusal(error, "delivery/update.html", form, **context)
        if services.is_over_allocation(project, made):
            flash(
                _("Your update is saved. It shows more spent than the project was given; this is shown on its page."),
                "warning",
            )
        else:
            flash(_("Your update is saved and public."), "success")
        return redirect(url_for("delivery.project", project_id=project.id))
    return form_page("delivery/update.html", form, **context)


# ---------------------------------------------------------------- residents prove they were eligible


def _after_proof(round_: Round, key: str):
    session["resident"] = {"round": round_.id, "key": key}
    project_id = id_arg("project")
    if project_id:
        return redirect(url_for("delivery.verdict", project_id=project_id))
    return redirect(url_for("reports.round_money", round_id=round_.id))


def _proof_page(round_: Round, status: int = 200, **forms):
    context = dict(
        round=round_,
        code_form=forms.get("code_form") or ResidentCodeForm(formdata=None),
        email_form=forms.get("email_form") or ResidentEmailForm(formdata=None),
        email=EligibilityMethod.EMAIL in round_.methods,
        project_id=id_arg("project"),
        refusal=forms.get("refusal"),
    )
    return render_template("delivery/prove.html", **context), status


def _open_round(round_id: int) -> Round:
    round_, _access = load_round(round_id)
    if not verdicts.verdicts_open(round_):
        abort(404)
    return round_


@bp.route("/rounds/<int:round_id>/residents")
def prove(round_id):
    return _proof_page(_open_round(round_id))


@bp.route("/rounds/<int:round_id>/residents/code", methods=["POST"])
def prove_with_code(round_id):
    round_ = _open_round(round_id)
    form = ResidentCodeForm()
    if not form.validate_on_submit():
        return _proof_page(round_, 400, code_form=form)
    try:
        key = verdicts.resident_by_code(db_session(), round_, form.code.data, client=client_address())
    except (VotingError, services.DeliveryError) as error:
        refuse(_proof_page(round_, error.status, code_form=form, refusal=str(error)), error)
    return _after_proof(round_, key)


@bp.route("/rounds/<int:round_id>/residents/email", methods=["POST"])
def prove_with_email(round_id):
    round_ = _open_round(round_id)
    if EligibilityMethod.EMAIL not in round_.methods:
        abort(404)
    form = ResidentEmailForm()
    if not form.validate_on_submit():
        return _proof_page(round_, 400, email_form=form)
    try:
        challenge, code = verdicts.start_email(db_session(), round_, email=form.email.data, client=client_address())
    except (VotingError, services.DeliveryError) as error:
        refuse(_proof_page(round_, error.status, email_form=form, refusal=str(error)), error)
    # A message either way (queued, sent after the answer): the answer and its time do not
    # tell whether the address voted.
    if code is not None:
        send_mail(
            challenge.email,
            _("Your code to give your verdict on %(round)s", round=round_.title),
            code_email_body(code),
        )
    else:
        send_mail(
            form.email.data.strip().lower(),
            _("Your code to give your verdict on %(round)s", round=round_.title),
            _(
                "Someone asked for a code to give verdicts on %(round)s with this address, but it was not used to vote in "
                "that round, so it cannot give verdicts. If you voted with a letter, use the code on your letter instead.",
                round=round_.title,
            ),
        )
    session["verdict_challenge"] = challenge.id
    return redirect(url_for("delivery.prove_email_code", round_id=round_.id, project=id_arg("project")))


@bp.route("/rounds/<int:round_id>/residents/email/code", methods=["GET", "POST"])
def prove_email_code(round_id):
    round_ = _open_round(round_id)
    form = ResidentEmailCodeForm()
    if form.validate_on_submit():
        try:
            key = verdicts.resident_by_email_code(
                db_session(), round_, session.get("verdict_challenge"), form.code.data, client=client_address()
            )
        except (VotingError, services.DeliveryError) as error:
            return show_refusal(error, "delivery/email_code.html", form, round=round_)
        session.pop("verdict_challenge", None)
        return _after_proof(round_, key)
    return form_page("delivery/email_code.html", form, round=round_)


# ---------------------------------------------------------------- verdicts


@bp.route("/projects/<int:project_id>/verdict", methods=["GET", "POST"])
def verdict(project_id):
    project, round_ = load_project(project_id)
    if not verdicts.verdicts_open(round_):
        abort(404)
    resident = _resident(round_)
    if resident is None:
        return redirect(url_for("delivery.prove", round_id=round_.id, project=project.id))
    db = db_session()
    mine = verdicts.verdict_of(db, project, resident)
    form = VerdictForm()
    if request.method == "GET" and mine is not None:
        form.answer.data = mine.answer
        form.comment.data = "" if mine.hidden_at else mine.comment  # a hidden comment is not offered back
    if form.validate_on_submit():
        try:
            verdicts.give_verdict(
                db, project, resident=resident, answer=form.answer.data, comment=form.comment.data or ""
            )
        except services.DeliveryError as error:
            return show_refusal(error, "delivery/verdict.html", form, project=project, round=round_, mine=mine)
        flash(_("Thank you. Your verdict is counted; you can change it at any time."), "success")
        return redirect(url_for("delivery.project", project_id=project.id))
    return form_page("delivery/verdict.html", form, project=project, round=round_, mine=mine)


@bp.route("/verdicts/<int:verdict_id>/hide", methods=["POST"])
@role_required(Role.ANCHOR_LEAD)
def hide(verdict_id):
    verdict, project, round_ = load_verdict_as_convener(verdict_id)
    db = db_session()
    form = HideForm()
    if not form.validate_on_submit():
        return _project_page(project, round_, 400, hide_form=form, hiding=verdict.id)
    try:
        verdicts.hide_comment(db, verdict, actor=current_user, reason=form.reason.data)
    except services.DeliveryError as error:
        refuse(
            _project_page(project, round_, error.status, hide_form=form, hiding=verdict.id, refusal=str(error)), error
        )
    flash(_("The comment is hidden. The resident's answer still counts."), "success")
    return redirect(url_for("delivery.project", project_id=project.id))
