"""Pages for anchor leads setting up rounds, and the public round pages."""

from datetime import UTC

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import to_user_timezone, to_utc
from flask_login import current_user, login_required
from sqlmodel import col, select

from pb import lifecycle
from pb.accounts.models import Organisation, OrganisationKind, Role, User
from pb.accounts.permissions import role_required
from pb.accounts.services import organisations_of
from pb.audit.models import WitnessedHead, chain_key
from pb.db import db_session
from pb.proposals.services import unscreened_proposals
from pb.refusal import Refusal
from pb.rounds import services
from pb.rounds.access import Access, load_pot_as_pledger, load_round, load_round_as_officer, my_organisation_ids
from pb.rounds.forms import (
    AreaForm,
    ConfirmForm,
    ContestForm,
    DeleteForm,
    HelpForm,
    OfficerForm,
    PartnerForm,
    PotForm,
    RaisePotForm,
    RoundForm,
    SuspensionForm,
    TimelineForm,
    limits_form,
)
from pb.rounds.freeze import guard_unfrozen
from pb.rounds.help import help_of, set_help
from pb.rounds.limits import limits_of, set_limits
from pb.rounds.models import (
    PHASE_LABELS,
    PHASES,
    POINTS_MAX,
    POINTS_TOTAL,
    Area,
    Category,
    Contest,
    Partner,
    Phase,
    Round,
    VotingPlace,
)
from pb.views import account_named_in, form_page, refuse, show_refusal

bp = Blueprint("rounds", __name__, url_prefix="/rounds")

TIMELINE = ["proposals_open_at", "screening_at", "voting_opens_at", "voting_closes_at", "results_at"]


# ---------------------------------------------------------------- public pages


@bp.route("/")
def index():
    session = db_session()
    rounds = session.exec(
        select(Round).where(Round.phase != Phase.DRAFT.value).order_by(col(Round.created_at).desc())
    ).all()
    return render_template("rounds/index.html", rounds=rounds)


def timeline_of(session, round_):
    """Each phase with when it really began, once reached, or when it is planned to."""
    started = services.phases_started(session, round_)
    return [
        (phase, PHASE_LABELS[phase], started.get(phase) if round_.reached(phase) else getattr(round_, key))
        for key, phase in services.TIMELINE_PHASES.items()
    ]


def round_context(session, round_):
    contests = services.contests_of(session, round_)
    areas = {area.id: area for area in services.areas_of(session, round_)}
    return {
        "round": round_,
        "convener": session.get(Organisation, round_.convening_organisation_id),
        "contests": contests,
        "areas": areas,
        "budgets": services.contest_budgets(session, round_),
        "limits": {contest.id: limits_of(session, contest.id) for contest in contests},
        "pots": services.pots_of(session, round_),
        "categories": services.names_of(session, round_, services.Category, "name"),
        "objectives": services.names_of(session, round_, services.CharterObjective, "title"),
        "timeline": timeline_of(session, round_),
        "phase_index": PHASES.index(Phase(round_.phase)),
        "phases": PHASES,
        "officer": session.get(User, round_.returning_officer_id) if round_.returning_officer_id else None,
        "is_officer": services.is_returning_officer(session, round_, current_user),
    }


@bp.route("/<int:round_id>")
def show(round_id):
    round_, access = load_round(round_id)
    session = db_session()
    witnessed = session.exec(
        select(WitnessedHead).where(WitnessedHead.chain == chain_key(round_.id)).order_by(col(WitnessedHead.id).desc())
    ).all()
    return render_template(
        "rounds/show.html",
        access=access,
        witnessed=witnessed,
        phase_labels={phase.value: label for phase, label in PHASE_LABELS.items()},
        **round_context(session, round_),
    )


@bp.route("/<int:round_id>/help")
def help(round_id):
    """Whom to ask, the questions residents ask most, and where to vote on paper."""
    round_, _access = load_round(round_id)
    return render_template("rounds/help.html", round=round_, help=help_of(db_session(), round_))


