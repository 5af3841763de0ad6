"""Counting a closed round with its frozen rules, and reading the published results.

The count uses only pb.tally: the same code `pb tally` runs on the published file.
"""

import hashlib
import json
import math
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from flask_babel import gettext as _
from sqlalchemy import func, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from pb.audit.chain import record_event
from pb.audit.models import AuditEvent, chain_key
from pb.proposals.models import Project
from pb.proposals.services import categories_of_projects, projects_of
from pb.refusal import Refusal
from pb.results.models import ContestResult, RoundTurnout
from pb.rounds.limits import limits_of, pabulib_category, pabulib_limits
from pb.rounds.models import Area, BallotKind, Category, Contest, Phase, Pot, Round
from pb.rounds.services import contest_budgets
from pb.tally import count, make_election, parse_pabulib, write_pabulib
from pb.tally.election import format_number
from pb.tally.pabulib import LINE_BREAKS_IN_VALUE
from pb.voting.models import Ballot, BallotChoice, Voter
from pb.voting.services import ballot_by_receipt, code_figures


class CountRefused(Refusal):
    """An attempt to count otherwise than the frozen rules say; it is logged."""


def pounds(minor_units: int) -> str:
    """Minor units as the decimal number the Pabulib file carries ('1250.5')."""
    return format_number(Fraction(minor_units, 100))


def minor_units(value, *, down: bool = False) -> int:
    """A number from an outcome (int, '1250.5' or '1/3' pounds) as whole pence, rounded;
    or rounded down, for money someone had left, which must never look like enough."""
    pence = Fraction(str(value)) * 100
    return math.floor(pence) if down else round(pence)


def _counted_ballots(session: Session, contest: Contest) -> list[tuple[int, list[tuple[int, int | None]]]]:
    """Each counted ballot's choices: (project, rank) for ranked ballots, (project, points)
    for points ballots, (project, None) for approval."""
    value = BallotChoice.points if contest.ballot_kind == BallotKind.POINTS.value else BallotChoice.rank
    rows = session.exec(
        select(Ballot.id, BallotChoice.project_id, value)
        .join(BallotChoice, col(BallotChoice.ballot_id) == col(Ballot.id))
        .where(Ballot.contest_id == contest.id, Ballot.counted)
        .order_by(col(Ballot.id))
    )
    ballots: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for ballot_id, project_id, rank in rows:
        ballots[ballot_id].append((project_id, rank))
    return sorted(ballots.items())


def project_categories(session: Session, contest: Contest) -> dict[int, str]:
    """Each of a contest's projects that has a category: its name as the ballot file writes it."""
    names = {
        c.id: pabulib_category(c.name)
        for c in session.exec(select(Category).where(col(Category.round_id) == contest.round_id))
    }
    return {pid: names[cid] for pid, cid in categories_of_projects(session, contest).items() if cid is not None}


def paper_terms(session: Session, round_: Round, contest: Contest) -> dict:
    """What a ballot paper's count depends on, as its ballot file writes it: the META keys
    of the count (budget, rule, kind of ballot, its lengths, points, limits per category)
    and each project (id, cost, name, category) in the ballot order. Recorded in the audit
    log when voting opens (pb.lifecycle), and compared with the counted file by `pb audit
    verify`: the terms the voters saw are the terms that were counted."""
    projects = projects_of(session, contest)  # the ballot order, which breaks ties in the count
    ranked = contest.ballot_kind == BallotKind.RANKED.value
    points = contest.ballot_kind == BallotKind.POINTS.value
    meta = {
        "budget": pounds(contest_budgets(session, round_).get(contest.id, 0)),
        "vote_type": "ordinal" if ranked else "cumulative" if points else "approval",
        "rule": contest.rule,
        "min_length": str(1 if ranked or points else contest.min_picks),
        "max_length": str(
            contest.rank_depth if ranked else min(contest.points_total, len(projects)) if points else contest.max_picks
        ),
    }
    if points:
        # Pabulib's keys for cumulative ballots: the points each voter has, and the most on one project.
        meta["max_sum_points"] = str(contest.points_total)
        meta["max_points"] = str(contest.points_max)
    # Only a paper with limits per category says them, and its projects' categories: a file
    # counted before limits existed must come out byte for byte the same on a recount.
    limits = limits_of(session, contest.id)
    if limits:
        meta["category_limits"] = pabulib_limits(limits, contest.max_picks)
    categories = project_categories(session, contest) if limits else {}
    return {
        "meta": meta,
        "projects": [
            {"project_id": str(p.id), "cost": pounds(p.cost), "name": LINE_BREAKS_IN_VALUE.sub(" ", p.title)}
            | ({"category": categories.get(p.id, "")} if categories else {})
            for p in projects
        ],
    }


