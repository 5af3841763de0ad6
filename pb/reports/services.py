"""The figures of the integrated reports, all from the stored records: pots (pledged),
the published results (allocated) and the latest delivery updates (spent, delivered).

Money is in minor units throughout; every breakdown adds up to its total exactly,
except by charter objective, where a project serving two objectives counts in both.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from flask_babel import gettext as _
from sqlmodel import Session, col, select

from pb.accounts.models import Organisation
from pb.delivery.models import DeliveryStatus, DeliveryUpdate
from pb.delivery.services import funded_project_ids, latest_updates
from pb.delivery.verdicts import verdict_counts
from pb.proposals.models import Project, Proposal, ProposalObjective
from pb.results.services import pro_rata
from pb.rounds.models import (
    Area,
    Category,
    CharterObjective,
    Contest,
    Partner,
    Phase,
    Pot,
    Round,
)
from pb.voting.turnout import round_turnout


@dataclass
class Totals:
    """Money and projects for one slice of a round (or the whole of it)."""

    name: str = ""
    pledged: int | None = 0  # None where pots do not divide that way (categories, objectives)
    allocated: int = 0
    spent: int = 0
    spent_locally: int = 0
    funded: int = 0
    delivered: int = 0
    delivered_allocation: int = 0

    def add(self, line: "ProjectLine") -> None:
        self.allocated += line.project.cost
        self.spent += line.spent
        self.spent_locally += line.spent_locally
        self.funded += 1
        if line.status == DeliveryStatus.DELIVERED:
            self.delivered += 1
            self.delivered_allocation += line.project.cost

    @property
    def local_share(self) -> Fraction | None:
        return Fraction(self.spent_locally, self.spent) if self.spent else None

    @property
    def spent_share(self) -> Fraction | None:
        return Fraction(self.spent, self.allocated) if self.allocated else None


@dataclass
class ProjectLine:
    project: Project
    proposal: Proposal
    area: str
    category: str
    objectives: list[str]
    update: DeliveryUpdate | None
    verdicts: dict[str, int]

    @property
    def status(self) -> DeliveryStatus:
        return DeliveryStatus(self.update.status) if self.update else DeliveryStatus.NOT_STARTED

    @property
    def reason(self) -> str:
        return self.update.reason if self.update else ""

    @property
    def spent(self) -> int:
        return self.update.spent if self.update else 0

    @property
    def spent_locally(self) -> int:
        return self.update.spent_locally if self.update else 0

    @property
    def over_allocation(self) -> bool:
        return self.spent > self.project.cost


@dataclass
class RoundReport:
    round: Round
    total: Totals
    projects: list[ProjectLine]
    by_area: list[Totals]
    by_category: list[Totals]
    by_objective: list[Totals]
    by_status: dict[DeliveryStatus, Totals]
    voters: int
    turnout: Fraction | None  # of the areas' electorate (else population), when every area gives one
    verdicts: dict[str, int]
    previous: list["RoundReport"] = field(default_factory=list)

    @property
    def problems(self) -> list[ProjectLine]:
        """Projects delayed, stalled or cancelled, with their reasons."""
        troubled = (DeliveryStatus.DELAYED, DeliveryStatus.STALLED, DeliveryStatus.CANCELLED)
        return [line for line in self.projects if line.status in troubled]

    @property
    def overspent(self) -> list[ProjectLine]:
        return [line for line in self.projects if line.over_allocation]


def reportable(round_: Round) -> bool:
    return round_.reached(Phase.RESULTS_PUBLISHED)


def round_report(session: Session, round_: Round, *, with_previous: bool = True) -> RoundReport:
    contests = list(
        session.exec(
            select(Contest)
            .where(col(Contest.round_id) == round_.id)
            .order_by(col(Contest.area_id).is_not(None), col(Contest.id))
        )
    )
    areas = {a.id: a.name for a in session.exec(select(Area).where(Area.round_id == round_.id))}
    whole_round = _("Whole round")
    contest_area = {c.id: areas.get(c.area_id, whole_round) if c.area_id else whole_round for c in contests}

    by_area: dict[str, Totals] = {}
    for contest in contests:
        by_area.setdefault(contest_area[contest.id], Totals(name=contest_area[contest.id]))
    pots = session.exec(
        select(Pot).join(Contest, col(Contest.id) == col(Pot.contest_id)).where(col(Contest.round_id) == round_.id)
    )
    pledged: Counter[str] = Counter()
    for pot in pots:
        pledged[contest_area[pot.contest_id]] += pot.amount
    for name, amount in pledged.items():
        by_area[name].pledged = amount
    total = Totals(name=round_.title, pledged=sum(pledged.values()))

    funded = funded_project_ids(session, round_)
    projects = (
        list(
            session.exec(
                select(Project)
                .where(col(Project.id).in_(funded))
                .order_by(col(Project.contest_id), col(Project.ballot_position))
            )
        )
        if funded
        else []
    )
    proposals = {
        p.id: p for p in session.exec(select(Proposal).where(col(Proposal.id).in_([p.proposal_id for p in projects])))
    }
    categories: dict[int | None, str] = {
        c.id: c.name for c in session.exec(select(Category).where(Category.round_id == round_.id))
    }
    objective_titles = {
        o.id: o.title for o in session.exec(select(CharterObjective).where(CharterObjective.round_id == round_.id))
    }
    serves = defaultdict(list)
    for link in session.exec(select(ProposalObjective).where(col(ProposalObjective.proposal_id).in_(list(proposals)))):
        serves[link.proposal_id].append(objective_titles[link.objective_id])
    updates = latest_updates(session, [p.id for p in projects])
    counts = verdict_counts(session, [p.id for p in projects])

    no_category, no_objective = _("No category"), _("No charter objective")
    lines = []
    by_category: dict[str, Totals] = {}
    by_objective: dict[str, Totals] = {
        name: Totals(name=name, pledged=None) for name in sorted(objective_titles.values())
    }
    by_status = {status: Totals(name=status.value, pledged=None) for status in DeliveryStatus}
    verdicts = {"yes": 0, "partly": 0, "no": 0}
    for project in projects:
        proposal = proposals[project.proposal_id]
        line = ProjectLine(
            project=project,
            proposal=proposal,
            area=contest_area[project.contest_id],
            category=categories.get(proposal.category_id, no_category),
            objectives=sorted(serves[proposal.id]),
            update=updates.get(project.id),
            verdicts=counts[project.id],
        )
        lines.append(line)
        total.add(line)
        by_area[line.area].add(line)
        by_category.setdefault(line.category, Totals(name=line.category, pledged=None)).add(line)
        for title in line.objectives or [no_objective]:
            by_objective.setdefault(title, Totals(name=title, pledged=None)).add(line)
        by_status[line.status].add(line)
        for answer, n in line.verdicts.items():
            verdicts[answer] += n

    whole = round_turnout(session, round_).whole
    report = RoundReport(
        round=round_,
        total=total,
        projects=lines,
        by_area=list(by_area.values()),
        by_category=sorted(by_category.values(), key=lambda t: t.name),
        by_objective=[t for t in by_objective.values() if t.funded or t.name != no_objective],
        by_status=by_status,
        voters=whole.voters,
        turnout=whole.share,
        verdicts=verdicts,
    )
    if with_previous:
        report.previous = [
            round_report(session, earlier, with_previous=False)
            for earlier in session.exec(
                select(Round)
                .where(
                    col(Round.convening_organisation_id) == round_.convening_organisation_id, col(Round.id) < round_.id
                )
                .order_by(col(Round.id))
            )
            if reportable(earlier)
        ]
    return report


# ---------------------------------------------------------------- an anchor across its rounds


@dataclass
class AnchorRound:
    """One round an anchor convened or funded, with the anchor's own part in it."""

    report: RoundReport
    convened: bool
    pledged: int  # by this anchor
    allocated: int  # funded projects' costs attributed to this anchor's pots, as on the results page


