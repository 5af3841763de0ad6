"""Limits on parts of an approval ballot paper: at least or at most so many projects of one
category ("Choose at most 2 projects in Parks and green spaces").

The convening lead sets them per ballot paper until voting opens; then they freeze with
the rest of the paper (pb.rounds.freeze). Only categories have limits: a project's area
is its ballot paper's, so the projects on a round-wide paper carry no area of their own.

The check of a ballot is plain data in, a message out (`broken_limit`): the voting service
calls it with the frozen ballot paper, which carries the limits and each project's category.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from pb.rounds.freeze import guard_unfrozen
from pb.rounds.models import BallotKind, Category, Contest, Round
from pb.rounds.record import RoundError, audit_round


class ContestLimit(SQLModel, table=True):
    """At least `min_picks` and at most `max_picks` (None: no most of its own) projects of
    one category on one approval ballot paper."""

    __tablename__ = "contest_limit"
    __table_args__ = (
        UniqueConstraint("contest_id", "category_id"),
        CheckConstraint("min_picks >= 0", name="min_picks_not_negative"),
        CheckConstraint("max_picks IS NULL OR max_picks >= min_picks", name="max_not_below_min"),
        CheckConstraint("min_picks > 0 OR max_picks IS NOT NULL", name="limits_something"),
    )

    id: int = Field(default=None, primary_key=True)
    contest_id: int = Field(foreign_key="contest.id", index=True)
    category_id: int = Field(foreign_key="category.id", index=True)
    min_picks: int = 0
    max_picks: int | None = None


@dataclass(frozen=True)
class Limit:
    """One limit as the ballot paper carries it (plain data: kept by each worker once frozen)."""

    category_id: int
    category: str
    min_picks: int
    max_picks: int | None

    @property
    def sentence(self) -> str:
        """The rule as residents read it above the projects."""
        if self.max_picks is None:
            return ngettext(
                "%(category)s: tick at least %(num)d project.",
                "%(category)s: tick at least %(num)d projects.",
                self.min_picks,
                category=self.category,
            )
        if self.min_picks == 0:
            return ngettext(
                "%(category)s: tick at most %(num)d project.",
                "%(category)s: tick at most %(num)d projects.",
                self.max_picks,
                category=self.category,
            )
        if self.min_picks == self.max_picks:
            return ngettext(
                "%(category)s: tick %(num)d project.",
                "%(category)s: tick %(num)d projects.",
                self.max_picks,
                category=self.category,
            )
        return ngettext(
            "%(category)s: tick between %(min)d and %(num)d project.",
            "%(category)s: tick between %(min)d and %(num)d projects.",
            self.max_picks,
            min=self.min_picks,
            category=self.category,
        )


def limits_of(session: Session, contest_id: int) -> tuple[Limit, ...]:
    """The limits of a ballot paper, by category name."""
    rows = session.exec(
        select(ContestLimit, Category)
        .join(Category, col(Category.id) == col(ContestLimit.category_id))
        .where(col(ContestLimit.contest_id) == contest_id)
        .order_by(col(Category.name))
    )
    return tuple(Limit(category.id, category.name, row.min_picks, row.max_picks) for row, category in rows)


def broken_limit(
    limits: tuple[Limit, ...], categories: Mapping[int, int | None], choices: Mapping[int, object]
) -> str | None:
    """What is wrong with a ballot's choices (project ids) under its paper's limits, for the
    voter; None when every limit is kept. `categories` gives each project's category."""
    for limit in limits:
        ticked = sum(1 for pid in choices if categories.get(pid) == limit.category_id)
        if ticked < limit.min_picks:
            return ngettext(
                "Choose at least %(num)d project in %(category)s.",
                "Choose at least %(num)d projects in %(category)s.",
                limit.min_picks,
                category=limit.category,
            )
        if limit.max_picks is not None and ticked > limit.max_picks:
            return ngettext(
                "Choose at most %(num)d project in %(category)s.",
                "Choose at most %(num)d projects in %(category)s.",
                limit.max_picks,
                category=limit.category,
            )
    return None


def pabulib_category(name: str) -> str:
    """A category's name as a Pabulib file writes it: a comma would split it in two
    (a project's ``category`` column lists categories separated by commas), and a
    semicolon would split the limits below."""
    return " ".join(name.replace(",", " ").replace(";", " ").split())


def pabulib_limits(limits: tuple[Limit, ...], max_picks: int) -> str:
    """The limits in one META value, ``category:fewest-most`` joined by ``;``, e.g.
    ``Parks:0-2;Youth:1-3``; a limit with no most of its own has the paper's (its
    ``max_length``). Pabulib has no key for them: see docs/counting.md."""
    return ";".join(
        f"{pabulib_category(limit.category)}:{limit.min_picks}-{max_picks if limit.max_picks is None else limit.max_picks}"
        for limit in limits
    )