TERMS_FROZEN = "ballot.terms_frozen"


def freeze_terms(session: Session, round_: Round) -> None:
    """When voting opens, after the ballot order is drawn: record each ballot paper's terms
    (paper_terms) in the round's audit log, where `pb audit verify` finds them."""
    contests = session.exec(select(Contest).where(col(Contest.round_id) == round_.id).order_by(col(Contest.id)))
    record_event(
        session,
        TERMS_FROZEN,
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        data={"contests": [{"contest": c.id, **paper_terms(session, round_, c)} for c in contests]},
    )


def frozen_terms(session: Session, round_: Round) -> list[dict[int, dict]]:
    """Each ballot paper's terms as recorded when voting opened, for every such event in
    the round's log: one, or none for a round that opened before pb recorded them (more
    than one means someone recorded terms again)."""
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.chain) == chain_key(round_.id), col(AuditEvent.action) == TERMS_FROZEN)
        .order_by(col(AuditEvent.seq))
    ).all()
    return [{entry["contest"]: entry for entry in json.loads(event.data)["contests"]} for event in events]


def ballot_file(session: Session, round_: Round, contest: Contest, seed: str) -> tuple[str, dict]:
    """Count a contest's counted ballots (see count_round) with its frozen rule; returns the
    anonymised ballot file (with the `selected` column) and the outcome as plain data."""
    terms = paper_terms(session, round_, contest)
    ballots = _counted_ballots(session, contest)
    random.Random(seed).shuffle(ballots)  # no trace of who voted when
    ranked = contest.ballot_kind == BallotKind.RANKED.value
    votes: list = (
        [{str(pid): given for pid, given in sorted(choices)} for _ballot_id, choices in ballots]  # {project: points}
        if contest.ballot_kind == BallotKind.POINTS.value
        else [
            [str(pid) for pid, _rank in sorted(choices, key=lambda c: (c[1] or 0) if ranked else c[0])]
            for _ballot_id, choices in ballots
        ]
    )
    area = session.get(Area, contest.area_id) if contest.area_id else None
    meta = {
        "description": f"{round_.title}: {contest.name}",
        "country": "United Kingdom",
        "unit": round_.title,
        "subunit": area.name if area else "",
        "instance": str(round_.voting_opens_at.year if round_.voting_opens_at else round_.created_at.year),
        "currency": round_.currency,
        **{key: value for key, value in terms["meta"].items() if key not in ("budget", "vote_type")},
    }
    if ranked:
        meta["comment"] = f"Ranks become points: {contest.rank_depth} for a first choice, one fewer for each next."
    election = make_election(
        budget=terms["meta"]["budget"],
        projects=terms["projects"],
        ballots=votes,
        vote_type=terms["meta"]["vote_type"],
        rule=contest.rule,
        meta={k: v for k, v in meta.items() if v},
        max_length=contest.rank_depth if ranked else None,
    )
    outcome = count(election)
    text = write_pabulib(election, selected=outcome.selected)
    return text, outcome.to_dict()


