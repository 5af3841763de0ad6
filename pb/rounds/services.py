"""Setting up rounds. Each operation flushes and audits; the request (or CLI scope) commits.

Everything residents vote on freezes when voting opens: every operation that would
change it goes through `guard_unfrozen` (pb.rounds.freeze), which refuses and records
the attempt. Moving rounds between phases is pb.lifecycle's alone.
"""

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.accounts.models import Membership, Organisation, OrganisationKind, User
from pb.accounts.services import is_member_of
from pb.audit.chain import person, record_event
from pb.clock import now
from pb.db import savepoint
from pb.money import MAX_AMOUNT as MAX_POT  # one limit for every amount typed
from pb.notices import services as notices
from pb.rounds.freeze import guard_unfrozen
from pb.rounds.limits import check_categories_kept, check_contest_keeps_limits, pabulib_category
from pb.rounds.models import (
    CURRENCIES,
    MAX_POINTS,
    PHASE_LABELS,
    POINTS_MAX,
    POINTS_RULES,
    POINTS_TOTAL,
    RULES,
    Area,
    BallotKind,
    Category,
    CharterObjective,
    Contest,
    DeclaredField,
    EligibilityMethod,
    Partner,
    Phase,
    Pot,
    Round,
    covers,
)
from pb.rounds.record import RoundError, audit_round

# The shortest vote: voting cannot open unless its closing time is at least this far ahead,
# so that nobody can open and close a vote before residents could take part.
MIN_VOTING = timedelta(days=1)


# ---------------------------------------------------------------- round details


def create_round(
    session: Session,
    *,
    actor: User,
    organisation: Organisation,
    title: str,
    purpose: str = "",
    eligibility: str = "",
    minimum_age: int | None = None,
    categories: Iterable[str] = (),
    objectives: Iterable[str] = (),
    methods: Iterable[str] = ("codes",),
    declares: Iterable[str] = ("name", "address"),
    max_project_cost: int | None = None,
    currency: str = "GBP",
) -> Round:
    if organisation.kind != OrganisationKind.ANCHOR.value:
        raise RoundError(_("Only an anchor institution can convene a round."))
    methods = _methods(methods)
    round_ = Round(
        currency=_currency(currency),
        title=title.strip(),
        purpose=purpose.strip(),
        eligibility=eligibility.strip(),
        minimum_age=minimum_age,
        convening_organisation_id=organisation.id,
        eligibility_methods=methods,
        declared_fields=_declares(declares, methods),
        max_project_cost=max_project_cost,
        source_locale=current_app.config["BABEL_DEFAULT_LOCALE"],  # until the lead chooses (pb.languages)
    )
    session.add(round_)
    session.flush()
    audit_round(session, round_, "round.created", actor, title=round_.title, currency=round_.currency)
    _replace_names(session, round_, Category, "name", categories)
    _replace_names(session, round_, CharterObjective, "title", objectives)
    return round_


