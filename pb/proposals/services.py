"""Operations on proposals: drafting, submitting, withdrawing, screening, and the ballot.

Each flushes and audits in the round's chain; the request (or CLI scope) commits.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from pb.accounts.models import Organisation, OrganisationKind, User
from pb.accounts.services import is_member_of
from pb.audit.chain import person, record_event
from pb.audit.models import AuditEvent, chain_key
from pb.clock import now
from pb.notices import services as notices
from pb.proposals import ballot_order
from pb.proposals.models import (
    PUBLIC_STATUSES,
    CostLine,
    Project,
    Proposal,
    ProposalObjective,
    Screener,
    Status,
)
from pb.rounds.limits import Limit, limits_of
from pb.rounds.models import Area, BallotKind, Category, CharterObjective, Contest, Phase, Round
from pb.rounds.services import MAX_POT, funding_organisation_ids, guard_unfrozen


class ProposalError(ValueError):
    """A change the rules for proposals do not allow; nothing was saved."""

    status = 400


class ProposalClosed(ProposalError):
    """The deadline has passed, or the proposal is no longer open to change."""

    status = 409


@dataclass
class ProposalContent:
    contest_id: int
    title: str
    summary: str
    description: str
    beneficiaries: str
    category_id: int | None
    postcode: str | None
    cost_lines: list[tuple[str, int]]
    objective_ids: list[int]
    photo: str | None = None  # a stored photo's file name; None keeps the current photo


def _audit(
    session: Session, proposal: Proposal, action: str, actor: User | None, private: dict | None = None, **data
) -> None:
    record_event(
        session,
        action,
        actor=actor,
        round_id=proposal.round_id,
        organisation_id=proposal.organisation_id,
        data={"proposal": proposal.id, "title": proposal.title, "status": proposal.status, **data},
        private=private,
    )


# ---------------------------------------------------------------- drafting


def _check_open_for_changes(
    session: Session, round_: Round, proposal: Proposal | None, actor: User, attempted: str
) -> None:
    guard_unfrozen(
        session, round_, actor=actor, attempted=attempted, detail={"proposal": proposal.id if proposal else None}
    )
    phase = Phase(round_.phase)
    if phase == Phase.DRAFT:
        raise ProposalClosed(_("This round is not taking proposals yet."))
    if proposal is not None and proposal.status in (Status.NOT_ELIGIBLE.value, Status.WITHDRAWN.value):
        raise ProposalClosed(_("This proposal can no longer be changed."))
    returned = proposal is not None and proposal.status == Status.RETURNED.value
    if phase == Phase.PROPOSALS_OPEN or (phase == Phase.SCREENING and returned):
        return
    raise ProposalClosed(_("The deadline for proposals has passed."))


def _check_content(session: Session, round_: Round, content: ProposalContent) -> int:
    contest = session.get(Contest, content.contest_id)
    if contest is None or contest.round_id != round_.id:
        raise ProposalError(_("Choose a ballot paper of this round."))
    if content.category_id is not None:
        category = session.get(Category, content.category_id)
        if category is None or category.round_id != round_.id:
            raise ProposalError(_("Choose one of the round's categories."))
    objectives = set(session.exec(select(CharterObjective.id).where(CharterObjective.round_id == round_.id)))
    if not set(content.objective_ids) <= objectives:
        raise ProposalError(_("Choose among the round's charter objectives."))
    if not content.cost_lines:
        raise ProposalError(_("Add at least one cost line."))
    if any(amount <= 0 for _item, amount in content.cost_lines):
        raise ProposalError(_("Every cost must be more than zero."))
    total = sum(amount for _item, amount in content.cost_lines)
    if total > MAX_POT:
        raise ProposalError(_("The total cost is too large. Please check the amounts."))
    if round_.max_project_cost is not None and total > round_.max_project_cost:
        from pb.i18n import money

        raise ProposalError(
            _(
                "The total cost is more than this round allows for one project (%(limit)s).",
                limit=money(round_.max_project_cost, round_.currency),
            )
        )
    return total


def _write_content(session: Session, proposal: Proposal, content: ProposalContent, total: int) -> None:
    proposal.contest_id = content.contest_id
    proposal.title = content.title.strip()
    proposal.summary = content.summary.strip()
    proposal.description = content.description.strip()
    proposal.beneficiaries = content.beneficiaries.strip()
    proposal.category_id = content.category_id
    proposal.postcode = content.postcode or None
    if content.photo:
        proposal.photo = content.photo
    proposal.total_cost = total
    proposal.updated_at = now()
    session.add(proposal)
    session.flush()
    session.exec(delete(CostLine).where(col(CostLine.proposal_id) == proposal.id))
    session.exec(delete(ProposalObjective).where(col(ProposalObjective.proposal_id) == proposal.id))
    for position, (item, amount) in enumerate(content.cost_lines):
        session.add(CostLine(proposal_id=proposal.id, position=position, item=item.strip(), amount=amount))
    for objective_id in dict.fromkeys(content.objective_ids):
        session.add(ProposalObjective(proposal_id=proposal.id, objective_id=objective_id))
    session.flush()


def create_proposal(
    session: Session, round_: Round, *, actor: User, organisation: Organisation, content: ProposalContent
) -> Proposal:
    _check_open_for_changes(session, round_, None, actor, "proposal.created")
    if organisation.kind != OrganisationKind.GROUP.value or not is_member_of(session, actor, organisation):
        raise ProposalError(_("You can only propose on behalf of a community group you belong to."))
    total = _check_content(session, round_, content)
    proposal = Proposal(
        round_id=round_.id,
        contest_id=content.contest_id,
        organisation_id=organisation.id,
        created_by_user_id=actor.id,
        title=content.title.strip(),
        summary=content.summary.strip(),
    )
    _write_content(session, proposal, content, total)
    _audit(session, proposal, "proposal.created", actor, total_cost=total)
    return proposal


def update_proposal(session: Session, proposal: Proposal, *, actor: User, content: ProposalContent) -> None:
    round_ = session.get_one(Round, proposal.round_id)
    _check_open_for_changes(session, round_, proposal, actor, "proposal.updated")
    _check_member(session, proposal, actor)
    total = _check_content(session, round_, content)
    _write_content(session, proposal, content, total)
    if proposal.status == Status.ELIGIBLE.value:
        # Screened as it was; what it says now must be screened again.
        proposal.status = Status.SUBMITTED.value
        session.add(proposal)
        session.flush()
    _audit(session, proposal, "proposal.updated", actor, total_cost=total)


def _check_member(session: Session, proposal: Proposal, actor: User) -> None:
    if not is_member_of(session, actor, session.get_one(Organisation, proposal.organisation_id)):
        raise ProposalError(_("Only members of the group that made this proposal can change it."))


def submit_proposal(session: Session, proposal: Proposal, *, actor: User) -> None:
    round_ = session.get_one(Round, proposal.round_id)
    _check_open_for_changes(session, round_, proposal, actor, "proposal.submitted")
    _check_member(session, proposal, actor)
    if proposal.status not in (Status.DRAFT.value, Status.RETURNED.value):
        raise ProposalError(_("This proposal has already been submitted."))
    proposal.status = Status.SUBMITTED.value
    proposal.submitted_at = now()
    session.add(proposal)
    session.flush()
    _audit(session, proposal, "proposal.submitted", actor)


def withdraw_proposal(session: Session, proposal: Proposal, *, actor: User) -> None:
    round_ = session.get_one(Round, proposal.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="proposal.withdrawn", detail={"proposal": proposal.id})
    _check_member(session, proposal, actor)
    if proposal.status == Status.WITHDRAWN.value:
        raise ProposalError(_("This proposal has already been withdrawn."))
    if proposal.status == Status.NOT_ELIGIBLE.value:
        # Screening decisions are public: withdrawing (and then bringing it back as a draft)
        # would take this one, and its reason, off the record.
        raise ProposalError(
            _("A proposal found not eligible stays on the public record with the reason; it cannot be withdrawn.")
        )
    proposal.status = Status.WITHDRAWN.value
    session.add(proposal)
    session.flush()
    _audit(session, proposal, "proposal.withdrawn", actor)


def restore_proposal(session: Session, proposal: Proposal, *, actor: User) -> None:
    """Undo a withdrawal while the round still takes proposals. The proposal comes back as
    a draft, whatever it was before: the group checks it and submits it again, so nothing
    reaches the screeners (or the ballot) without the group's own renewed say-so."""
    round_ = session.get_one(Round, proposal.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="proposal.restored", detail={"proposal": proposal.id})
    _check_member(session, proposal, actor)
    if proposal.status != Status.WITHDRAWN.value:
        raise ProposalError(_("This proposal has not been withdrawn."))
    if Phase(round_.phase) != Phase.PROPOSALS_OPEN:
        raise ProposalClosed(_("The deadline for proposals has passed, so a withdrawal can no longer be undone."))
    proposal.status = Status.DRAFT.value
    proposal.submitted_at = None
    proposal.updated_at = now()
    session.add(proposal)
    session.flush()
    _audit(session, proposal, "proposal.restored", actor)