def count_round(session: Session, round_: Round) -> list[ContestResult]:
    """Count every contest of a round that has just closed (flushes; the caller commits).

    The caller holds the round's row locked (pb.lifecycle), so no ballot is cast during
    the count. The ballots counted are marked first, and everything after reads the mark:
    the file, the receipts list, the receipt check and the turnout."""
    contests = session.exec(select(Contest.id).where(Contest.round_id == round_.id)).all()
    session.exec(
        update(Ballot).where(col(Ballot.contest_id).in_(contests), col(Ballot.is_current)).values(counted=True)
    )
    results = []
    for contest in session.exec(select(Contest).where(col(Contest.round_id) == round_.id).order_by(col(Contest.id))):
        seed = secrets.token_hex(16)
        text, outcome = ballot_file(session, round_, contest, seed)
        result = ContestResult(
            contest_id=contest.id,
            rule=contest.rule,
            ballot_file=text,
            file_sha256=hashlib.sha256(text.encode()).hexdigest(),
            outcome=json.dumps(outcome, sort_keys=True),
            ballots=len(parse_pabulib(text).ballots),
            shuffle_seed=seed,
        )
        session.add(result)
        results.append(result)
    turnout = session.exec(
        select(
            col(Voter.area_id),
            col(Ballot.channel),
            col(Voter.method),
            func.count(func.distinct(col(Ballot.voter_id))),
            func.count(col(Ballot.id)),
        )
        .join(Voter, Voter.id == Ballot.voter_id)
        .where(Voter.round_id == round_.id, Ballot.counted)
        .group_by(Voter.area_id, Ballot.channel, Voter.method)
    ).all()
    codes = code_figures(session, round_)
    figures = json.dumps(
        [
            {"area": area, "channel": channel, "method": method, "voters": n, "ballots": b}
            for area, channel, method, n, b in turnout
        ]
    )
    session.add(RoundTurnout(round_id=round_.id, figures=figures, codes=json.dumps(codes)))
    session.flush()
    record_event(
        session,
        "round.counted",
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        # The results are bound to the chain now, and shown with the results: each ballot
        # file's SHA-256, its receipts list's SHA-256 and the funded set, the voting codes'
        # figures and the turnout's SHA-256 (pb audit verify recounts and compares).
        until_results={
            "contests": [
                {
                    "contest": r.contest_id,
                    "rule": r.rule,
                    "ballots": r.ballots,
                    "sha256": r.file_sha256,
                    "receipts_sha256": hashlib.sha256(receipts_text(session, r.contest_id).encode()).hexdigest(),
                    "selected": json.loads(r.outcome)["selected"],
                }
                for r in results
            ],
            "codes": codes,
            # The turnout the results pages show by channel: pb audit verify compares.
            "turnout_sha256": hashlib.sha256(figures.encode()).hexdigest(),
        },
    )
    return results


def recount(session: Session, round_: Round, *, actor, rule: str | None = None) -> list[bool]:
    """Count again, to show the stored result stands: with the frozen rule only, and
    the same secret order, so the file must come out byte for byte the same."""
    contests = list(session.exec(select(Contest).where(col(Contest.round_id) == round_.id).order_by(col(Contest.id))))
    if rule is not None and any(rule != c.rule for c in contests):
        round_id, phase = round_.id, round_.phase
        raise CountRefused(
            _("The count uses the rule published before voting. It cannot be counted with another."),
            record=lambda session: record_event(
                session,
                "round.change_refused",
                actor=actor,
                round_id=round_id,
                data={"attempted": "recount.other_rule", "rule": rule, "phase": phase},
            ),
        )
    if not round_.reached(Phase.COUNTED):
        raise CountRefused(_("This round has not been counted yet."))
    matches = []
    for contest in contests:
        stored = session.exec(select(ContestResult).where(ContestResult.contest_id == contest.id)).one()
        text, _outcome = ballot_file(session, round_, contest, stored.shuffle_seed)
        matches.append(hashlib.sha256(text.encode()).hexdigest() == stored.file_sha256)
    record_event(
        session,
        "round.recounted",
        actor=actor,
        round_id=round_.id,
        organisation_id=round_.convening_organisation_id,
        data={"identical": matches},
    )
    return matches


# ---------------------------------------------------------------- reading results