def update_round(
    session: Session,
    round_: Round,
    *,
    actor: User,
    title: str,
    purpose: str,
    eligibility: str,
    minimum_age: int | None,
    categories: Iterable[str],
    objectives: Iterable[str],
    methods: Iterable[str] | None = None,
    declares: Iterable[str] | None = None,
    max_project_cost: int | None = None,
    currency: str | None = None,
) -> None:
    """Title and purpose may be corrected at any time; the rest freezes when voting opens,
    and the currency as soon as money is pledged in it."""
    categories, objectives = _clean_lines(categories), _clean_lines(objectives)
    currency = round_.currency if currency is None else _currency(currency)
    methods = round_.eligibility_methods if methods is None else _methods(methods)
    declares = _declares(round_.declares if declares is None else declares, methods)
    frozen_changes = {
        "eligibility": (round_.eligibility, eligibility.strip()),
        "minimum_age": (round_.minimum_age, minimum_age),
        "eligibility_methods": (round_.eligibility_methods, methods),
        "declared_fields": (round_.declared_fields, declares),
        "max_project_cost": (round_.max_project_cost, max_project_cost),
        "currency": (round_.currency, currency),
        "categories": (names_of(session, round_, Category, "name"), categories),
        "objectives": (names_of(session, round_, CharterObjective, "title"), objectives),
    }
    changed = [key for key, (old, new) in frozen_changes.items() if old != new]
    if changed:
        guard_unfrozen(session, round_, actor=actor, attempted="round.updated", detail={"fields": changed})
    check_categories_kept(session, round_, categories)
    if currency != round_.currency and pots_of(session, round_):
        raise RoundError(
            _(
                "Money has already been pledged in %(currency)s, so the round's currency can no longer change.",
                currency=round_.currency,
            )
        )
    round_.currency = currency
    round_.title, round_.purpose = title.strip(), purpose.strip()
    round_.eligibility, round_.minimum_age = eligibility.strip(), minimum_age
    round_.eligibility_methods, round_.max_project_cost = methods, max_project_cost
    round_.declared_fields = declares
    session.add(round_)
    session.flush()
    _replace_names(session, round_, Category, "name", categories)
    _replace_names(session, round_, CharterObjective, "title", objectives)
    audit_round(
        session,
        round_,
        "round.updated",
        actor,
        title=round_.title,
        purpose=round_.purpose,
        eligibility=round_.eligibility,
        minimum_age=round_.minimum_age,
        eligibility_methods=methods,
        declared_fields=declares,
        max_project_cost=max_project_cost,
        categories=categories,
        objectives=objectives,
        currency=currency,
    )


def _currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise RoundError(_("Choose one of the currencies offered."))
    return currency


def _methods(methods: Iterable[str]) -> str:
    from flask import current_app

    from pb.mail import text_messages_available

    chosen = [m.value for m in EligibilityMethod if m.value in set(methods)]
    if not chosen:
        raise RoundError(_("Choose at least one way for residents to prove they may vote."))
    if EligibilityMethod.SMS.value in chosen and not text_messages_available(current_app.config):
        raise RoundError(
            _(
                "This pb cannot send text messages: whoever runs it must set up GOV.UK Notify first "
                "(PB_NOTIFY_API_KEY and PB_NOTIFY_SMS_TEMPLATE_ID). Choose another way for now."
            )
        )
    return ",".join(chosen)


def _declares(declares: Iterable[str], methods: str) -> str:
    """What residents declare, in a fixed order; with a declared identity, the name or the
    address must be among it (a postcode alone would make a street one voter)."""
    chosen = [f.value for f in DeclaredField if f.value in {str(d) for d in declares}]
    if EligibilityMethod.DECLARED.value in methods.split(",") and not {"name", "address"} & set(chosen):
        raise RoundError(_("Residents who declare who they are must give their name, their address or both."))
    return ",".join(chosen)


def _clean_lines(values: Iterable[str]) -> list[str]:
    seen = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def names_of(session: Session, round_: Round, model, column: str) -> list[str]:
    rows = session.exec(select(model).where(model.round_id == round_.id).order_by(model.id)).all()
    return [getattr(row, column) for row in rows]


def _replace_names(session: Session, round_: Round, model, column: str, values: Iterable[str]) -> None:
    wanted = _clean_lines(values)
    if model is Category:
        _check_distinct_when_published(wanted)
    existing = {getattr(row, column): row for row in session.exec(select(model).where(model.round_id == round_.id))}
    for name, row in existing.items():
        if name not in wanted:
            try:
                with savepoint(session):
                    session.delete(row)
                    session.flush()
            except IntegrityError:  # a proposal is filed under it (pb.proposals sits above rounds)
                raise RoundError(_IN_USE[model].format(name=name)) from None
    for name in wanted:
        if name not in existing:
            session.add(model(round_id=round_.id, **{column: name}))
    session.flush()