# ---------------------------------------------------------------- screening


def is_screener(session: Session, round_: Round, user: User) -> bool:
    """Leads of the round's anchors, and the community reviewers the convening lead appointed."""
    if session.exec(select(Screener).where(Screener.round_id == round_.id, Screener.user_id == user.id)).first():
        return True
    return any(
        is_member_of(session, user, session.get_one(Organisation, org_id))
        for org_id in funding_organisation_ids(session, round_)
    )


def appoint_screener(session: Session, round_: Round, *, actor: User, user: User) -> Screener:
    guard_unfrozen(
        session, round_, actor=actor, attempted="screener.appointed", detail={"user": person(user, round_.id)}
    )
    if session.exec(select(Screener).where(Screener.round_id == round_.id, Screener.user_id == user.id)).first():
        raise ProposalError(_("%(name)s is already a screener for this round.", name=user.name))
    screener = Screener(round_id=round_.id, user_id=user.id)
    session.add(screener)
    session.flush()
    record_event(
        session,
        "screener.appointed",
        actor=actor,
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        data={"user": person(user, round_.id), "name": user.name},
    )
    notices.screener_appointed(session, round_, user)
    return screener


DECISIONS = (Status.ELIGIBLE.value, Status.NOT_ELIGIBLE.value, Status.RETURNED.value)