@dataclass
class ContestView:
    contest: Contest
    area: Area | None
    result: ContestResult
    outcome: dict
    projects: list[Project]
    budget: int
    pots: list[tuple[Pot, str]]

    @property
    def selected(self) -> list[int]:
        return [int(pid) for pid in self.outcome["selected"]]

    @property
    def used(self) -> int:
        return sum(p.cost for p in self.projects if p.id in set(self.selected))

    def score(self, project: Project):
        return self.outcome["scores"].get(str(project.id), 0)

    def supporters(self, project: Project) -> int:
        return self.outcome["supporters"].get(str(project.id), 0)

    @property
    def top_score(self) -> float:
        """The largest score, for scaling a chart (never zero)."""
        return max((float(Fraction(str(self.score(p)))) for p in self.projects), default=0) or 1

    def ranked(self) -> list[Project]:
        """Projects with the most support first (ties: funded first, then in ballot order)."""
        chosen = set(self.selected)
        return sorted(
            self.projects, key=lambda p: (-Fraction(str(self.score(p))), p.id not in chosen, p.ballot_position)
        )

    @property
    def share(self) -> int | None:
        """add1: each voter's share of the budget in the run that decided, in pence."""
        value = self.outcome["explanation"].get("per_voter_budget")
        if value is None or not self.result.rule.startswith("equalshares/add1"):
            return None
        return minor_units(value)

    def explain(self, project: Project) -> dict:
        """Why a project was or was not funded, as a code and the figures for a sentence
        (money in pence; a project the count names, as a Project)."""
        explanation = self.outcome["explanation"]
        pid = str(project.id)
        if pid in self.outcome["selected"]:
            comparison = explanation.get("comparison") or {}
            step = next((s for s in explanation.get("steps", []) if s["project_id"] == pid), None)
            if explanation["kind"] == "greedy" and step is not None:
                return {"code": "greedy_funded", "left": minor_units(step["remaining"])}
            if comparison.get("chosen") == "greedy":
                return {"code": "greedy_chosen"}
            for number, winner in enumerate(explanation["rounds"], start=1):
                if winner["project_id"] == pid:
                    groups = [
                        {"supporters": g["supporters"], "paid": minor_units(g["paid_each"]), "all": g["all_they_had"]}
                        for g in winner["payments"]
                    ]
                    return {"code": "shares_funded", "step": number, "groups": groups}
            return {"code": "funded"}
        reason = explanation["unfunded"].get(pid, {})
        code = reason.get("code", "not_funded")
        figures = reason.get("figures") or {}
        details = {"code": code}
        if code in ("does_not_fit", "not_affordable"):
            details["left"] = None  # not known for results counted before reasons had figures
            if "left" in figures:
                details["left"] = minor_units(figures["left"], down=True)
            elif code == "does_not_fit":  # greedy: the money left after the step before
                step = next((s for s in explanation.get("steps", []) if s["project_id"] == pid), None)
                details["left"] = minor_units(step["remaining"], down=True) if step else None
            details["cost"] = minor_units(figures["cost"]) if "cost" in figures else project.cost
            details["share"] = self.share
        elif code == "below_threshold" and {"score", "threshold"} <= set(figures):
            details.update(score=figures["score"], threshold=figures["threshold"])
        elif code == "stopped":
            details["at"] = next((p for p in self.projects if str(p.id) == str(figures.get("at"))), None)
        return details

    def ties(self) -> list[list[Project]]:
        """The ties that the ballot order decided (one of the tied projects was not funded
        because of it): each as the tied projects, in the order the ballot order put them."""
        by_id = {str(p.id): p for p in self.projects}
        return [
            [by_id[str(pid)] for pid in tie["projects"] if str(pid) in by_id]
            for tie in self.outcome["explanation"].get("ties") or []
            if tie.get("decisive")
        ]

    def attribution(self) -> dict[int, list[tuple[str, int]]]:
        """Funded projects paid for by each pot in proportion to its share of the budget,
        in whole pence (largest remainders get the odd penny)."""
        shares = {}
        for project in self.projects:
            if project.id not in set(self.selected) or not self.budget:
                continue
            amounts = pro_rata(project.cost, [pot.amount for pot, _name in self.pots])
            shares[project.id] = [(name, amount) for (_pot, name), amount in zip(self.pots, amounts, strict=True)]
        return shares


