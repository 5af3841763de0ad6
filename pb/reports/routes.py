"""What happened to the money: a round's integrated report (page, print, CSV), and an
anchor's report across the rounds it convened or funded. Public, like the results."""

import csv
import io

from flask import Blueprint, abort, make_response, render_template

from pb.accounts.models import Organisation, OrganisationKind
from pb.db import db_session
from pb.delivery.models import DELIVERY_LABELS, DeliveryStatus
from pb.reports import services
from pb.results.services import pounds
from pb.rounds.access import load_round

bp = Blueprint("reports", __name__)


def _reported_round(round_id: int):
    round_, _access = load_round(round_id)
    if not services.reportable(round_):
        abort(make_response(render_template("results/not_yet.html", round=round_), 404))
    return round_


@bp.route("/rounds/<int:round_id>/money")
def round_money(round_id):
    round_ = _reported_round(round_id)
    report = services.round_report(db_session(), round_)
    return render_template("reports/round.html", round=round_, report=report, labels=DELIVERY_LABELS, statuses=list(DeliveryStatus))


def _share(fraction) -> str:
    return "" if fraction is None else f"{float(fraction):.4f}"


def _money(amount) -> str:
    return "" if amount is None else pounds(amount)


TOTALS_HEADER = ["section", "name", "pledged", "allocated", "spent", "spent_locally", "local_share",
                 "funded_projects", "delivered_projects", "delivered_allocation"]


def _totals_row(section: str, totals: services.Totals, name: str | None = None) -> list:
    return [section, totals.name if name is None else name, _money(totals.pledged), _money(totals.allocated),
            _money(totals.spent), _money(totals.spent_locally), _share(totals.local_share), totals.funded,
            totals.delivered, _money(totals.delivered_allocation)]


@bp.route("/rounds/<int:round_id>/money.csv")
def round_money_csv(round_id):
    round_ = _reported_round(round_id)
    report = services.round_report(db_session(), round_)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TOTALS_HEADER)
    writer.writerow(_totals_row("round", report.total))
    for section, rows in (("area", report.by_area), ("category", report.by_category), ("objective", report.by_objective)):
        for totals in rows:
            writer.writerow(_totals_row(section, totals))
    for status, totals in report.by_status.items():
        writer.writerow(_totals_row("status", totals, status.value))
    writer.writerow([])
    writer.writerow(["project_id", "title", "group_proposal_id", "area", "category", "objectives", "allocated", "status",
                     "reason", "spent", "spent_locally", "over_allocation", "verdicts_yes", "verdicts_partly", "verdicts_no"])
    for line in report.projects:
        writer.writerow([line.project.id, line.project.title, line.proposal.id, line.area, line.category,
                         "; ".join(line.objectives), pounds(line.project.cost), line.status.value, line.reason,
                         pounds(line.spent), pounds(line.spent_locally), int(line.over_allocation),
                         line.verdicts["yes"], line.verdicts["partly"], line.verdicts["no"]])
    return _download(out.getvalue(), f"pb-round-{round_.id}-money.csv")


def _anchor(organisation_id: int) -> Organisation:
    organisation = db_session().get(Organisation, organisation_id)
    if organisation is None or organisation.kind != OrganisationKind.ANCHOR.value:
        abort(404)
    return organisation


@bp.route("/anchors/<int:organisation_id>/report")
def anchor_report(organisation_id):
    organisation = _anchor(organisation_id)
    rounds = services.anchor_rounds(db_session(), organisation)
    return render_template("reports/anchor.html", organisation=organisation, rounds=rounds, labels=DELIVERY_LABELS)


@bp.route("/anchors/<int:organisation_id>/report.csv")
def anchor_report_csv(organisation_id):
    organisation = _anchor(organisation_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["round_id", "round", "role", "currency", "pledged_by_anchor", "allocated_attributed_to_anchor",
                     *TOTALS_HEADER[2:], "voters", "verdicts_yes", "verdicts_partly", "verdicts_no", "delayed_stalled_cancelled"])
    for row in services.anchor_rounds(db_session(), organisation):
        report = row.report
        writer.writerow([report.round.id, report.round.title, "convener" if row.convened else "partner", report.round.currency,
                         pounds(row.pledged), pounds(row.allocated), *_totals_row("", report.total)[2:], report.voters,
                         report.verdicts["yes"], report.verdicts["partly"], report.verdicts["no"], len(report.problems)])
    return _download(out.getvalue(), f"pb-anchor-{organisation.id}-report.csv")


def _download(text: str, filename: str):
    response = make_response(text)
    response.mimetype = "text/csv"
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