def _check_distinct_when_published(names: list[str]) -> None:
    """Categories keep their names apart in the published ballot file too, where commas
    and semicolons become spaces (pb.rounds.limits.pabulib_category): otherwise whoever
    rechecks the ballots could not tell which limit per category is which."""
    seen: dict[str, str] = {}
    for name in names:
        written = pabulib_category(name)
        if not written:
            raise RoundError(_("“%(name)s” cannot be a category: give it a name with letters or digits.", name=name))
        if written in seen:
            raise RoundError(
                _(
                    "“%(first)s” and “%(second)s” would read the same in the published ballot file, which turns "
                    "commas and semicolons into spaces: rename one of them.",
                    first=seen[written],
                    second=name,
                )
            )
        seen[written] = name


# Why a category or objective a proposal uses cannot be removed ({name}: the one typed).
_IN_USE: dict[type, str] = {
    Category: _l("A proposal is filed under the category “{name}”: it cannot be removed while a proposal uses it."),
    CharterObjective: _l("A proposal pursues the objective “{name}”: it cannot be removed while a proposal names it."),
}


class MovesOnNow(RoundError):
    """Dates that have passed, for phases the round has not reached: saving them would move
    the round on at once (a draft would go public), so it needs saying so."""


# Each date of the timeline, and the phase that starts then.
TIMELINE_PHASES = {
    "proposals_open_at": Phase.PROPOSALS_OPEN,
    "screening_at": Phase.SCREENING,
    "voting_opens_at": Phase.VOTING,
    "voting_closes_at": Phase.CLOSED,
    "results_at": Phase.RESULTS_PUBLISHED,
}


def phases_started(session: Session, round_: Round) -> dict[Phase, datetime]:
    """When each phase the round has reached really began, as its audit chain records the
    move (by hand, by the timeline or by the count), whatever the timeline had planned."""
    import json

    from pb.audit.models import AuditEvent, chain_key

    started: dict[Phase, datetime] = {}
    moves = session.exec(
        select(AuditEvent.data, AuditEvent.created_at)
        .where(AuditEvent.chain == chain_key(round_.id), AuditEvent.action == "round.phase_changed")
        .order_by(col(AuditEvent.seq))
    )
    for data, at in moves:
        try:
            phase = Phase(json.loads(data).get("to"))
        except (ValueError, AttributeError):
            continue  # an altered event: the log page says so; the timeline shows no date
        started.setdefault(phase, at)
    return started


def set_timeline(
    session: Session, round_: Round, *, actor: User, dates: dict[str, datetime | None], move_now: bool = False
) -> None:
    """Save the timeline. A date already past for a phase still to come moves the round on
    at once, so it is refused unless `move_now` says the lead means it."""
    guard_unfrozen(session, round_, actor=actor, attempted="round.timeline_set")
    order = list(TIMELINE_PHASES)
    given = [(key, date) for key in order if (date := dates.get(key)) is not None]
    for (_k1, earlier), (_k2, later) in itertools.pairwise(given):
        if later <= earlier:
            raise RoundError(_("Each date in the timeline must come after the one before it."))
    closes = dates.get("voting_closes_at")
    if closes is not None and closes < now() + MIN_VOTING:
        raise RoundError(_("Voting must stay open for at least a day: choose a closing date at least a day from now."))
    passed = [
        phase
        for key, phase in TIMELINE_PHASES.items()
        if (date := dates.get(key)) is not None and date <= now() and not round_.reached(phase)
    ]
    if passed and not move_now:
        raise MovesOnNow(
            _(
                "These dates have already passed, so saving them would move the round on at once "
                "(a draft becomes public): %(phases)s. Choose later dates, or tick the box to move the round on now.",
                phases=", ".join(str(PHASE_LABELS[phase]) for phase in passed),
            )
        )
    for key in order:
        setattr(round_, key, dates.get(key))
    session.add(round_)
    session.flush()
    audit_round(
        session,
        round_,
        "round.timeline_set",
        actor,
        **{key: value.isoformat() if value else None for key, value in ((k, dates.get(k)) for k in order)},
        move_now=bool(passed),
    )


