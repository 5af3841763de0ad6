"""Pages for proposing projects, screening them, and reading them in public."""

import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import col, select

from pb.accounts.models import Organisation, OrganisationKind, Role, User
from pb.accounts.permissions import role_required
from pb.accounts.services import organisations_of
from pb.db import db_session
from pb.ids import id_arg
from pb.proposals import services
from pb.proposals.access import (
    can_screen,
    is_group_member,
    load_proposal,
    load_proposal_as_group,
    load_proposal_as_screener,
    load_round_as_screener,
)
from pb.proposals.forms import MAX_COST_LINES, ProposalForm, ScreenerForm, ScreeningForm
from pb.proposals.models import Project, Proposal, Screener, Status
from pb.proposals.photos import HELD_FOR, adopt_photo, hold_photo, is_held, photo_folder
from pb.questions.routes import questions_on
from pb.refusal import Refusal
from pb.rounds.access import Access, load_round
from pb.rounds.models import Category, Contest, Phase, Round
from pb.rounds.services import areas_of, contests_of
from pb.views import account_named_in, form_page, refuse, show_refusal

bp = Blueprint("proposals", __name__)


def _visitor_seed() -> int:
    if "order_seed" not in session:
        session["order_seed"] = secrets.randbits(32)
    return session["order_seed"]


# ---------------------------------------------------------------- public


@bp.route("/rounds/<int:round_id>/proposals")
def index(round_id):
    round_, _access = load_round(round_id)
    db = db_session()
    areas = areas_of(db, round_)
    categories = db.exec(select(Category).where(Category.round_id == round_.id).order_by(Category.name)).all()
    area_id = id_arg("area")
    category_id = id_arg("category")
    words = request.args.get("q", "").replace("\x00", "")[:200]
    proposals = services.public_proposals(
        db, round_, seed=_visitor_seed(), area_id=area_id, category_id=category_id, words=words
    )
    not_eligible = [p for p in proposals if p.status == Status.NOT_ELIGIBLE.value]
    return render_template(
        "proposals/index.html",
        round=round_,
        proposals=[p for p in proposals if p.status != Status.NOT_ELIGIBLE.value],
        not_eligible=not_eligible,
        areas=areas,
        categories=categories,
        area_id=area_id,
        category_id=category_id,
        words=words,
        contests={c.id: c for c in contests_of(db, round_)},
        area_names={a.id: a.name for a in areas},
        groups={
            o.id: o.name for o in db.exec(select(Organisation).where(Organisation.kind == OrganisationKind.GROUP.value))
        },
    )


@bp.route("/proposals/<int:proposal_id>")
def show(proposal_id):
    proposal, round_ = load_proposal(proposal_id)
    db = db_session()
    is_member = is_group_member(proposal)
    return render_template(
        "proposals/show.html",
        proposal=proposal,
        round=round_,
        group=db.get(Organisation, proposal.organisation_id),
        contest=db.get(Contest, proposal.contest_id),
        area=services.area_of(db, proposal),
        category=db.get(Category, proposal.category_id) if proposal.category_id else None,
        cost_lines=services.cost_lines_of(db, proposal),
        objectives=services.objectives_of(db, proposal),
        is_member=is_member,
        can_screen=can_screen(round_),
        funded=_funded_project(db, proposal),
        **questions_on(proposal, round_, is_member=is_member),
    )


def _funded_project(db, proposal: Proposal):
    from pb.delivery.services import is_funded

    project = db.exec(select(Project).where(Project.proposal_id == proposal.id)).first()
    return project if project is not None and is_funded(db, project) else None


@bp.route("/proposals/<int:proposal_id>/photo")
def photo(proposal_id):
    proposal, _round = load_proposal(proposal_id)
    if not proposal.photo:
        abort(404)
    return send_from_directory(photo_folder(), proposal.photo, mimetype="image/jpeg", max_age=3600)


# ---------------------------------------------------------------- proposing


