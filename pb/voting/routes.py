"""The resident's journey: prove eligibility, fill in each ballot paper, review, cast, receipt.
Also the leads' tools: voting codes and letters, polling helpers, paper ballot entry."""

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlmodel import select

from pb.db import db_session, reads_first
from pb.equality.services import has_answered
from pb.links import public_url
from pb.mail import EMAIL, SMS, send_mail, send_sms, text_messages_available
from pb.refusal import Refusal
from pb.results.models import RoundTurnout
from pb.rounds.access import load_round, load_round_as_officer
from pb.rounds.models import ELIGIBILITY_SHORT, Area, Contest, EligibilityMethod, Phase, Round
from pb.rounds.services import areas_of, contest_budgets
from pb.throttle import client_address
from pb.views import account_named_in, csv_download, form_page, refuse, show_refusal
from pb.voting import services
from pb.voting.access import load_contest_as_voter, load_round_as_helper, load_voting_round
from pb.voting.declarations import count_declarations
from pb.voting.forms import (
    CancelLetterForm,
    CodeBatchForm,
    CodeForm,
    EmailCodeForm,
    EmailForm,
    ExportForm,
    HelperForm,
    SmsCodeForm,
    SmsForm,
    ballot_form,
    choices_from,
    declaration_form,
)
from pb.voting.models import Ballot, BallotChoice, Channel, EmailChallenge, Voter
from pb.voting.turnout import round_turnout

bp = Blueprint("voting", __name__)


# ---------------------------------------------------------------- the voter in this browser


def _state(round_id: int):
    """This browser's voting in the round, held on the server (pb.voting.models.VotingSession),
    or None. The cookie holds only a random reference to it."""
    if "pb_voting_state" not in g:
        g.pb_voting_state = services.voting_session(db_session(), session.get("voting"), round_id, current_user)
    state = g.pb_voting_state
    return state if state is not None and state.round_id == round_id else None


def current_voter(round_: Round) -> Voter | None:
    state = _state(round_.id)
    return db_session().get(Voter, state.voter_id) if state else None


def _start_voting(round_: Round, voter: Voter, channel: Channel = Channel.ONLINE, challenge: int | None = None):
    db = db_session()
    services.end_voting_session(db, session.get("voting"))
    helper = current_user if channel == Channel.PAPER else None
    session["voting"] = services.start_voting_session(db, voter, channel=channel, helper=helper, challenge_id=challenge)
    g.pop("pb_voting_state", None)
    return redirect(url_for("voting.ballots", round_id=round_.id))


def _ballots_shown(round_id: int, voter: Voter) -> dict:
    """The voter's current ballots that this browser may see (see VotingSession.own_ballots)."""
    return services.ballots_seen_by(db_session(), _state(round_id), voter)


def _on_paper(round_id: int) -> bool:
    state = _state(round_id)
    return state is not None and state.channel == Channel.PAPER.value


def _voter_or_start(round_: Round) -> Voter:
    voter = current_voter(round_)
    if voter is None:
        abort(redirect(url_for("voting.start", round_id=round_.id)))
    return voter


# ---------------------------------------------------------------- proving eligibility


def _start_page(round_, status=200, **forms):
    context = {
        "round": round_,
        # ?code= is how letters printed before the fragment (see qr_link) carried the code.
        "code_form": forms.get("code_form") or CodeForm(formdata=None, code=request.args.get("code", "")),
        "email_form": forms.get("email_form") or EmailForm(formdata=None),
        "sms_form": forms.get("sms_form") or SmsForm(formdata=None),
        "declaration_form": forms.get("declaration_form") or declaration_form(round_, formdata=None),
        # Text messages only while they can be sent (GOV.UK Notify set up, or development).
        "methods": [
            m for m in round_.methods if m != EligibilityMethod.SMS or text_messages_available(current_app.config)
        ],
        "refusal": forms.get("refusal"),
    }
    return render_template("voting/start.html", **context), status


@bp.route("/rounds/<int:round_id>/vote")
def start(round_id):
    round_ = load_voting_round(round_id)
    return _start_page(round_)


def _refused(round_, error, **forms):
    refuse(_start_page(round_, getattr(error, "status", 400), refusal=str(error), **forms), error)


@bp.route("/rounds/<int:round_id>/vote/code", methods=["POST"])
def with_code(round_id):
    round_ = load_voting_round(round_id)
    form = CodeForm()
    if not form.validate_on_submit():
        return _start_page(round_, 400, code_form=form)
    try:
        voter = services.voter_by_code(db_session(), round_, form.code.data, client=client_address())
    except services.VotingError as error:
        return _refused(round_, error, code_form=form)
    return _start_voting(round_, voter)