# ---------------------------------------------------------------- setting up


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def new():
    session = db_session()
    anchors = organisations_of(session, current_user, OrganisationKind.ANCHOR)
    form = RoundForm(methods=["codes"], declares=["name", "address"])
    form.organisation.choices = [(org.id, org.name) for org in anchors]
    if form.validate_on_submit():
        # The choice was checked against the anchors just read (organisations are never deleted).
        organisation = session.get_one(Organisation, form.organisation.data)
        try:
            round_ = services.create_round(
                session,
                actor=current_user,
                organisation=organisation,
                title=form.title.data,
                purpose=form.purpose.data or "",
                eligibility=form.eligibility.data or "",
                minimum_age=form.minimum_age.data,
                categories=form.categories.data,
                objectives=form.objectives.data,
                methods=form.methods.data,
                declares=form.declares.data,
                max_project_cost=form.max_project_cost.data,
                currency=form.currency.data,
            )
        except services.RoundError as error:
            return show_refusal(error, "rounds/round_form.html", form, round=None)
        flash(
            _("The round has been created as a draft. Only your organisation and its partners can see it."), "success"
        )
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/round_form.html", form, round=None)


@bp.route("/<int:round_id>/manage")
@role_required(Role.ANCHOR_LEAD)
def manage(round_id):
    round_, access = load_round(round_id, Access.FUNDER)
    session = db_session()
    return render_template(
        "rounds/manage.html",
        access=access,
        blockers=lifecycle.voting_blockers(session, round_) if not round_.is_frozen else [],
        publishing_blockers=lifecycle.publishing_blockers(session, round_) if round_.phase == Phase.DRAFT.value else [],
        following=lifecycle.following_phase(round_),
        partners=session.exec(
            select(Organisation)
            .join(Partner, col(Partner.organisation_id) == col(Organisation.id))
            .where(Partner.round_id == round_.id)
        ).all(),
        my_organisations=my_organisation_ids(session),
        **round_context(session, round_),
    )