def anchor_rounds(session: Session, organisation: Organisation) -> list[AnchorRound]:
    partnered = set(session.exec(select(Partner.round_id).where(Partner.organisation_id == organisation.id)))
    rounds = session.exec(
        select(Round)
        .where((col(Round.convening_organisation_id) == organisation.id) | (col(Round.id).in_(partnered)))
        .order_by(col(Round.id))
    )
    found = []
    for round_ in rounds:
        if not reportable(round_):
            continue
        report = round_report(session, round_, with_previous=False)
        pots = defaultdict(list)  # per contest, in the order the results page lists them
        for pot in session.exec(
            select(Pot)
            .join(Contest, col(Contest.id) == col(Pot.contest_id))
            .where(col(Contest.round_id) == round_.id)
            .order_by(col(Pot.id))
        ):
            pots[pot.contest_id].append(pot)
        attributed = 0
        for line in report.projects:
            contest_pots = pots[line.project.contest_id]
            if contest_pots:
                shares = pro_rata(line.project.cost, [p.amount for p in contest_pots])
                attributed += sum(
                    share
                    for pot, share in zip(contest_pots, shares, strict=True)
                    if pot.organisation_id == organisation.id
                )
        pledged = sum(
            p.amount for contest_pots in pots.values() for p in contest_pots if p.organisation_id == organisation.id
        )
        found.append(
            AnchorRound(
                report=report,
                convened=round_.convening_organisation_id == organisation.id,
                pledged=pledged,
                allocated=attributed,
            )
        )
    return found