def delete_draft(session: Session, round_: Round, *, actor: User) -> None:
    """The convening lead deletes a draft nobody else has seen. Its audit chain is
    append-only, so the round is kept, hidden from every page; the deletion ends its chain
    and is recorded in the platform's chain too, where the platform's admins read it.
    The round is read afresh with its row locked (as pb.lifecycle.lock does), so a move
    out of draft at the same moment is either seen here or waits."""
    round_ = session.get_one(Round, round_.id, with_for_update=True, populate_existing=True)
    if round_.phase != Phase.DRAFT.value or round_.deleted_at is not None:
        raise RoundError(_("Only a draft can be deleted. A round that has been public stays on record."))
    round_.deleted_at = now()
    session.add(round_)
    session.flush()
    audit_round(session, round_, "round.deleted", actor, title=round_.title)
    record_event(
        session,
        "round.deleted",
        actor=actor,
        organisation_id=round_.convening_organisation_id,
        data={"round": round_.id, "title": round_.title},
    )


# ---------------------------------------------------------------- areas and contests


def _check_postcodes(session: Session, round_: Round, postcodes: list[str], area_id: int | None) -> None:
    """Each postcode belongs to one area: refuse one that another area of the round already
    takes in, or that would take in part of another area (LS6 and LS6 1AA), naming it."""
    others = select(Area).where(Area.round_id == round_.id)
    if area_id is not None:
        others = others.where(Area.id != area_id)
    for other in session.exec(others.order_by(Area.name)):
        clashes = [
            mine for mine in postcodes for theirs in other.postcode_list if covers(mine, theirs) or covers(theirs, mine)
        ]
        if clashes:
            raise RoundError(
                _(
                    "%(postcodes)s overlap the postcodes of the area “%(area)s”: each postcode can belong to one area only.",
                    postcodes=", ".join(dict.fromkeys(clashes)),
                    area=other.name,
                )
            )


def _check_figures(population: int | None, electorate: int | None) -> None:
    """An area's population and electorate: whole numbers, 0 or more, the electorate within
    the population when both are given (the form says so first; this is for other callers)."""
    if any(n is not None and n < 0 for n in (population, electorate)):
        raise RoundError(_("Enter the number of people as a whole number, 0 or more."))
    if population is not None and electorate is not None and electorate > population:
        raise RoundError(_("The electorate cannot be larger than the population."))


def add_area(
    session: Session,
    round_: Round,
    *,
    actor: User,
    name: str,
    postcodes: list[str],
    population: int | None = None,
    electorate: int | None = None,
) -> Area:
    guard_unfrozen(session, round_, actor=actor, attempted="area.added", detail={"name": name})
    if session.exec(select(Area).where(Area.round_id == round_.id, Area.name == name.strip())).first():
        raise RoundError(_("This round already has an area with that name."))
    _check_postcodes(session, round_, postcodes, None)
    _check_figures(population, electorate)
    area = Area(
        round_id=round_.id,
        name=name.strip(),
        postcodes="\n".join(postcodes),
        population=population,
        electorate=electorate,
    )
    session.add(area)
    session.flush()
    audit_round(
        session,
        round_,
        "area.added",
        actor,
        area=area.id,
        name=area.name,
        postcodes=postcodes,
        population=population,
        electorate=electorate,
    )
    return area


def update_area(
    session: Session,
    area: Area,
    *,
    actor: User,
    name: str,
    postcodes: list[str],
    population: int | None,
    electorate: int | None,
) -> None:
    round_ = session.get_one(Round, area.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="area.updated", detail={"area": area.id})
    clash = session.exec(
        select(Area).where(Area.round_id == round_.id, Area.name == name.strip(), Area.id != area.id)
    ).first()
    if clash:
        raise RoundError(_("This round already has an area with that name."))
    _check_postcodes(session, round_, postcodes, area.id)
    _check_figures(population, electorate)
    area.name, area.postcodes = name.strip(), "\n".join(postcodes)
    area.population, area.electorate = population, electorate
    session.add(area)
    session.flush()
    audit_round(
        session,
        round_,
        "area.updated",
        actor,
        area=area.id,
        name=area.name,
        postcodes=postcodes,
        population=population,
        electorate=electorate,
    )