def _build_form(db, round_: Round, proposal: Proposal | None) -> ProposalForm:
    form = ProposalForm()
    groups = organisations_of(db, current_user, OrganisationKind.GROUP)
    form.organisation.choices = [(g.id, g.name) for g in groups]
    areas = {a.id: a.name for a in areas_of(db, round_)}
    form.contest.choices = [
        (c.id, f"{c.name} ({areas[c.area_id]})" if c.area_id else c.name) for c in contests_of(db, round_)
    ]
    categories = db.exec(select(Category).where(Category.round_id == round_.id).order_by(Category.name)).all()
    form.category.choices = [(0, _("No category"))] + [(c.id, c.name) for c in categories]
    form.objectives.choices = [
        (o.id, o.title)
        for o in db.exec(select(services.CharterObjective).where(services.CharterObjective.round_id == round_.id))
    ]
    if proposal is not None:
        del form.organisation
        if request.method == "GET":
            form.contest.data = proposal.contest_id
            form.title.data, form.summary.data = proposal.title, proposal.summary
            form.description.data, form.beneficiaries.data = proposal.description, proposal.beneficiaries
            form.category.data = proposal.category_id or 0
            form.postcode.data = proposal.postcode
            form.objectives.data = [o.id for o in services.objectives_of(db, proposal)]
            lines = services.cost_lines_of(db, proposal)
            while len(form.cost_lines.entries) <= len(lines) and len(form.cost_lines.entries) < MAX_COST_LINES:
                form.add_cost_line()  # every line, and an empty one for another
            for row, line in zip(form.cost_lines.entries, lines, strict=False):
                row.form.item.data, row.form.amount.data = line.item, line.amount
    return form


def _adding_a_line(form: ProposalForm) -> bool:
    """ "Add another cost line" (which works without JavaScript): the same form again, as
    typed, with one more empty line; nothing is checked or saved yet."""
    if request.method != "POST" or request.form.get("action") != "add_line":
        return False
    form.add_cost_line()
    return True


def _content(form: ProposalForm) -> services.ProposalContent:
    return services.ProposalContent(
        contest_id=form.contest.data,
        title=form.title.data,
        summary=form.summary.data,
        description=form.description.data or "",
        beneficiaries=form.beneficiaries.data or "",
        category_id=form.category.data or None,
        postcode=form.postcode.data or None,
        cost_lines=form.cost_line_values,
        objective_ids=form.objectives.data or [],
    )


def _photo_token() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pb.proposals.held-photo")


def _held_name(token: str | None) -> str | None:
    """The held photo a form's reference names, if it is this person's and still held."""
    if not token:
        return None
    try:
        held = _photo_token().loads(token, max_age=HELD_FOR)
    except BadSignature:
        return None
    if not isinstance(held, dict) or held.get("user") != current_user.id or not is_held(held.get("name")):
        return None
    return held["name"]


def _hold_photo(form: ProposalForm) -> str | None:
    """The photo chosen for this form: a new file (checked, then held), or the one held
    from an earlier attempt. The form carries a signed reference to it, so that if the page
    comes back with a mistake the photo need not be chosen again. Raises ProposalError."""
    chosen = form.photo.data and not form.photo.errors
    name = hold_photo(form.photo.data, current_user.id) if chosen else _held_name(form.kept_photo.data)
    form.kept_photo.data = _photo_token().dumps({"name": name, "user": current_user.id}) if name else ""
    form.photo_held = bool(name)
    return name


def _hold_photo_for_next_attempt(form: ProposalForm) -> None:
    """The form comes back (a mistake, or a line added): keep its photo, or say what is wrong with it."""
    try:
        _hold_photo(form)
    except services.ProposalError as error:
        form.photo.errors = [*form.photo.errors, str(error)]


def _form_again(form, round_, proposal):
    """The form shown again after a POST: 400 with its mistakes, or 200 with a line added.
    Its photo is held only while the proposal could still be saved (not once voting opens)."""
    if not round_.is_frozen:
        _hold_photo_for_next_attempt(form)
    return form_page("proposals/form.html", form, round=round_, proposal=proposal, max_cost_lines=MAX_COST_LINES)


def _save(form, round_, proposal, template):
    db = db_session()
    content = _content(form)
    try:
        content.photo = _hold_photo(form)
        if proposal is None:
            # The choice was checked against the person's groups (organisations are never deleted).
            organisation = db.get_one(Organisation, form.organisation.data)
            proposal = services.create_proposal(
                db, round_, actor=current_user, organisation=organisation, content=content
            )
        else:
            services.update_proposal(db, proposal, actor=current_user, content=content)
        # "Submit" on a proposal already waiting for screening (or sent back to it by
        # this edit) saves the edits: it is submitted as it now stands.
        if request.form.get("action") == "submit" and proposal.status in (Status.DRAFT.value, Status.RETURNED.value):
            services.submit_proposal(db, proposal, actor=current_user)
    except (services.ProposalError, Refusal) as error:
        # A photo that was fine stays held (the form carries it) for the next attempt.
        return show_refusal(error, template, form, round=round_, proposal=proposal, max_cost_lines=MAX_COST_LINES)
    if content.photo:
        adopt_photo(content.photo)
    if proposal.status == Status.SUBMITTED.value:
        flash(_("Your proposal has been submitted. The round's screeners will look at it."), "success")
    else:
        flash(_("Your proposal has been saved. Submit it before the deadline."), "success")
    return redirect(url_for("proposals.show", proposal_id=proposal.id))