@bp.route("/<int:round_id>/edit", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def edit(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    form = RoundForm(obj=round_ if request.method == "GET" else None)
    del form.organisation
    if request.method == "GET":
        form.methods.data = [m.value for m in round_.methods]
        form.declares.data = [f.value for f in round_.declares]
        form.categories.data = services.names_of(session, round_, services.Category, "name")
        form.objectives.data = services.names_of(session, round_, services.CharterObjective, "title")
    if form.validate_on_submit():
        try:
            services.update_round(
                session,
                round_,
                actor=current_user,
                title=form.title.data,
                purpose=form.purpose.data or "",
                eligibility=form.eligibility.data or "",
                minimum_age=form.minimum_age.data,
                categories=form.categories.data,
                objectives=form.objectives.data,
                methods=form.methods.data,
                declares=form.declares.data,
                max_project_cost=form.max_project_cost.data,
                currency=form.currency.data,
            )
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/round_form.html", form, round=round_)
        flash(_("The round has been updated."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/round_form.html", form, round=round_)


@bp.route("/<int:round_id>/timeline", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def timeline(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    form = TimelineForm()
    if request.method == "GET":
        for key in TIMELINE:
            value = getattr(round_, key)
            getattr(form, key).data = to_user_timezone(value).replace(tzinfo=None) if value else None
    if form.validate_on_submit():
        dates = {
            key: to_utc(getattr(form, key).data).replace(tzinfo=UTC) if getattr(form, key).data else None
            for key in TIMELINE
        }
        try:
            services.set_timeline(db_session(), round_, actor=current_user, dates=dates, move_now=form.move_now.data)
        except (services.RoundError, Refusal) as error:
            if not isinstance(error, services.MovesOnNow):
                del form.move_now
            return show_refusal(error, "rounds/timeline.html", form, round=round_)
        flash(_("The timeline has been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    del form.move_now  # asked only when a date has passed
    return form_page("rounds/timeline.html", form, round=round_)


@bp.route("/<int:round_id>/phase", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def next_phase(round_id):
    """Moving a round on by hand: a page that says what the move entails, then the move
    once confirmed (a POST without the confirmation only shows the page)."""
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    following = lifecycle.following_phase(round_)
    form = ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit() or not form.confirm.data:
        blockers = (
            lifecycle.voting_blockers(session, round_)
            if following == Phase.VOTING
            else lifecycle.publishing_blockers(session, round_)
            if following == Phase.PROPOSALS_OPEN
            else []
        )
        unscreened = unscreened_proposals(session, round_) if following == Phase.VOTING else []
        return render_template(
            "rounds/phase.html", round=round_, form=form, following=following, blockers=blockers, unscreened=unscreened
        )
    try:
        phase = lifecycle.move_to_next_phase(session, round_, actor=current_user)
    except (services.RoundError, Refusal) as error:
        flash(str(error), "error")
        refuse((redirect(url_for("rounds.manage", round_id=round_.id)), 303), error)
    flash(_("The round is now in the phase: %(phase)s.", phase=PHASE_LABELS[phase]), "success")
    return redirect(url_for("rounds.manage", round_id=round_.id))


@bp.route("/<int:round_id>/delete", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def delete(round_id):
    """Deleting a draft: a page that says what it does, then the deletion once confirmed
    (a POST without the confirmation only shows the page)."""
    round_, _access = load_round(round_id, Access.CONVENER)
    form = DeleteForm()
    if round_.phase != Phase.DRAFT.value:
        abort(404)
    if request.method == "GET" or not form.validate_on_submit() or not form.confirm.data:
        return form_page("rounds/delete.html", form, round=round_)
    services.delete_draft(db_session(), round_, actor=current_user)
    flash(_("The draft “%(title)s” has been deleted.", title=round_.title), "success")
    return redirect(url_for("accounts.anchor_home"))


@bp.route("/<int:round_id>/suspension", methods=["GET", "POST"])
@login_required
def suspension(round_id):
    """An emergency: the convening lead or the returning officer suspends voting (with a
    reason everyone sees) or resumes it. Nothing is counted or published by either."""
    round_ = load_round_as_officer(round_id, or_convener=True)
    session = db_session()
    form = SuspensionForm()
    if form.validate_on_submit():
        try:
            if round_.suspended_at is None:
                lifecycle.suspend_voting(session, round_, actor=current_user, reason=form.reason.data)
                flash(_("Voting is suspended. The reason is shown on the round's page."), "success")
            else:
                lifecycle.resume_voting(session, round_, actor=current_user)
                flash(_("Voting has resumed."), "success")
        except services.RoundError as error:
            return show_refusal(error, "rounds/suspension.html", form, round=round_)
        return redirect(url_for("rounds.show", round_id=round_.id))
    return form_page("rounds/suspension.html", form, round=round_)


@bp.route("/<int:round_id>/returning-officer", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def returning_officer(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    form = OfficerForm()
    if form.validate_on_submit():
        user = account_named_in(form.email)
        if user is not None:
            try:
                services.appoint_returning_officer(session, round_, actor=current_user, user=user)
            except (services.RoundError, Refusal) as error:
                return show_refusal(error, "rounds/returning_officer.html", form, round=round_)
            flash(_("%(name)s is now the returning officer of this round.", name=user.name), "success")
            return redirect(url_for("rounds.manage", round_id=round_.id))
    officer = session.get(User, round_.returning_officer_id) if round_.returning_officer_id else None
    return form_page("rounds/returning_officer.html", form, round=round_, officer=officer)


def _area_of(round_, area_id):
    area = db_session().get(Area, area_id)
    if area is None or area.round_id != round_.id:
        abort(404)
    return area


@bp.route("/<int:round_id>/areas/new", methods=["GET", "POST"], defaults={"area_id": None})
@bp.route("/<int:round_id>/areas/<int:area_id>", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def area(round_id, area_id):
    """An area's name, postcodes, population and electorate; once voting has opened, its
    population and electorate only (facts about the area, not ballot rules: correctable, audited)."""
    round_, _access = load_round(round_id, Access.CONVENER)
    existing = _area_of(round_, area_id) if area_id else None
    form = AreaForm(obj=existing if request.method == "GET" else None)
    figures_only = existing is not None and round_.is_frozen
    if figures_only:
        del form.name, form.postcodes
    elif request.method == "GET" and existing:
        form.postcodes.data = existing.postcode_list
    if figures_only and request.method == "POST" and {"name", "postcodes"} & set(request.form):
        # The figures' form never sends these: a crafted change to what residents vote on,
        # refused and logged as any change to a frozen round is.
        try:
            guard_unfrozen(db_session(), round_, actor=current_user, attempted="area.updated", detail={"area": area_id})
        except Refusal as error:
            return show_refusal(error, "rounds/area_form.html", form, round=round_, area=existing, figures_only=True)
    if form.validate_on_submit():
        session = db_session()
        figures = {"population": form.population.data, "electorate": form.electorate.data}
        try:
            if figures_only and existing:
                services.correct_area_figures(session, existing, actor=current_user, **figures)
            elif existing:
                services.update_area(
                    session, existing, actor=current_user, name=form.name.data, postcodes=form.postcodes.data, **figures
                )
            else:
                services.add_area(
                    session, round_, actor=current_user, name=form.name.data, postcodes=form.postcodes.data, **figures
                )
        except (services.RoundError, Refusal) as error:
            return show_refusal(
                error, "rounds/area_form.html", form, round=round_, area=existing, figures_only=figures_only
            )
        flash(_("The area has been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/area_form.html", form, round=round_, area=existing, figures_only=figures_only)


@bp.route("/<int:round_id>/contests/new", methods=["GET", "POST"], defaults={"contest_id": None})
@bp.route("/<int:round_id>/contests/<int:contest_id>", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def contest(round_id, contest_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    existing = session.get(Contest, contest_id) if contest_id else None
    if contest_id and (existing is None or existing.round_id != round_.id):
        abort(404)
    form = ContestForm(obj=existing if request.method == "GET" else None)
    form.area.choices = [(0, _("Everyone in the round"))] + [(a.id, a.name) for a in services.areas_of(session, round_)]
    if request.method == "GET" and existing:
        form.area.data = existing.area_id or 0
    if form.validate_on_submit():
        fields = {
            "name": form.name.data.strip(),
            "area_id": form.area.data or None,
            "ballot_kind": form.ballot_kind.data,
            "min_picks": form.min_picks.data,
            "max_picks": form.max_picks.data,
            "limit_to_budget": form.limit_to_budget.data,
            "rank_depth": form.rank_depth.data,
            # Kept as they were (or the defaults) when the ballot is not a points ballot.
            "points_total": form.points_total.data or (existing.points_total if existing else POINTS_TOTAL),
            "points_max": form.points_max.data or (existing.points_max if existing else POINTS_MAX),
            "rule": form.rule.data,
        }
        try:
            if existing:
                services.update_contest(session, existing, actor=current_user, **fields)
            else:
                services.add_contest(session, round_, actor=current_user, **fields)
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/contest_form.html", form, round=round_, contest=existing)
        flash(_("The ballot paper has been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/contest_form.html", form, round=round_, contest=existing)


@bp.route("/<int:round_id>/contests/<int:contest_id>/limits", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def contest_limits(round_id, contest_id):
    """The convening lead's limits per category on an approval ballot paper, until voting opens."""
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    contest = session.get(Contest, contest_id)
    if contest is None or contest.round_id != round_.id:
        abort(404)
    categories = [
        (c.id, c.name)
        for c in session.exec(select(Category).where(col(Category.round_id) == round_.id).order_by(col(Category.name)))
    ]
    form = limits_form(categories, formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        for limit in limits_of(session, contest.id):
            form[f"fewest_{limit.category_id}"].data = limit.min_picks or None
            form[f"most_{limit.category_id}"].data = limit.max_picks
    context = {"round": round_, "contest": contest, "categories": categories}
    if form.validate_on_submit():
        wanted = {cid: (form[f"fewest_{cid}"].data, form[f"most_{cid}"].data) for cid, _name in categories}
        try:
            set_limits(session, contest, actor=current_user, limits=wanted)
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/limits_form.html", form, **context)
        flash(_("The limits of the ballot paper have been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/limits_form.html", form, **context)


@bp.route("/<int:round_id>/partners", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def partners(round_id):
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    taking_part = services.funding_organisation_ids(session, round_)
    form = PartnerForm()
    form.organisation.choices = [
        (org.id, org.name)
        for org in session.exec(
            select(Organisation).where(Organisation.kind == OrganisationKind.ANCHOR.value).order_by(Organisation.name)
        )
        if org.id not in taking_part
    ]
    if form.validate_on_submit():
        # The choice was checked against the anchors just read (organisations are never deleted).
        organisation = session.get_one(Organisation, form.organisation.data)
        try:
            services.invite_partner(session, round_, actor=current_user, organisation=organisation)
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/partner_form.html", form, round=round_)
        flash(_("The anchor has been invited. Its leads can now see this round and pledge money."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/partner_form.html", form, round=round_)


@bp.route("/<int:round_id>/pots/new", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def pledge(round_id):
    round_, _access = load_round(round_id, Access.FUNDER)
    session = db_session()
    funders = services.funding_organisation_ids(session, round_) & my_organisation_ids(session)
    form = PotForm()
    form.amount.currency = round_.currency
    form.organisation.choices = [
        (org.id, org.name) for org in session.exec(select(Organisation).where(col(Organisation.id).in_(funders)))
    ]
    form.contest.choices = [(c.id, c.name) for c in services.contests_of(session, round_)]
    if form.validate_on_submit():
        # Both choices were checked against the rows just read (neither kind is ever deleted).
        organisation = session.get_one(Organisation, form.organisation.data)
        contest = session.get_one(Contest, form.contest.data)
        assert form.amount.data is not None, "DataRequired refuses a form without an amount"
        try:
            services.pledge_pot(
                session,
                round_,
                actor=current_user,
                organisation=organisation,
                contest=contest,
                name=form.name.data,
                amount=form.amount.data,
            )
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/pot_form.html", form, round=round_)
        flash(_("Thank you: the money has been pledged."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/pot_form.html", form, round=round_)


@bp.route("/<int:round_id>/pots/<int:pot_id>", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def raise_pot(round_id, pot_id):
    round_, pot = load_pot_as_pledger(round_id, pot_id)
    session = db_session()
    form = RaisePotForm()
    form.amount.currency = round_.currency
    if request.method == "GET":
        form.amount.data = pot.amount
    if form.validate_on_submit():
        assert form.amount.data is not None, "DataRequired refuses a form without an amount"
        try:
            services.raise_pot(session, pot, actor=current_user, amount=form.amount.data)
        except (services.RoundError, Refusal) as error:
            return show_refusal(error, "rounds/raise_form.html", form, round=round_, pot=pot)
        flash(_("The pledge has been raised."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/raise_form.html", form, round=round_, pot=pot)


@bp.route("/<int:round_id>/help/edit", methods=["GET", "POST"])
@role_required(Role.ANCHOR_LEAD)
def edit_help(round_id):
    """The convening lead's contact, questions and paper-voting places: correctable in any
    phase (they are not what residents vote on), every change audited."""
    round_, _access = load_round(round_id, Access.CONVENER)
    session = db_session()
    form = HelpForm()
    if request.method == "GET":
        current = help_of(session, round_)
        if current.contact:
            for key in ("name", "email", "phone", "address", "hours"):
                getattr(form, f"contact_{key}").data = getattr(current.contact, key)
        for row, question in zip(form.questions.entries, current.questions, strict=False):
            row.form.question.data, row.form.answer.data, row.form.order.data = (
                question.question,
                question.answer,
                question.position,
            )
        places = session.exec(
            select(VotingPlace).where(VotingPlace.round_id == round_.id).order_by(col(VotingPlace.position))
        ).all()
        for row, place in zip(form.places.entries, places, strict=False):
            row.form["name"].data, row.form.address.data, row.form.opening_times.data = (
                place.name,
                place.address,
                place.opening_times,
            )
    if form.validate_on_submit():
        set_help(
            session,
            round_,
            actor=current_user,
            contact={
                key: getattr(form, f"contact_{key}").data for key in ("name", "email", "phone", "address", "hours")
            },
            questions=form.question_values,
            places=form.place_values,
        )
        flash(_("The contact, questions and paper-voting places have been saved."), "success")
        return redirect(url_for("rounds.manage", round_id=round_.id))
    return form_page("rounds/help_form.html", form, round=round_)