def screen_proposal(session: Session, proposal: Proposal, *, actor: User | None, decision: str, reason: str) -> None:
    """A screening decision. `actor` None is pb itself, when voting opens on proposals
    nobody screened (see close_screening): no person, so no screener to check."""
    round_ = session.get_one(Round, proposal.round_id)
    guard_unfrozen(
        session,
        round_,
        actor=actor,
        attempted="proposal.screened",
        detail={"proposal": proposal.id, "decision": decision},
    )
    if actor is not None and not is_screener(session, round_, actor):
        raise ProposalError(_("Only the round's screeners can screen its proposals."))
    if actor is not None and is_member_of(session, actor, session.get_one(Organisation, proposal.organisation_id)):
        raise ProposalError(_("You cannot screen a proposal from a group you belong to."))
    if decision not in DECISIONS:
        raise ProposalError(_("Choose a decision."))
    if proposal.status not in (
        Status.SUBMITTED.value,
        Status.ELIGIBLE.value,
        Status.NOT_ELIGIBLE.value,
        Status.RETURNED.value,
    ):
        raise ProposalError(_("Only submitted proposals can be screened."))
    reason = reason.strip()
    if decision != Status.ELIGIBLE.value and not reason:
        raise ProposalError(
            _("Give a reason: the group, and for a proposal that is not eligible the public, will read it.")
        )
    if reason != proposal.screening_reason:
        from pb.languages.store import forget_reason_translations

        forget_reason_translations(session, proposal)
    proposal.status, proposal.screening_reason = decision, reason
    proposal.screened_at, proposal.screened_by_user_id = now(), actor.id if actor else None
    session.add(proposal)
    session.flush()
    if decision == Status.RETURNED.value:  # the note is for the group alone: the log says it was returned
        _audit(session, proposal, "proposal.screened", actor, decision=decision, private={"reason": reason})
    else:
        _audit(session, proposal, "proposal.screened", actor, decision=decision, reason=reason)
    notices.proposal_screened(session, proposal)