@bp.route("/rounds/<int:round_id>/proposals/new", methods=["GET", "POST"])
@role_required(Role.GROUP_MEMBER)
def new(round_id):
    round_, _access = load_round(round_id)
    db = db_session()
    form = _build_form(db, round_, None)
    if _adding_a_line(form):
        return _form_again(form, round_, None)
    if form.validate_on_submit():
        return _save(form, round_, None, "proposals/form.html")
    if request.method == "POST":
        return _form_again(form, round_, None)
    return form_page("proposals/form.html", form, round=round_, proposal=None, max_cost_lines=MAX_COST_LINES)


@bp.route("/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(proposal_id):
    proposal, round_ = load_proposal_as_group(proposal_id)
    form = _build_form(db_session(), round_, proposal)
    if _adding_a_line(form):
        return _form_again(form, round_, proposal)
    if form.validate_on_submit():
        return _save(form, round_, proposal, "proposals/form.html")
    if request.method == "POST":
        return _form_again(form, round_, proposal)
    return form_page("proposals/form.html", form, round=round_, proposal=proposal, max_cost_lines=MAX_COST_LINES)


@bp.route("/proposals/<int:proposal_id>/withdraw")
@login_required
def confirm_withdraw(proposal_id):
    """Withdrawing is asked first (a page of its own: it works without JavaScript)."""
    proposal, round_ = load_proposal_as_group(proposal_id)
    return render_template("proposals/withdraw.html", proposal=proposal, round=round_)


STATUS_CHANGES = {
    "submit": (services.submit_proposal, _l("Your proposal has been submitted.")),
    "withdraw": (
        services.withdraw_proposal,
        _l("Your proposal has been withdrawn. You can undo this until the deadline for proposals."),
    ),
    "restore": (
        services.restore_proposal,
        _l("Your proposal is back as a draft: check it and submit it again before the deadline."),
    ),
}


@bp.route("/proposals/<int:proposal_id>/<any(submit, withdraw, restore):action>", methods=["POST"])
@login_required
def change_status(proposal_id, action):
    proposal, round_ = load_proposal_as_group(proposal_id)
    operation, done = STATUS_CHANGES[action]
    try:
        operation(db_session(), proposal, actor=current_user)
    except (services.ProposalError, Refusal) as error:
        flash(str(error), "error")
        refuse((redirect(url_for("proposals.show", proposal_id=proposal.id)), 303), error)
    if action == "withdraw" and round_.phase != Phase.PROPOSALS_OPEN.value:
        done = _l("Your proposal has been withdrawn.")  # past the deadline: for good
    flash(str(done), "success")
    return redirect(url_for("proposals.show", proposal_id=proposal.id))


# ---------------------------------------------------------------- screening


@bp.route("/rounds/<int:round_id>/screening")
@login_required
def screening(round_id):
    round_ = load_round_as_screener(round_id)
    db = db_session()
    proposals = db.exec(
        select(Proposal)
        .where(Proposal.round_id == round_.id, Proposal.status != Status.DRAFT.value)
        .order_by(Proposal.status, col(Proposal.id))
    ).all()
    return render_template("proposals/screening.html", round=round_, proposals=proposals)


@bp.route("/proposals/<int:proposal_id>/screen", methods=["GET", "POST"])
@login_required
def screen(proposal_id):
    proposal, round_ = load_proposal_as_screener(proposal_id)
    form = ScreeningForm()
    if form.validate_on_submit():
        try:
            services.screen_proposal(
                db_session(), proposal, actor=current_user, decision=form.decision.data, reason=form.reason.data or ""
            )
        except (services.ProposalError, Refusal) as error:
            return show_refusal(error, "proposals/screen.html", form, round=round_, proposal=proposal)
        flash(_("Your decision on “%(title)s” has been recorded.", title=proposal.title), "success")
        return redirect(url_for("proposals.screening", round_id=round_.id))
    return form_page("proposals/screen.html", form, round=round_, proposal=proposal)


@bp.route("/rounds/<int:round_id>/screeners", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def screeners(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    db = db_session()
    form = ScreenerForm()
    if form.validate_on_submit():
        user = account_named_in(form.email)
        if user is not None:
            try:
                services.appoint_screener(db, round_, actor=current_user, user=user)
            except (services.ProposalError, Refusal) as error:
                return show_refusal(error, "proposals/screeners.html", form, round=round_, current=[])
            flash(_("%(name)s can now screen this round's proposals.", name=user.name), "success")
            return redirect(url_for("proposals.screeners", round_id=round_.id))
    current = db.exec(
        select(User).join(Screener, col(Screener.user_id) == col(User.id)).where(Screener.round_id == round_.id)
    ).all()
    return form_page("proposals/screeners.html", form, round=round_, current=current)
