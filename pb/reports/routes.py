"""What happened to the money: a round's integrated report (page, print, CSV), and an
anchor's report across the rounds it convened or funded. Public, like the results."""

from flask import Blueprint, abort, make_response, render_template

from pb.accounts.models import Organisation, OrganisationKind
from pb.db import db_session
from pb.delivery.models import DELIVERY_LABELS, DeliveryStatus
from pb.delivery.verdicts import verdicts_open
from pb.reports import services
from pb.results.services import pounds
from pb.rounds.access import load_round
from pb.views import csv_download

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
    return render_template(
        "reports/round.html",
        round=round_,
        report=report,
        labels=DELIVERY_LABELS,
        statuses=list(DeliveryStatus),
        verdicts_open=verdicts_open(round_),
    )


def _share(fraction) -> str:
    return "" if fraction is None else f"{float(fraction):.4f}"


def _money(amount) -> str:
    return "" if amount is None else pounds(amount)


TOTALS_HEADER = [
    "section",
    "name",
    "pledged",
    "allocated",
    "spent",
    "spent_locally",
    "local_share",
    "funded_projects",
    "delivered_projects",
    "delivered_allocation",
]


def _totals_row(section: str, totals: services.Totals, name: str | None = None) -> list:
    return [
        section,
        totals.name if name is None else name,
        _money(totals.pledged),
        _money(totals.allocated),
        _money(totals.spent),
        _money(totals.spent_locally),
        _share(totals.local_share),
        totals.funded,
        totals.delivered,
        _money(totals.delivered_allocation),
    ]


@bp.route("/rounds/<int:round_id>/money.csv")
def round_money_csv(round_id):
    round_ = _reported_round(round_id)
    report = services.round_report(db_session(), round_)
    rows = [_totals_row("round", report.total)]
    for section, totals_rows in (
        ("area", report.by_area),
        ("category", report.by_category),
        ("objective", report.by_objective),
    ):
        rows += [_totals_row(section, totals) for totals in totals_rows]
    rows += [_totals_row("status", totals, status.value) for status, totals in report.by_status.items()]
    rows.append([])
    rows.append(
        [
            "project_id",
            "title",
            "group_proposal_id",
            "area",
            "category",
            "objectives",
            "allocated",
            "status",
            "reason",
            "spent",
            "spent_locally",
            "over_allocation",
            "verdicts_yes",
            "verdicts_partly",
            "verdicts_no",
        ]
    )
    rows += [
        [
            line.project.id,
            line.project.title,
            line.proposal.id,
            line.area,
            line.category,
            "; ".join(line.objectives),
            pounds(line.project.cost),
            line.status.value,
            line.reason,
            pounds(line.spent),
            pounds(line.spent_locally),
            int(line.over_allocation),
            line.verdicts["yes"],
            line.verdicts["partly"],
            line.verdicts["no"],
        ]
        for line in report.projects
    ]
    return csv_download(f"pb-round-{round_.id}-money.csv", TOTALS_HEADER, rows)


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
    return csv_download(
        f"pb-anchor-{organisation.id}-report.csv",
        [
            "round_id",
            "round",
            "role",
            "currency",
            "pledged_by_anchor",
            "allocated_attributed_to_anchor",
            *TOTALS_HEADER[2:],
            "voters",
            "verdicts_yes",
            "verdicts_partly",
            "verdicts_no",
            "delayed_stalled_cancelled",
        ],
        [
            [
                row.report.round.id,
                row.report.round.title,
                "convener" if row.convened else "partner",
                row.report.round.currency,
                pounds(row.pledged),
                pounds(row.allocated),
                *_totals_row("", row.report.total)[2:],
                row.report.voters,
                row.report.verdicts["yes"],
                row.report.verdicts["partly"],
                row.report.verdicts["no"],
                len(row.report.problems),
            ]
            for row in services.anchor_rounds(db_session(), organisation)
        ],
    )
