"""Delivery of funded projects: updates by the funded group, kept as a dated history.

Each update restates the whole picture so far (status, milestones, spending), so the
latest one is the project's state and the earlier ones show how it got there.
"""

import json
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlmodel import Session, col, select

from pb.accounts.models import Organisation, User
from pb.accounts.services import is_member_of
from pb.audit.chain import record_event
from pb.delivery.models import (
    DELIVERY_LABELS,
    NEEDS_REASON,
    NEXT_STATUSES,
    DeliveryStatus,
    DeliveryUpdate,
    Milestone,
    SpendLine,
)
from pb.money import MAX_AMOUNT
from pb.notices import services as notices
from pb.proposals.models import Project, Proposal
from pb.results.models import ContestResult
from pb.rounds.models import PHASES, Contest, Phase, Round

MAX_SPEND = MAX_AMOUNT


class DeliveryError(ValueError):
    """An update the rules do not allow; nothing was saved."""

    status = 400


class NotNow(DeliveryError):
    status = 409


@dataclass
class UpdateContent:
    status: str
    reason: str = ""
    note: str = ""
    milestones: list[tuple[str, date, bool]] = field(default_factory=list)  # title, due, done
    spend: list[tuple[str, int, bool]] = field(default_factory=list)  # item, amount (minor units), local?
    photo: str | None = None


# ---------------------------------------------------------------- which projects were funded


def funded_project_ids(session: Session, round_: Round) -> set[int]:
    """The projects the count funded, across the round's contests."""
    outcomes = session.exec(
        select(col(ContestResult.outcome))
        .join(Contest, col(Contest.id) == col(ContestResult.contest_id))
        .where(col(Contest.round_id) == round_.id)
    )
    return {int(pid) for outcome in outcomes for pid in json.loads(outcome)["selected"]}


def round_of(session: Session, project: Project) -> Round:
    return session.get_one(Round, session.get_one(Contest, project.contest_id).round_id)


def is_funded(session: Session, project: Project) -> bool:
    round_ = round_of(session, project)
    return round_.reached(Phase.RESULTS_PUBLISHED) and project.id in funded_project_ids(session, round_)


def group_of(session: Session, project: Project) -> Organisation:
    return session.get_one(Organisation, session.get_one(Proposal, project.proposal_id).organisation_id)


def can_report(session: Session, project: Project, user) -> bool:
    """Members of the group that proposed a funded project report on its delivery."""
    return bool(user.is_authenticated) and is_member_of(session, user, group_of(session, project))


# ---------------------------------------------------------------- the history


def updates_of(session: Session, project: Project) -> list[DeliveryUpdate]:
    """Newest first."""
    return list(
        session.exec(
            select(DeliveryUpdate)
            .where(col(DeliveryUpdate.project_id) == project.id)
            .order_by(col(DeliveryUpdate.id).desc())
        )
    )


def latest_updates(session: Session, project_ids) -> dict[int, DeliveryUpdate]:
    """The latest update of each project that has one."""
    latest: dict[int, DeliveryUpdate] = {}
    ids = list(project_ids)
    if not ids:
        return latest
    for update in session.exec(
        select(DeliveryUpdate).where(col(DeliveryUpdate.project_id).in_(ids)).order_by(col(DeliveryUpdate.id))
    ):
        latest[update.project_id] = update
    return latest


def milestones_of(session: Session, update: DeliveryUpdate) -> list[Milestone]:
    return list(
        session.exec(select(Milestone).where(col(Milestone.update_id) == update.id).order_by(col(Milestone.position)))
    )


def spend_lines_of(session: Session, update: DeliveryUpdate) -> list[SpendLine]:
    return list(
        session.exec(select(SpendLine).where(col(SpendLine.update_id) == update.id).order_by(col(SpendLine.position)))
    )


def current_status(update: DeliveryUpdate | None) -> DeliveryStatus:
    return DeliveryStatus(update.status) if update else DeliveryStatus.NOT_STARTED


def is_over_allocation(project: Project, update: DeliveryUpdate | None) -> bool:
    """Spending reported beyond the money the project was given is flagged, not refused:
    the group must be able to say what really happened."""
    return update is not None and update.spent > project.cost


# ---------------------------------------------------------------- posting an update