# Why a proposal left waiting when voting opened is not on the ballot (public, as every
# "not eligible" reason is), by the state it was left in.
UNSCREENED = {
    Status.SUBMITTED.value: _l("Not screened before voting opened."),
    Status.RETURNED.value: _l("Returned for changes, and not submitted and screened again before voting opened."),
}


def unscreened_proposals(session: Session, round_: Round) -> list[Proposal]:
    """Proposals put forward but waiting for a decision: they would not be on the ballot."""
    return list(
        session.exec(
            select(Proposal)
            .where(col(Proposal.round_id) == round_.id, col(Proposal.status).in_(list(UNSCREENED)))
            .order_by(col(Proposal.id))
        )
    )


def close_screening(session: Session, round_: Round) -> list[Proposal]:
    """As voting opens (before the round freezes): every proposal nobody screened in time
    is marked not eligible, with its reason, by the same decision a screener makes, so the
    group and the public learn why it is not on the ballot. Drafts stay the group's own."""
    from flask import current_app
    from flask_babel import force_locale

    left = unscreened_proposals(session, round_)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # the same words whoever, or whatever, opens voting
        reasons = {status: str(reason) for status, reason in UNSCREENED.items()}
    for proposal in left:
        screen_proposal(
            session, proposal, actor=None, decision=Status.NOT_ELIGIBLE.value, reason=reasons[proposal.status]
        )
    return left


# ---------------------------------------------------------------- the ballot


def contests_without_projects(session: Session, round_: Round) -> list[Contest]:
    """Contests that no eligible proposal would appear on (voting cannot open with them)."""
    eligible = set(
        session.exec(
            select(Proposal.contest_id).where(Proposal.round_id == round_.id, Proposal.status == Status.ELIGIBLE.value)
        )
    )
    return [c for c in session.exec(select(Contest).where(Contest.round_id == round_.id)) if c.id not in eligible]


def _eligible_costs(session: Session, round_: Round) -> dict[tuple[int, int | None], list[int]]:
    """The costs of the round's eligible proposals by (contest id, category id), lowest first."""
    costs: defaultdict[tuple[int, int | None], list[int]] = defaultdict(list)
    for contest_id, category_id, cost in session.exec(
        select(Proposal.contest_id, Proposal.category_id, Proposal.total_cost)
        .where(col(Proposal.round_id) == round_.id, col(Proposal.status) == Status.ELIGIBLE.value)
        .order_by(col(Proposal.total_cost))
    ):
        costs[(contest_id, category_id)].append(cost)
    return costs


def _eligible_by_category(session: Session, round_: Round) -> Counter[tuple[int, int | None]]:
    """How many eligible proposals each (contest id, category id) of the round has."""
    return Counter({key: len(costs) for key, costs in _eligible_costs(session, round_).items()})


def limits_beyond_projects(session: Session, round_: Round) -> list[tuple[Contest, Limit, int]]:
    """Limits per category that no ballot could keep: each with its contest and the number
    of eligible proposals of its category on that paper, fewer than its fewest."""
    eligible = _eligible_by_category(session, round_)
    return [
        (contest, limit, eligible[(contest.id, limit.category_id)])
        for contest in session.exec(select(Contest).where(col(Contest.round_id) == round_.id).order_by(col(Contest.id)))
        for limit in limits_of(session, contest.id)
        if eligible[(contest.id, limit.category_id)] < limit.min_picks
    ]