def pro_rata(cost: int, pots: list[int]) -> list[int]:
    """A cost split between pots in proportion to their amounts, in whole pence that add
    up to the cost exactly: each pot gets its share rounded down, and the pence left go to
    the largest remainders (the earlier pot first on a tie). The one way pb attributes money."""
    budget = sum(pots)
    exact = [Fraction(cost * amount, budget) for amount in pots]
    amounts = [int(value) for value in exact]
    order = sorted(range(len(pots)), key=lambda i: exact[i] - amounts[i], reverse=True)
    for i in order[: cost - sum(amounts)]:
        amounts[i] += 1
    return amounts


def contest_views(session: Session, round_: Round) -> list[ContestView]:
    from pb.accounts.models import Organisation

    budgets = contest_budgets(session, round_)
    views = []
    for contest in session.exec(
        select(Contest)
        .where(col(Contest.round_id) == round_.id)
        .order_by(col(Contest.area_id).is_not(None), col(Contest.id))
    ):
        result = session.exec(select(ContestResult).where(ContestResult.contest_id == contest.id)).first()
        if result is None:
            continue
        pots = session.exec(
            select(Pot, col(Organisation.name))
            .join(Organisation, col(Organisation.id) == col(Pot.organisation_id))
            .where(col(Pot.contest_id) == contest.id)
            .order_by(col(Pot.id))
        ).all()
        views.append(
            ContestView(
                contest=contest,
                area=session.get(Area, contest.area_id) if contest.area_id else None,
                result=result,
                outcome=json.loads(result.outcome),
                projects=projects_of(session, contest),
                budget=budgets.get(contest.id, 0),
                pots=[(pot, f"{pot.name} ({org})") for pot, org in pots],
            )
        )
    return views


def ballot_file_name(view: ContestView) -> str:
    """What a contest's published ballot file is called when downloaded."""
    return f"pb-round-{view.contest.round_id}-contest-{view.contest.id}.pb"


def turnout(session: Session, round_: Round) -> list[dict]:
    row = session.exec(select(RoundTurnout).where(RoundTurnout.round_id == round_.id)).first()
    return json.loads(row.figures) if row else []


def _counted_later():
    """A ballot cast later by the same voter on the same paper was counted: the one way a
    ballot is rightly left out of the count (being marked replaced is not proof of it)."""
    later = aliased(Ballot)
    return (
        select(later.id)
        .where(
            later.voter_id == Ballot.voter_id,
            later.contest_id == Ballot.contest_id,
            col(later.id) > col(Ballot.id),
            col(later.counted),
        )
        .exists()
    )


def receipt_status(session: Session, round_: Round, receipt: str) -> str | None:
    """'counted' (the count marked it), 'superseded' (a later ballot by the same voter on
    the same paper was counted instead), 'not_counted' (anything else), or None when no
    ballot of this round has that receipt."""
    ballot = ballot_by_receipt(session, receipt)
    if ballot is None or session.get_one(Contest, ballot.contest_id).round_id != round_.id:
        return None
    if ballot.counted:
        return "counted"
    replaced = session.exec(select(Ballot.id).where(Ballot.id == ballot.id, _counted_later())).first()
    return "superseded" if replaced is not None else "not_counted"


def dropped_receipts(session: Session, contest_id: int) -> list[str]:
    """The receipts of a counted paper's ballots that were left out of the count with no
    later ballot of their voter counted instead, sorted: none, unless someone changed the
    ballot table behind pb's back."""
    return sorted(
        session.exec(
            select(Ballot.receipt).where(Ballot.contest_id == contest_id, ~col(Ballot.counted), ~_counted_later())
        )
    )


def counted_receipts(session: Session, contest_id: int) -> list[str]:
    """The receipts of the ballots the count counted, sorted."""
    return sorted(session.exec(select(Ballot.receipt).where(Ballot.contest_id == contest_id, Ballot.counted)))


def receipts_text(session: Session, contest_id: int) -> str:
    """receipts.txt: one counted receipt per line (its hash is in the count's audit event)."""
    return "".join(f"{receipt}\n" for receipt in counted_receipts(session, contest_id))


def code_counts(session: Session, round_: Round) -> list[dict]:
    """Voting codes sent, used and cancelled per batch, as taken by the count."""
    row = session.exec(select(RoundTurnout).where(RoundTurnout.round_id == round_.id)).first()
    return json.loads(row.codes) if row else []