@bp.route("/rounds/<int:round_id>/vote/declare", methods=["POST"])
def with_declaration(round_id):
    round_ = load_voting_round(round_id)
    form = declaration_form(round_)
    if not form.validate_on_submit():
        return _start_page(round_, 400, declaration_form=form)
    declared = services.Declared(
        postcode=form.postcode.data,
        name=form["name"].data if "name" in form else "",
        address=form["address"].data if "address" in form else "",
        birth_year=form["birth_year"].data if "birth_year" in form else None,
    )
    try:
        voter = services.voter_by_declaration(db_session(), round_, declared, client=client_address())
    except services.VotingError as error:
        return _refused(round_, error, declaration_form=form)
    return _start_voting(round_, voter)


@bp.route("/rounds/<int:round_id>/vote/email", methods=["POST"])
def with_email(round_id):
    round_ = load_voting_round(round_id)
    form = EmailForm()
    if not form.validate_on_submit():
        return _start_page(round_, 400, email_form=form)
    try:
        challenge, code = services.start_email_challenge(
            db_session(), round_, email=form.email.data, postcode=form.postcode.data, client=client_address()
        )
    except services.VotingError as error:
        return _refused(round_, error, email_form=form)
    send_mail(
        challenge.email,
        _("Your code to vote in %(round)s", round=round_.title),
        services.code_email_body(code),
    )
    session["email_challenge"] = challenge.id
    return redirect(url_for("voting.email_code", round_id=round_.id))


@bp.route("/rounds/<int:round_id>/vote/sms", methods=["POST"])
def with_sms(round_id):
    round_ = load_voting_round(round_id)
    form = SmsForm()
    if not form.validate_on_submit():
        return _start_page(round_, 400, sms_form=form)
    try:
        challenge, code = services.start_sms_challenge(
            db_session(), round_, mobile=form.mobile.data, postcode=form.postcode.data, client=client_address()
        )
    except services.VotingError as error:
        return _refused(round_, error, sms_form=form)
    send_sms(challenge.email, services.code_text_body(code))
    session["sms_challenge"] = challenge.id
    return redirect(url_for("voting.sms_code", round_id=round_.id))


@bp.route("/rounds/<int:round_id>/vote/email/code", methods=["GET", "POST"])
def email_code(round_id):
    return _code_page(round_id, EMAIL)


@bp.route("/rounds/<int:round_id>/vote/sms/code", methods=["GET", "POST"])
def sms_code(round_id):
    return _code_page(round_id, SMS)


def _code_page(round_id: int, channel: str):
    """Where a resident types the code sent to their email address or mobile."""
    round_ = load_voting_round(round_id)
    form = SmsCodeForm() if channel == SMS else EmailCodeForm()
    template = "voting/sms_code.html" if channel == SMS else "voting/email_code.html"
    key = f"{channel}_challenge"
    if form.validate_on_submit():
        challenge_id = session.get(key)
        try:
            voter = services.voter_by_email_code(
                db_session(), round_, challenge_id, form.code.data, client=client_address(), channel=channel
            )
        except services.VotingError as error:
            return show_refusal(error, template, form, round=round_)
        session.pop(key, None)
        # A receipt is emailed to those who proved an address; never texted (each text costs).
        return _start_voting(round_, voter, challenge=challenge_id if channel == EMAIL else None)
    return form_page(template, form, round=round_)


# ---------------------------------------------------------------- ballots


@bp.route("/rounds/<int:round_id>/vote/ballots")
def ballots(round_id):
    round_ = load_voting_round(round_id)
    voter = _voter_or_start(round_)
    db = db_session()
    return render_template(
        "voting/ballots.html",
        round=round_,
        contests=services.contests_for(db, voter),
        cast=_ballots_shown(round_.id, voter),
        paper=_on_paper(round_.id),
    )


def _ballot_context(round_, voter, contest, form, **extra):
    db = db_session()
    paper = services.paper_of(db, contest)
    projects = paper.projects  # in the order drawn when voting opened
    limited = {limit.category_id: limit.category for limit in paper.limits}  # each project's, shown beside it
    return dict(
        round=round_,
        contest=contest,
        form=form,
        projects=projects,
        drawn=paper.drawn,
        limits=paper.limits,
        limited={pid: limited[cid] for pid, cid in paper.categories.items() if cid in limited},
        budget=contest_budgets(db, round_).get(contest.id, 0),
        area=db.get(Area, contest.area_id) if contest.area_id else None,
        paper=_on_paper(round_.id),
        **extra,
    )


