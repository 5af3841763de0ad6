"""Results pages, open data (ballot files, CSV, JSON, receipts), recount instructions and
the receipt check. Nothing here is shown before the results are published."""

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from pb.accounts.models import Role
from pb.accounts.permissions import role_required
from pb.audit.models import chain_key
from pb.db import db_session
from pb.proposals.services import ballot_draw
from pb.results import programs, services
from pb.results.forms import ReceiptForm
from pb.rounds.access import Access, load_round
from pb.rounds.models import ELIGIBILITY_LABELS, ELIGIBILITY_SHORT, Area, Phase
from pb.throttle import client_address, is_limited, note_attempt
from pb.verify.chain import verify_chain
from pb.views import csv_download, form_page, refuse
from pb.voting.turnout import round_turnout

bp = Blueprint("results", __name__)


def _published_round(round_id: int):
    round_, access = load_round(round_id)
    if not round_.reached(Phase.RESULTS_PUBLISHED):
        abort(make_response(render_template("results/not_yet.html", round=round_), 404))
    return round_, access


def _contest_view(round_, contest_id):
    for view in services.contest_views(db_session(), round_):
        if view.contest.id == contest_id:
            return view
    abort(404)


@bp.route("/rounds/<int:round_id>/results")
def index(round_id):
    round_, _access = _published_round(round_id)
    db = db_session()
    areas = {a.id: a.name for a in db.exec(select(Area).where(Area.round_id == round_.id))}
    by_channel: dict[str, int] = {}
    by_method: dict[tuple[str, str], dict[str, int | None]] = {}
    for row in services.turnout(db, round_):
        by_channel[row["channel"]] = by_channel.get(row["channel"], 0) + row["voters"]
        if row.get("method"):  # counted before the method was kept: not shown
            figures = by_method.setdefault((row["method"], row["channel"]), {"voters": 0, "ballots": None})
            figures["voters"] += row["voters"]
            if "ballots" in row:  # counted before ballots were kept per method: voters only
                figures["ballots"] = (figures["ballots"] or 0) + row["ballots"]
    return render_template(
        "results/index.html",
        round=round_,
        views=services.contest_views(db, round_),
        areas=areas,
        turnout=round_turnout(db, round_),
        short_methods=ELIGIBILITY_SHORT,
        by_channel=by_channel,
        by_method=by_method,
        methods=ELIGIBILITY_LABELS,
        codes=services.code_counts(db, round_),
        chain=verify_chain(db, chain_key(round_.id)),
    )


@bp.route("/rounds/<int:round_id>/results/<int:contest_id>")
def contest(round_id, contest_id):
    round_, _access = _published_round(round_id)
    view = _contest_view(round_, contest_id)
    drawn = ballot_draw(db_session(), round_) is not None
    return render_template("results/contest.html", round=round_, view=view, drawn=drawn)


@bp.route("/rounds/<int:round_id>/results/<int:contest_id>/ballots.pb")
def ballot_file(round_id, contest_id):
    round_, _access = _published_round(round_id)
    view = _contest_view(round_, contest_id)
    return _download(view.result.ballot_file, services.ballot_file_name(view), "text/plain")


@bp.route("/rounds/<int:round_id>/results/<int:contest_id>/results.csv")
def results_csv(round_id, contest_id):
    round_, _access = _published_round(round_id)
    view = _contest_view(round_, contest_id)
    selected = set(view.selected)
    return csv_download(
        f"pb-round-{round_.id}-contest-{contest_id}-results.csv",
        ["project_id", "title", "cost", "score", "supporters", "funded"],
        [
            [
                project.id,
                project.title,
                services.pounds(project.cost),
                view.score(project),
                view.supporters(project),
                int(project.id in selected),
            ]
            for project in view.projects
        ],
    )


@bp.route("/rounds/<int:round_id>/results/<int:contest_id>/results.json")
def results_json(round_id, contest_id):
    round_, _access = _published_round(round_id)
    view = _contest_view(round_, contest_id)
    data = {
        "round": round_.id,
        "contest": view.contest.id,
        "name": view.contest.name,
        "rule": view.result.rule,
        "budget": services.pounds(view.budget),
        "ballots": view.result.ballots,
        "ballot_file_sha256": view.result.file_sha256,
        "selected": view.selected,
        "cost": services.pounds(view.used),
        "projects": [
            {
                "project_id": p.id,
                "title": p.title,
                "cost": services.pounds(p.cost),
                "score": view.score(p),
                "supporters": view.supporters(p),
                "funded": p.id in set(view.selected),
            }
            for p in view.projects
        ],
        "explanation": view.outcome["explanation"],
    }
    response = make_response(json.dumps(data, ensure_ascii=False, indent=1))
    response.mimetype = "application/json"
    return response


@bp.route("/rounds/<int:round_id>/results/<int:contest_id>/receipts.txt")
def receipts(round_id, contest_id):
    round_, _access = _published_round(round_id)
    view = _contest_view(round_, contest_id)
    text = services.receipts_text(db_session(), view.contest.id)
    return _download(text, f"pb-round-{round_.id}-contest-{contest_id}-receipts.txt", "text/plain")


def _download(text: str, filename: str, mimetype: str):
    response = make_response(text)
    response.mimetype = mimetype  # text/* types get "; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/rounds/<int:round_id>/results/recount")
def recount_yourself(round_id):
    round_, _access = _published_round(round_id)
    db = db_session()
    views = services.contest_views(db, round_)
    draw = ballot_draw(db, round_)
    return render_template(
        "results/recount.html",
        round=round_,
        views=views,
        programs=programs.for_round(views, services.ballot_file_name),
        draw=json.loads(draw.data) if draw else None,
        draw_seq=draw.seq if draw else None,
        names={view.contest.id: view.contest.name for view in views},
    )


@bp.route("/rounds/<int:round_id>/results/receipt", methods=["GET", "POST"])
def receipt_check(round_id):
    round_, _access = _published_round(round_id)
    form = ReceiptForm()
    status = None
    if form.validate_on_submit():
        db = db_session()
        key = f"receipt:ip:{client_address()}"
        if is_limited(db, key, limit=30, window_seconds=15 * 60):
            return render_template("results/receipt.html", form=form, round=round_, status="limited"), 429
        status = services.receipt_status(db, round_, form.receipt.data)
        if status is None:
            note_attempt(db, key)
            status = "unknown"
    return form_page("results/receipt.html", form, round=round_, status=status)


@bp.route("/rounds/<int:round_id>/recount", methods=["POST"])
@role_required(Role.ANCHOR_LEAD)
def recount(round_id):
    """The convening lead may recount, with the frozen rule only: the same file must result."""
    round_, _access = load_round(round_id, Access.CONVENER)
    rule = request.form.get("rule") or None
    try:
        matches = services.recount(db_session(), round_, actor=current_user, rule=rule)
    except services.CountRefused as error:
        flash(str(error), "error")
        refuse((redirect(url_for("rounds.manage", round_id=round_.id)), 303), error)
    if all(matches):
        flash(_("Recounted: every ballot file and result came out exactly the same."), "success")
    else:
        current_app.logger.error("recount of round %s differs: %s", round_.id, matches)
        flash(_("Recounted: the result differs from the stored one. This has been recorded in the audit log."), "error")
    return redirect(url_for("rounds.manage", round_id=round_.id))