def correct_area_figures(
    session: Session, area: Area, *, actor: User, population: int | None, electorate: int | None
) -> None:
    """Correct an area's population and electorate, in any phase: they are facts about the
    area that turnout is a share of, not ballot rules, and change no ballot and no count.
    Each correction is in the round's audit log, with the figures it replaced."""
    round_ = session.get_one(Round, area.round_id)
    _check_figures(population, electorate)
    if (area.population, area.electorate) == (population, electorate):
        return
    was = {"population_was": area.population, "electorate_was": area.electorate}
    area.population, area.electorate = population, electorate
    session.add(area)
    session.flush()
    audit_round(
        session,
        round_,
        "area.figures_corrected",
        actor,
        area=area.id,
        name=area.name,
        population=population,
        electorate=electorate,
        **was,
    )


def _check_contest(session: Session, round_: Round, fields: dict, contest_id: int | None) -> None:
    if fields["rule"] not in RULES:
        raise RoundError(_("Choose one of the counting rules offered."))
    if fields["ballot_kind"] not in {kind.value for kind in BallotKind}:
        raise RoundError(_("Choose approval, ranked or points ballots."))
    if fields["ballot_kind"] == BallotKind.POINTS.value:
        _check_points(fields)
    area_id = fields.get("area_id")
    if area_id is not None:
        area = session.get(Area, area_id)
        if area is None or area.round_id != round_.id:
            raise RoundError(_("Choose an area of this round."))
    same_area = select(Contest).where(Contest.round_id == round_.id, Contest.area_id == area_id)
    if contest_id is not None:
        same_area = same_area.where(Contest.id != contest_id)
    if session.exec(same_area).first():
        raise RoundError(_("There is already a ballot paper for that area."))
    if fields["ballot_kind"] == BallotKind.APPROVAL.value and fields["min_picks"] < 1:
        raise RoundError(_("Voters must tick at least one project: a ballot with nothing ticked counts for nothing."))
    if fields["ballot_kind"] == BallotKind.APPROVAL.value and fields["max_picks"] < fields["min_picks"]:
        raise RoundError(_("The most picks cannot be fewer than the fewest."))
    check_contest_keeps_limits(session, contest_id, fields["ballot_kind"], fields["max_picks"])


def _check_points(fields: dict) -> None:
    if fields["rule"] not in POINTS_RULES:
        raise RoundError(
            _(
                "Points ballots cannot be counted with the comparison step, which counts projects, not points. "
                "Choose another counting rule."
            )
        )
    total, most = fields["points_total"], fields["points_max"]
    if total is None or not 1 <= total <= MAX_POINTS:
        raise RoundError(_("Give each voter between 1 and %(max)d points.", max=MAX_POINTS))
    if most is None or not 1 <= most <= total:
        raise RoundError(
            _("The most points on one project must be between 1 and the %(total)d points each voter has.", total=total)
        )


CONTEST_FIELDS = (
    "name",
    "area_id",
    "ballot_kind",
    "min_picks",
    "max_picks",
    "limit_to_budget",
    "rank_depth",
    "points_total",
    "points_max",
    "rule",
)


def add_contest(session: Session, round_: Round, *, actor: User, **fields) -> Contest:
    guard_unfrozen(session, round_, actor=actor, attempted="contest.added", detail={"name": fields.get("name")})
    fields = {"points_total": POINTS_TOTAL, "points_max": POINTS_MAX, **fields}
    _check_contest(session, round_, fields, None)
    contest = Contest(round_id=round_.id, **{key: fields[key] for key in CONTEST_FIELDS})
    session.add(contest)
    session.flush()
    audit_round(session, round_, "contest.added", actor, contest=contest.id, **{k: fields[k] for k in CONTEST_FIELDS})
    return contest