@bp.route("/rounds/<int:round_id>/vote/<int:contest_id>", methods=["GET", "POST"])
@reads_first
def ballot(round_id, contest_id):
    submission = services.clean_submission(request.form.get("submission"))
    if request.method == "POST" and "confirm" in request.form and "change" not in request.form:
        repeated = _repeated(round_id, submission)
        if repeated is not None:
            return repeated
        cast = _cast(round_id, contest_id, submission)
        if cast is not None:
            return cast
    round_ = load_voting_round(round_id)
    voter = _voter_or_start(round_)
    contest = load_contest_as_voter(round_, voter, contest_id)
    db = db_session()
    projects = services.projects_for(db, contest)
    form = ballot_form(contest, projects, formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        previous = _ballots_shown(round_.id, voter).get(contest.id)
        if previous is not None:
            _fill(form, contest, db, previous)
        return render_template("voting/ballot.html", **_ballot_context(round_, voter, contest, form))
    if not form.validate_on_submit():
        return render_template("voting/ballot.html", **_ballot_context(round_, voter, contest, form)), 400
    try:
        choices = choices_from(form, contest, projects)
        if "confirm" not in request.form or "change" in request.form:
            services.validate_choices(db, contest, choices)
            template = "voting/ballot.html" if "change" in request.form else "voting/review.html"
            return render_template(
                template,
                choices=choices,
                submission=services.new_submission(),
                **_ballot_context(round_, voter, contest, form),
            )
        state = _state(round_.id)
        cast = services.cast_ballot(
            db,
            voter,
            contest,
            choices,
            channel=Channel(state.channel),
            submission=submission,
            entered_by=state.helper_user_id,
        )
    except services.VotingError as error:
        refuse(
            (
                render_template(
                    "voting/ballot.html", refusal=str(error), **_ballot_context(round_, voter, contest, form)
                ),
                getattr(error, "status", 400),
            ),
            error,
        )
    services.note_own_ballot(db, state, cast)
    _email_receipt(round_.id, contest, cast)
    return _show_receipt(round_.id, cast.receipt)


def _repeated(round_id: int, submission: str | None):
    """The same confirmation sent again (double tap, back button, a retry after a
    timeout): show the receipt of the ballot it already cast, even once voting has closed."""
    state = _state(round_id) if submission else None
    if state is None:
        return None
    earlier = services.ballot_for_submission(db_session(), state.voter_id, submission)
    if earlier is None:
        return None
    if not earlier.is_current:
        # An old review page sent again: that ballot was replaced, so show the one that counts,
        # if this browser may see it (a declared identity shows only its session's ballots).
        voter = Voter(id=state.voter_id, round_id=round_id, method="", identity="")
        current = services.ballots_seen_by(db_session(), state, voter).get(earlier.contest_id)
        if current is None:  # replaced by someone else declaring the same details: nothing of theirs
            flash(_("That vote was already sent. Your ballot papers are below."), "info")
            return redirect(url_for("voting.ballots", round_id=round_id))
        earlier = current
        flash(
            _("That ballot was replaced by a later one you cast. This is the receipt of your ballot that counts."),
            "info",
        )
    return _show_receipt(round_id, earlier.receipt)


def _cast(round_id: int, contest_id: int, submission: str | None):
    """Casting, the hot path: only what casting needs (the frozen ballot paper is kept
    by the worker). Returns None to let the full page explain any problem."""
    state = _state(round_id)
    if state is None:
        return None
    db = db_session()
    paper = services.ballot_paper(db, contest_id)
    if paper is None or paper.contest.round_id != round_id or paper.contest.area_id not in (None, state.area_id):
        return None
    form = ballot_form(paper.contest, paper.projects, formdata=request.form)
    if not form.validate_on_submit():
        return None
    voter = Voter(id=state.voter_id, round_id=round_id, area_id=state.area_id, method="", identity="")
    try:
        choices = choices_from(form, paper.contest, paper.projects)
        cast = services.cast_ballot(
            db,
            voter,
            paper.contest,
            choices,
            channel=Channel(state.channel),
            submission=submission,
            entered_by=state.helper_user_id,
        )
    except services.VotingError:
        return None  # nothing is written yet; the full page shows why (and undoes the request)
    services.note_own_ballot(db, state, cast)
    _email_receipt(round_id, paper.contest, cast)
    return _show_receipt(round_id, cast.receipt)


def _fill(form, contest, db, ballot: Ballot) -> None:
    chosen = db.exec(select(BallotChoice).where(BallotChoice.ballot_id == ballot.id)).all()
    if contest.ballot_kind == "approval":
        form.project.data = [str(c.project_id) for c in chosen]
    elif contest.ballot_kind == "points":
        for choice in chosen:
            getattr(form, f"points_{choice.project_id}").data = str(choice.points)
    else:
        for choice in chosen:
            getattr(form, f"rank_{choice.project_id}").data = str(choice.rank)


def _email_receipt(round_id: int, contest: Contest, cast: Ballot) -> None:
    state = _state(round_id)
    challenge_id = state.challenge_id if state else None
    if not challenge_id:
        return
    challenge = db_session().get(EmailChallenge, challenge_id)
    if challenge is None:
        return
    round_ = db_session().get_one(Round, round_id)
    send_mail(
        challenge.email,
        _("Your vote in %(round)s", round=round_.title),
        _(
            "Thank you for voting on “%(contest)s”. Your receipt code is %(receipt)s.\n\n"
            "Keep it: when the results are published you can check that your ballot was counted.",
            contest=contest.name,
            receipt=cast.receipt,
        ),
    )


def _show_receipt(round_id: int, receipt: str):
    """Off to the receipt page. The receipt travels in this browser's session, never in a
    URL (which proxies and servers write to their logs beside the client's address)."""
    session["receipt"] = receipt
    return redirect(url_for("voting.receipt", round_id=round_id))


@bp.route("/rounds/<int:round_id>/vote/receipt")
def receipt(round_id):
    round_, _access = load_round(round_id)
    voter = current_voter(round_)
    cast = services.ballot_by_receipt(db_session(), session.get("receipt") or "")
    if voter is None or cast is None or cast.voter_id != voter.id:
        abort(404)
    contest = db_session().get(Contest, cast.contest_id)
    shown = _ballots_shown(round_.id, voter)
    remaining = [c for c in services.contests_for(db_session(), voter) if c.id not in shown]
    state = _state(round_.id)
    return render_template(
        "voting/receipt.html",
        round=round_,
        contest=contest,
        ballot=cast,
        remaining=remaining,
        paper=_on_paper(round_.id),
        emailed=bool(state and state.challenge_id),
        ask_equality=_asks_equality(round_, voter),
    )


def _asks_equality(round_: Round, voter: Voter) -> bool:
    """Whether the receipt offers the optional equality questions (pb.equality): not to a
    polling helper, nor to a voter who has answered them."""
    return (
        round_.equality_monitoring
        and round_.phase == Phase.VOTING.value
        and not _on_paper(round_.id)
        and not has_answered(db_session(), round_, voter.id)
    )


@bp.route("/rounds/<int:round_id>/vote/finish", methods=["POST"])
def finish(round_id):
    services.end_voting_session(db_session(), session.pop("voting", None))  # ended on the server, not only here
    flash(_("Thank you for voting."), "success")
    return redirect(url_for("rounds.show", round_id=round_id))


# ---------------------------------------------------------------- leads' and helpers' tools


def _code_figures(db, round_: Round) -> list[dict]:
    """Each batch's figures: live until the count, then those taken at the count (the
    results show the same), since publication rewrites what each code records."""
    if round_.reached(Phase.COUNTED):
        taken = db.exec(select(RoundTurnout.codes).where(RoundTurnout.round_id == round_.id)).first()
        if taken is not None:
            return json.loads(taken)
    return services.code_figures(db, round_)


@bp.route("/rounds/<int:round_id>/codes", methods=["GET", "POST"])
@login_required
def codes(round_id):
    """The returning officer's page: make codes and print their letters (shown once), and
    see every batch made so far (counts only)."""
    round_ = load_round_as_officer(round_id)
    db = db_session()
    form = CodeBatchForm()
    form.area.choices = [(0, _("Everyone in the round (no area)"))] + [(a.id, a.name) for a in areas_of(db, round_)]
    context = {
        "round": round_,
        "batches": _code_figures(db, round_),
        "areas": {a.id: a for a in areas_of(db, round_)},
        "cancel_form": CancelLetterForm(formdata=None),
    }
    if form.validate_on_submit():
        area = db.get(Area, form.area.data) if form.area.data else None
        try:
            made = services.generate_codes(db, round_, actor=current_user, area=area, count=form.count.data)
        except (services.VotingError, Refusal) as error:
            return show_refusal(error, "voting/codes.html", form, **context)
        letters = [(code, letter, _qr_svg(round_, code)) for code, letter in made]
        response = make_response(render_template("voting/letters.html", round=round_, area=area, letters=letters))
        response.headers["Cache-Control"] = "no-store"  # the codes exist nowhere else
        return response
    return form_page("voting/codes.html", form, **context)


@bp.route("/rounds/<int:round_id>/turnout")
@login_required
def turnout(round_id):
    """How many people have voted so far, by area and eligibility method, for the round's
    leads (convening and partner anchors) and its returning officer: voters, never votes.
    Once counted, the voters whose ballots were counted (as published)."""
    round_ = load_round_as_officer(round_id, or_funders=True)
    return render_template(
        "voting/turnout.html",
        round=round_,
        turnout=round_turnout(db_session(), round_),
        counted=round_.reached(Phase.COUNTED),
        short_methods=ELIGIBILITY_SHORT,
    )


@bp.route("/rounds/<int:round_id>/codes/cancel", methods=["POST"])
@login_required
def cancel_letter(round_id):
    """The returning officer cancels a lost letter's code by its reference."""
    round_ = load_round_as_officer(round_id)
    form = CancelLetterForm()
    if form.validate_on_submit():
        try:
            services.cancel_letter(db_session(), round_, actor=current_user, letter=form.letter.data)
        except services.VotingError as error:
            flash(str(error), "error")
            refuse(redirect(url_for("voting.codes", round_id=round_.id), 303), error)
        flash(
            _(
                "Letter %(letter)s is cancelled: its code no longer works. Make a replacement code for the resident.",
                letter=form.letter.data.strip(),
            ),
            "success",
        )
    else:
        flash(_("Enter the reference printed under the code, like 3-0042."), "error")
    return redirect(url_for("voting.codes", round_id=round_.id)), 303


@bp.route("/rounds/<int:round_id>/declarations", methods=["GET", "POST"])
@login_required
def declarations(round_id):
    """The returning officer's copy of what residents declared (declared identity), to
    check against the electoral register; deleted when the results are published."""
    round_ = load_round_as_officer(round_id)
    db = db_session()
    form = ExportForm()
    if form.validate_on_submit():
        try:
            rows = services.export_declarations(db, round_, actor=current_user)
        except services.VotingError as error:
            return show_refusal(error, "voting/declarations.html", form, round=round_, count=0)
        return csv_download(
            f"round-{round_.id}-declarations.csv",
            [_("Name"), _("First line of the address"), _("Postcode"), _("Year of birth"), _("Area"), _("Voted")],
            [
                [
                    r["name"],
                    r["address"],
                    r["postcode"],
                    r["birth_year"] or "",
                    r["area"],
                    _("yes") if r["voted"] else _("no"),
                ]
                for r in rows
            ],
        )
    return form_page("voting/declarations.html", form, round=round_, count=count_declarations(db, round_))


def qr_link(round_: Round, code: str) -> str:
    """Where a letter's QR code leads: the code goes in the fragment, which the browser
    keeps to itself (static/vote-start.js fills it in), never in a query string that
    servers and proxies write to their logs."""
    return public_url("voting.start", round_id=round_.id) + "#code=" + code


def _qr_svg(round_: Round, code: str) -> str:
    import io

    import segno

    link = qr_link(round_, code)
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=3, xmldecl=False, svgns=True, title=_("QR code to vote"))
    return out.getvalue().decode()