def set_limits(
    session: Session, contest: Contest, *, actor, limits: Mapping[int, tuple[int | None, int | None]]
) -> None:
    """Replace a ballot paper's limits: for each category id, (fewest, most), either None
    for no limit that way; a category with neither has no limit. Refused once voting opened
    (recorded), for a paper that is not approval, and for limits no ballot could keep."""
    round_ = session.get_one(Round, contest.round_id)
    guard_unfrozen(session, round_, actor=actor, attempted="contest.limits_set", detail={"contest": contest.id})
    if contest.ballot_kind != BallotKind.APPROVAL.value:
        raise RoundError(_("Only approval ballot papers can have limits per category."))
    names = {c.id: c.name for c in session.exec(select(Category).where(col(Category.round_id) == round_.id))}
    wanted: dict[int, tuple[int, int | None]] = {}
    for category_id, (fewest, most) in limits.items():
        if category_id not in names:
            raise RoundError(_("Choose a category of this round."))
        if fewest is None and most is None:
            continue
        fewest = fewest or 0
        if most is not None and most < fewest:
            raise RoundError(_("%(category)s: the most cannot be fewer than the fewest.", category=names[category_id]))
        if fewest == 0 and most is None:
            continue
        wanted[category_id] = (fewest, most)
    _check_fits(wanted, names, contest.max_picks)
    for row in session.exec(select(ContestLimit).where(col(ContestLimit.contest_id) == contest.id)):
        session.delete(row)
    session.flush()
    for category_id, (fewest, most) in wanted.items():
        session.add(ContestLimit(contest_id=contest.id, category_id=category_id, min_picks=fewest, max_picks=most))
    session.flush()
    audit_round(
        session,
        round_,
        "contest.limits_set",
        actor,
        contest=contest.id,
        # As people read them in the public log, e.g. "Parks: 0-2", "Youth: 1-" (no most of its own).
        limits=sorted(
            f"{names[cid]}: {fewest}-{'' if most is None else most}" for cid, (fewest, most) in wanted.items()
        ),
    )


def _check_fits(wanted: Mapping[int, tuple[int, int | None]], names: Mapping[int, str], max_picks: int) -> None:
    """Limits a ballot within the paper's own most could keep: the fewest of all the
    categories together cannot be more than a voter may tick."""
    for category_id, (fewest, _most) in wanted.items():
        if fewest > max_picks:
            raise RoundError(
                ngettext(
                    "%(category)s: a voter may tick at most %(num)d project on this ballot paper, "
                    "so the fewest in one category cannot be more.",
                    "%(category)s: a voter may tick at most %(num)d projects on this ballot paper, "
                    "so the fewest in one category cannot be more.",
                    max_picks,
                    category=names[category_id],
                )
            )
    total = sum(fewest for fewest, _most in wanted.values())
    if total > max_picks:
        raise RoundError(
            ngettext(
                "The fewest in each category add up to %(total)d, but a voter may tick at most %(num)d project "
                "on this ballot paper.",
                "The fewest in each category add up to %(total)d, but a voter may tick at most %(num)d projects "
                "on this ballot paper.",
                max_picks,
                total=total,
            )
        )


def check_contest_keeps_limits(session: Session, contest_id: int | None, ballot_kind: str, max_picks: int) -> None:
    """A change to a ballot paper that its limits would no longer fit (another kind of
    ballot, fewer picks) is refused until the limits are changed first."""
    if contest_id is None:
        return
    rows = session.exec(
        select(ContestLimit, Category)
        .join(Category, col(Category.id) == col(ContestLimit.category_id))
        .where(col(ContestLimit.contest_id) == contest_id)
    ).all()
    if not rows:
        return
    if ballot_kind != BallotKind.APPROVAL.value:
        raise RoundError(
            _(
                "This ballot paper has limits per category, which only approval ballots can have: "
                "remove them first on its limits page."
            )
        )
    _check_fits(
        {row.category_id: (row.min_picks, row.max_picks) for row, _category in rows},
        {category.id: category.name for _row, category in rows},
        max_picks,
    )


def check_categories_kept(session: Session, round_: Round, categories: list[str]) -> None:
    """A category that a ballot paper's limits name cannot be removed from the round."""
    named = session.exec(
        select(Category.name)
        .join(ContestLimit, col(ContestLimit.category_id) == col(Category.id))
        .where(col(Category.round_id) == round_.id)
        .order_by(col(Category.name))
    ).all()
    gone = [name for name in dict.fromkeys(named) if name not in categories]
    if gone:
        raise RoundError(
            _(
                "A ballot paper has limits for the category “%(category)s”: remove them first on its limits page.",
                category=gone[0],
            )
        )