def limits_below_fewest_picks(session: Session, round_: Round) -> list[tuple[Contest, int, bool]]:
    """Approval ballot papers on which a voter could tick fewer eligible projects than the
    paper's own fewest, so that no ballot could be cast on it: each with the most a voter
    could tick, and whether its limits per category are what holds it down."""
    eligible = _eligible_by_category(session, round_)
    too_tight = []
    for contest in _approval_papers(session, round_):
        limits: dict[int | None, int | None] = {
            limit.category_id: limit.max_picks for limit in limits_of(session, contest.id)
        }
        most, on_paper = 0, 0
        for (contest_id, category_id), projects in eligible.items():
            cap = limits.get(category_id)
            if contest_id == contest.id:
                most += projects if cap is None else min(projects, cap)
                on_paper += projects
        if on_paper and most < contest.fewest_ticks:  # none at all: contests_without_projects says so
            too_tight.append((contest, most, most < on_paper))
    return too_tight


def papers_beyond_budget(session: Session, round_: Round, budgets: dict[int, int]) -> list[tuple[Contest, int]]:
    """Approval ballot papers whose ticked projects must fit the budget, where even the
    cheapest ballot keeping the paper's fewest picks and its limits per category costs more
    than the budget (in `budgets`, by contest id), so that every ballot would be refused:
    each with the cost of that cheapest ballot. A paper that cannot be filled at all is
    left to the checks above."""
    costs = _eligible_costs(session, round_)
    beyond = []
    for contest in _approval_papers(session, round_):
        budget = budgets.get(contest.id, 0)
        if not contest.limit_to_budget or budget <= 0:
            continue
        by_category = {category: c for (contest_id, category), c in costs.items() if contest_id == contest.id}
        cheapest = _cheapest_ballot(contest.fewest_ticks, limits_of(session, contest.id), by_category)
        if cheapest is not None and cheapest > budget:
            beyond.append((contest, cheapest))
    return beyond


def _cheapest_ballot(fewest: int, limits: tuple[Limit, ...], costs: dict[int | None, list[int]]) -> int | None:
    """What the cheapest ballot keeping `fewest` picks and `limits` costs, given each
    category's project costs in increasing order; None when no ballot keeps them. Each
    category's fewest come first, cheapest first; the rest are the cheapest of what the
    limits still allow, which no other choice can beat."""
    by_category: dict[int | None, Limit] = {limit.category_id: limit for limit in limits}
    if any(limit.min_picks > len(costs.get(limit.category_id, [])) for limit in limits):
        return None
    total, ticked, spare = 0, 0, []
    for category, sorted_costs in costs.items():
        limit = by_category.get(category)
        least = limit.min_picks if limit else 0
        most = limit.max_picks if limit and limit.max_picks is not None else len(sorted_costs)
        total, ticked = total + sum(sorted_costs[:least]), ticked + least
        spare += sorted_costs[least:most]
    more = max(fewest - ticked, 0)
    if more > len(spare):
        return None
    return total + sum(sorted(spare)[:more])


def _approval_papers(session: Session, round_: Round) -> list[Contest]:
    return list(
        session.exec(
            select(Contest)
            .where(col(Contest.round_id) == round_.id, col(Contest.ballot_kind) == BallotKind.APPROVAL.value)
            .order_by(col(Contest.id))
        )
    )


def put_on_ballot(session: Session, round_: Round) -> list[Project]:
    """When voting opens: every eligible proposal becomes a project on its contest's
    ballot, in an order drawn there and then (see pb.proposals.ballot_order), and the
    draw is recorded in the round's audit log so that anyone can check it."""
    eligible: defaultdict[int, dict[int, Proposal]] = defaultdict(dict)
    for proposal in session.exec(
        select(Proposal)
        .where(col(Proposal.round_id) == round_.id, col(Proposal.status) == Status.ELIGIBLE.value)
        .order_by(col(Proposal.id))
    ):
        eligible[proposal.contest_id][proposal.id] = proposal
    seed = ballot_order.new_seed()
    projects, drawn = [], []
    for contest_id, proposals in sorted(eligible.items()):
        position = {proposal_id: n for n, proposal_id in enumerate(ballot_order.draw(seed, proposals), start=1)}
        made = [
            Project(
                contest_id=contest_id,
                proposal_id=proposal.id,
                title=proposal.title,
                cost=proposal.total_cost,
                ballot_position=position[proposal.id],
            )
            for proposal in proposals.values()  # numbered in the order proposed, placed as drawn
        ]
        session.add_all(made)
        session.flush()
        on_paper = sorted(made, key=lambda project: project.ballot_position)
        projects += on_paper
        drawn.append(
            {
                "contest": contest_id,
                "proposals": [p.proposal_id for p in on_paper],
                "projects": [p.id for p in on_paper],
            }
        )
    record_event(
        session,
        ballot_order.DRAWN,
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        data={"seed": seed, "method": ballot_order.METHOD, "contests": drawn},
    )
    return projects