def update_contest(session: Session, contest: Contest, *, actor: User, **fields) -> None:
    round_ = session.get_one(Round, contest.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="contest.updated", detail={"contest": contest.id})
    fields = {"points_total": contest.points_total, "points_max": contest.points_max, **fields}
    _check_contest(session, round_, fields, contest.id)
    for key in CONTEST_FIELDS:
        setattr(contest, key, fields[key])
    session.add(contest)
    session.flush()
    audit_round(session, round_, "contest.updated", actor, contest=contest.id, **{k: fields[k] for k in CONTEST_FIELDS})


def contests_of(session: Session, round_: Round) -> list[Contest]:
    return list(
        session.exec(
            select(Contest)
            .where(col(Contest.round_id) == round_.id)
            .order_by(col(Contest.area_id).is_not(None), col(Contest.id))
        )
    )


def areas_of(session: Session, round_: Round) -> list[Area]:
    return list(session.exec(select(Area).where(Area.round_id == round_.id).order_by(Area.name)))


# ---------------------------------------------------------------- partners and pots


def invite_partner(session: Session, round_: Round, *, actor: User, organisation: Organisation) -> Partner:
    guard_unfrozen(session, round_, actor=actor, attempted="partner.invited", detail={"organisation": organisation.id})
    if organisation.kind != OrganisationKind.ANCHOR.value:
        raise RoundError(_("Only anchor institutions can fund a round."))
    officer = session.get(User, round_.returning_officer_id) if round_.returning_officer_id else None
    if officer is not None and is_member_of(session, officer, organisation):
        raise RoundError(
            _(
                "The round's returning officer belongs to %(name)s, so it cannot fund this round.",
                name=organisation.name,
            )
        )
    if (
        organisation.id == round_.convening_organisation_id
        or session.exec(
            select(Partner).where(Partner.round_id == round_.id, Partner.organisation_id == organisation.id)
        ).first()
    ):
        raise RoundError(_("%(name)s is already taking part in this round.", name=organisation.name))
    partner = Partner(round_id=round_.id, organisation_id=organisation.id)
    session.add(partner)
    session.flush()
    audit_round(session, round_, "partner.invited", actor, partner_organisation=organisation.id, name=organisation.name)
    notices.partner_invited(session, round_, organisation)
    return partner


# ---------------------------------------------------------------- the returning officer


def funds_the_round(session: Session, round_: Round, user: User) -> bool:
    """Whether `user` belongs to the convening anchor or a partner anchor of the round."""
    mine = set(session.exec(select(Membership.organisation_id).where(Membership.user_id == user.id)))
    return bool(mine & funding_organisation_ids(session, round_))


def appoint_returning_officer(session: Session, round_: Round, *, actor: User, user: User) -> None:
    """The convening lead appoints the round's returning officer while setting it up:
    anyone with an account who belongs to none of the anchors funding the round."""
    guard_unfrozen(
        session, round_, actor=actor, attempted="returning_officer.appointed", detail={"user": person(user, round_.id)}
    )
    if funds_the_round(session, round_, user):
        raise RoundError(
            _(
                "The returning officer cannot belong to an anchor that funds this round. "
                "Ask someone independent, such as a community anchor or another public body."
            )
        )
    previous, round_.returning_officer_id = round_.returning_officer_id, user.id
    session.add(round_)
    session.flush()
    replaced = session.get(User, previous) if previous else None
    # People appear in the public log by their pseudonym in the round's chain, never their account number.
    audit_round(
        session,
        round_,
        "returning_officer.appointed",
        actor,
        user=person(user, round_.id),
        name=user.name,
        replaces=person(replaced, round_.id) if replaced else None,
    )
    if previous != user.id:
        notices.returning_officer_appointed(session, round_, user)


def is_returning_officer(session: Session, round_: Round, user) -> bool:
    """Whether `user` is the round's returning officer, and still funds none of it."""
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and round_.returning_officer_id == user.id
        and not funds_the_round(session, round_, user)
    )