def check_transition(current: DeliveryStatus, wanted: str, reason: str) -> DeliveryStatus:
    """The status an update may set, or DeliveryError saying why not."""
    try:
        status = DeliveryStatus(wanted)
    except ValueError:
        raise DeliveryError(_("Choose the project's status.")) from None
    if status not in NEXT_STATUSES[current]:
        if current in (DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED):
            raise DeliveryError(_("This project is marked “%(status)s”; that is final.", status=_status_word(current)))
        raise DeliveryError(
            _(
                "A project cannot go from “%(current)s” to “%(wanted)s”.",
                current=_status_word(current),
                wanted=_status_word(status),
            )
        )
    if status in NEEDS_REASON and not reason.strip():
        raise DeliveryError(
            _("Say why the project is “%(status)s”: residents are owed a reason.", status=_status_word(status))
        )
    return status


def _status_word(status: DeliveryStatus) -> str:
    return str(DELIVERY_LABELS[status])


def post_update(session: Session, project: Project, *, actor: User, content: UpdateContent) -> DeliveryUpdate:
    """Add a dated update to a funded project (flushes and audits; the request commits)."""
    round_ = round_of(session, project)
    if not round_.reached(Phase.RESULTS_PUBLISHED) or project.id not in funded_project_ids(session, round_):
        raise NotNow(_("Only funded projects report on delivery, once the results are published."))
    if round_.reached(Phase.ARCHIVED):
        raise NotNow(_("This round is archived: its delivery record is closed."))
    if not can_report(session, project, actor):
        raise DeliveryError(_("Only members of the group that proposed this project can report on it."))
    previous = latest_updates(session, [project.id]).get(project.id)
    status = check_transition(current_status(previous), content.status, content.reason)
    for item, amount, _local in content.spend:
        if not item.strip():
            raise DeliveryError(_("Say what each amount was spent on."))
        if not 0 < amount <= MAX_SPEND:
            raise DeliveryError(_("Every amount spent must be more than zero."))
    for title, due, _done in content.milestones:
        if not title.strip() or due is None:
            raise DeliveryError(_("Give each milestone a name and a date."))
    spent = sum(amount for _item, amount, _local in content.spend)
    local = sum(amount for _item, amount, is_local in content.spend if is_local)
    update = DeliveryUpdate(
        project_id=project.id,
        status=status.value,
        reason=content.reason.strip() if status in NEEDS_REASON else "",
        note=content.note.strip(),
        photo=content.photo,
        spent=spent,
        spent_locally=local,
        created_by_user_id=actor.id,
    )
    session.add(update)
    session.flush()
    for position, (title, due, done) in enumerate(content.milestones):
        session.add(Milestone(update_id=update.id, position=position, title=title.strip(), due=due, done=done))
    for position, (item, amount, is_local) in enumerate(content.spend):
        session.add(SpendLine(update_id=update.id, position=position, item=item.strip(), amount=amount, local=is_local))
    session.flush()
    group = group_of(session, project)
    record_event(
        session,
        "delivery.updated",
        actor=actor,
        round_id=round_.id,
        organisation_id=group.id,
        data={
            "project": project.id,
            "update": update.id,
            "status": status.value,
            "reason": update.reason,
            "spent": spent,
            "spent_locally": local,
            "allocation": project.cost,
            "over_allocation": spent > project.cost,
            "milestones": len(content.milestones),
        },
    )
    if status == DeliveryStatus.DELIVERED and current_status(previous) != DeliveryStatus.DELIVERED:
        notices.project_delivered(session, project)
    return update


def funded_projects_of_groups(
    session: Session, group_ids: list[int]
) -> list[tuple[Project, DeliveryUpdate | None, bool]]:
    """The groups' funded projects (results published) with their latest update and
    whether the group can still report on it (its round is not archived)."""
    if not group_ids:
        return []
    rows = session.exec(
        select(Project, Round)
        .join(Proposal, col(Proposal.id) == col(Project.proposal_id))
        .join(Round, col(Round.id) == col(Proposal.round_id))
        .where(
            col(Proposal.organisation_id).in_(group_ids),
            col(Round.phase).in_([p.value for p in PHASES[PHASES.index(Phase.RESULTS_PUBLISHED) :]]),
        )
        .order_by(col(Project.id))
    ).all()
    funded_in = {}  # each round's outcomes are read once, not once per project
    funded = []
    for project, round_ in rows:
        if round_.id not in funded_in:
            funded_in[round_.id] = funded_project_ids(session, round_)
        if project.id in funded_in[round_.id]:
            funded.append((project, round_))
    latest = latest_updates(session, [p.id for p, _r in funded])
    return [(p, latest.get(p.id), not r.reached(Phase.ARCHIVED)) for p, r in funded]