def ballot_draw(session: Session, round_: Round) -> AuditEvent | None:
    """The audit event that recorded the draw of the round's ballot order (None for a
    round whose voting opened before pb drew the order: its projects stand in the order
    they were put on the ballot)."""
    return session.exec(
        select(AuditEvent).where(AuditEvent.chain == chain_key(round_.id), AuditEvent.action == ballot_order.DRAWN)
    ).first()


# ---------------------------------------------------------------- reading


def public_proposals(
    session: Session,
    round_: Round,
    *,
    seed: int,
    area_id: int | None = None,
    category_id: int | None = None,
    words: str = "",
) -> list[Proposal]:
    query = select(Proposal).where(col(Proposal.round_id) == round_.id, col(Proposal.status).in_(PUBLIC_STATUSES))
    if area_id is not None:
        query = query.join(Contest, col(Contest.id) == col(Proposal.contest_id)).where(col(Contest.area_id) == area_id)
    if category_id is not None:
        query = query.where(Proposal.category_id == category_id)
    for word in words.split()[:10]:
        pattern = f"%{word.lower()}%"
        query = query.where(
            or_(
                func.lower(Proposal.title).like(pattern),
                func.lower(Proposal.summary).like(pattern),
                func.lower(Proposal.description).like(pattern),
            )
        )
    # A shuffle of its own for each visitor, the same as they filter and reload.
    found = {p.id: p for p in session.exec(query)}
    return [found[proposal_id] for proposal_id in ballot_order.draw(seed, found)]


def proposals_of_groups(session: Session, organisation_ids: list[int]) -> list[Proposal]:
    return list(
        session.exec(
            select(Proposal)
            .where(col(Proposal.organisation_id).in_(organisation_ids))
            .order_by(col(Proposal.updated_at).desc())
        )
    )


def cost_lines_of(session: Session, proposal: Proposal) -> list[CostLine]:
    return list(
        session.exec(select(CostLine).where(col(CostLine.proposal_id) == proposal.id).order_by(col(CostLine.position)))
    )


def objectives_of(session: Session, proposal: Proposal) -> list[CharterObjective]:
    return list(
        session.exec(
            select(CharterObjective)
            .join(ProposalObjective, col(ProposalObjective.objective_id) == col(CharterObjective.id))
            .where(ProposalObjective.proposal_id == proposal.id)
            .order_by(col(CharterObjective.id))
        )
    )


def area_of(session: Session, proposal: Proposal) -> Area | None:
    contest = session.get(Contest, proposal.contest_id)
    return session.get(Area, contest.area_id) if contest and contest.area_id else None


def categories_of_projects(session: Session, contest: Contest) -> dict[int, int | None]:
    """Each of a contest's projects' category (None for a proposal that gave none)."""
    return dict(
        session.exec(
            select(Project.id, Proposal.category_id)
            .join(Proposal, col(Proposal.id) == col(Project.proposal_id))
            .where(col(Project.contest_id) == contest.id)
        ).all()
    )


def projects_of(session: Session, contest: Contest) -> list[Project]:
    """A contest's projects in their order on the ballot paper: the one order every page,
    file and count uses."""
    return list(
        session.exec(
            select(Project).where(col(Project.contest_id) == contest.id).order_by(col(Project.ballot_position))
        )
    )