def rounds_of(session: Session, organisation_ids: list[int]) -> list[Round]:
    """Rounds that these organisations convene or fund, newest first."""
    partner_rounds = select(col(Partner.round_id)).where(col(Partner.organisation_id).in_(organisation_ids))
    return list(
        session.exec(
            select(Round)
            .where(
                col(Round.convening_organisation_id).in_(organisation_ids) | col(Round.id).in_(partner_rounds),
                col(Round.deleted_at).is_(None),
            )
            .order_by(col(Round.created_at).desc())
        )
    )


def funding_organisation_ids(session: Session, round_: Round) -> set[int]:
    """The convening anchor and every partner anchor: those who may pledge pots."""
    partners = session.exec(select(Partner.organisation_id).where(Partner.round_id == round_.id)).all()
    return {round_.convening_organisation_id, *partners}


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise RoundError(_("A pot must hold some money."))
    if amount > MAX_POT:
        raise RoundError(_("That amount is too large. Please check it."))


def pledge_pot(
    session: Session,
    round_: Round,
    *,
    actor: User,
    organisation: Organisation,
    contest: Contest,
    name: str,
    amount: int,
) -> Pot:
    guard_unfrozen(
        session, round_, actor=actor, attempted="pot.pledged", detail={"contest": contest.id, "amount": amount}
    )
    if contest.round_id != round_.id:
        raise RoundError(_("Choose a ballot paper of this round."))
    if organisation.id not in funding_organisation_ids(session, round_):
        raise RoundError(_("Only the convening anchor and its invited partners can pledge money to this round."))
    if not is_member_of(session, actor, organisation):
        raise RoundError(_("You can only pledge money on behalf of your own organisation."))
    _check_amount(amount)
    pot = Pot(contest_id=contest.id, organisation_id=organisation.id, name=name.strip(), amount=amount)
    session.add(pot)
    session.flush()
    audit_round(
        session,
        round_,
        "pot.pledged",
        actor,
        organisation_id=organisation.id,
        pot=pot.id,
        contest=contest.id,
        name=pot.name,
        amount=amount,
        currency=round_.currency,
    )
    return pot


def raise_pot(session: Session, pot: Pot, *, actor: User, amount: int) -> None:
    """A pledge can grow before voting opens; it can never shrink or be withdrawn."""
    contest = session.get_one(Contest, pot.contest_id)
    round_ = session.get_one(Round, contest.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="pot.raised", detail={"pot": pot.id, "amount": amount})
    organisation = session.get_one(Organisation, pot.organisation_id)
    if not is_member_of(session, actor, organisation):
        raise RoundError(_("You can only change your own organisation's pledges."))
    if amount < pot.amount:
        raise RoundError(_("A pledge cannot be reduced or withdrawn; it can only be raised."))
    _check_amount(amount)
    previous, pot.amount = pot.amount, amount
    session.add(pot)
    session.flush()
    audit_round(
        session,
        round_,
        "pot.raised",
        actor,
        organisation_id=organisation.id,
        pot=pot.id,
        **{"from": previous, "to": amount},
    )


def contest_budgets(session: Session, round_: Round) -> dict[int, int]:
    """Each contest's budget: the sum of its pots, in minor units."""
    rows = session.exec(
        select(Pot.contest_id, func.sum(Pot.amount))
        .join(Contest, col(Contest.id) == col(Pot.contest_id))
        .where(Contest.round_id == round_.id)
        .group_by(col(Pot.contest_id))
    ).all()
    return {contest_id: int(total) for contest_id, total in rows}


def pots_of(session: Session, round_: Round) -> list[tuple[Pot, Organisation]]:
    return list(
        session.exec(
            select(Pot, Organisation)
            .join(Contest, col(Contest.id) == col(Pot.contest_id))
            .join(Organisation, col(Organisation.id) == col(Pot.organisation_id))
            .where(Contest.round_id == round_.id)
            .order_by(col(Organisation.name), col(Pot.id))
        ).all()
    )