@bp.route("/rounds/<int:round_id>/helpers", methods=["GET", "POST"])
@login_required
def helpers(round_id):
    round_ = load_round_as_officer(round_id)
    db = db_session()
    form = HelperForm()
    if form.validate_on_submit():
        user = account_named_in(form.email)
        if user is not None:
            try:
                services.appoint_helper(db, round_, actor=current_user, user=user)
            except services.VotingError as error:
                return show_refusal(error, "voting/helpers.html", form, round=round_)
            flash(_("%(name)s can now enter paper ballots for this round.", name=user.name), "success")
            return redirect(url_for("voting.helpers", round_id=round_.id))
    return form_page("voting/helpers.html", form, round=round_)


@bp.route("/rounds/<int:round_id>/paper", methods=["GET", "POST"])
@login_required
def paper(round_id):
    """A polling helper enters one paper ballot: first its voting code, then each ballot paper."""
    round_ = load_round_as_helper(round_id)
    db = db_session()
    if request.method == "GET":
        services.end_voting_session(db, session.pop("voting", None))  # the last paper ballot is finished
    form = CodeForm()
    if form.validate_on_submit():
        try:
            voter = services.voter_by_code(
                db, round_, form.code.data, client=client_address(), method=EligibilityMethod.PAPER
            )
        except services.VotingError as error:
            return show_refusal(error, "voting/paper.html", form, round=round_)
        return _start_voting(round_, voter, Channel.PAPER)
    return form_page("voting/paper.html", form, round=round_)
