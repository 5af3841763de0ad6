"""The results are bound to the chain: the count's event holds each ballot file's SHA-256,
its receipts list's SHA-256 and the funded set. This checks, for a counted round, that the
stored ballot files still have those hashes, that recounting them (pb.tally) funds that
set, that the stored results (contest_result, from which the published files and pages are
made) say the same, that the receipts list served now (read live from the ballot table) is
the one the count recorded, that every ballot left out of the count has a later ballot
of its voter counted instead, that the counted files and the database still say the terms
recorded when voting opened (budget, rule, projects and their costs), and that the turnout
and voting-code figures stored at the count are those it recorded."""

import hashlib
import json

from sqlmodel import Session, col, select

from pb.audit.chain import sealed_of
from pb.audit.models import AuditEvent, chain_key
from pb.results.models import ContestResult, RoundTurnout
from pb.results.services import dropped_receipts, frozen_terms, paper_terms, receipts_text
from pb.rounds.models import Contest, Phase, Round
from pb.tally import count, parse_pabulib
from pb.tally.election import exact


def counted_contests(event: AuditEvent) -> list[dict]:
    """What the count's event recorded for each ballot paper (sealed until publication, or
    in the open in events written before sealing existed)."""
    sealed = sealed_of(event)
    if "contests" in sealed:
        return sealed["contests"]["value"]
    return json.loads(event.data).get("contests", [])


def check_results(session: Session, round_: Round) -> list[str]:
    """What does not agree, in words (empty when the results stand)."""
    if not round_.reached(Phase.COUNTED):
        return []
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.chain) == chain_key(round_.id), col(AuditEvent.action) == "round.counted")
        .order_by(col(AuditEvent.seq))
    ).all()
    if len(events) != 1:
        return [f"the log should hold one count, and holds {len(events)}"]
    try:
        recorded = {c["contest"]: c for c in counted_contests(events[0])}
    except (KeyError, TypeError, ValueError):
        return ["the count's event no longer reads as a count"]
    contests = session.exec(select(Contest.id).where(Contest.round_id == round_.id)).all()
    stored = {
        r.contest_id: r for r in session.exec(select(ContestResult).where(col(ContestResult.contest_id).in_(contests)))
    }
    problems = []
    recorded_terms = frozen_terms(session, round_)
    if len(recorded_terms) > 1:
        problems.append(
            f"the log records the terms of the ballot papers {len(recorded_terms)} times; only once is right"
        )
    frozen = recorded_terms[0] if len(recorded_terms) == 1 else None
    if set(recorded) != set(stored):
        problems.append(f"the count recorded ballot papers {sorted(recorded)}, the results hold {sorted(stored)}")
    for contest_id in sorted(set(recorded) & set(stored)):
        entry, result = recorded[contest_id], stored[contest_id]
        if not isinstance(entry, dict) or not isinstance(entry.get("selected"), list):
            problems.append(f"ballot paper {contest_id}: the count's event no longer reads as a count")
            continue
        digest = hashlib.sha256(result.ballot_file.encode()).hexdigest()
        if digest != entry["sha256"] or result.file_sha256 != entry["sha256"]:
            problems.append(f"ballot paper {contest_id}: the stored ballot file is not the one the count recorded")
        funded = {str(p) for p in entry["selected"]}
        if {str(p) for p in json.loads(result.outcome)["selected"]} != funded:
            problems.append(f"ballot paper {contest_id}: the stored results fund another set than the count recorded")
        recount = {str(p) for p in count(parse_pabulib(result.ballot_file)).selected}
        if recount != funded:
            problems.append(
                f"ballot paper {contest_id}: recounting the stored ballot file funds another set than the count recorded"
            )
        problems += _terms_problems(session, round_, contest_id, result.ballot_file, frozen)
        receipts = hashlib.sha256(receipts_text(session, contest_id).encode()).hexdigest()
        if "receipts_sha256" in entry and receipts != entry["receipts_sha256"]:  # counts before it recorded none
            problems.append(
                f"ballot paper {contest_id}: the receipts list (receipts.txt) is not the one the count recorded"
            )
    problems += _turnout_problems(session, round_, sealed_of(events[0]))
    for contest_id in sorted(contests):
        problems += [
            f"ballot paper {contest_id}: the ballot with receipt {receipt} was not counted, "
            "and no later ballot of its voter was counted instead"
            for receipt in dropped_receipts(session, contest_id)
        ]
    return problems


def _terms_problems(
    session: Session, round_: Round, contest_id: int, ballot_file: str, frozen: dict | None
) -> list[str]:
    """Whether the counted file, and the ballot paper as the database holds it now (whence
    the results pages), keep the terms recorded when voting opened: budget, rule, kind of
    ballot and its lengths, points and limits, each project's id, cost and name, in order.
    Rounds that opened before pb recorded them are not checked."""
    if frozen is None:
        return []
    terms = frozen.get(contest_id)
    if terms is None:
        return [f"ballot paper {contest_id}: its terms were not recorded when voting opened"]
    problems = []
    election = parse_pabulib(ballot_file)
    meta = {**election.meta, "vote_type": election.vote_type}
    changed = sorted(key for key, value in terms["meta"].items() if key != "budget" and meta.get(key) != value)
    if exact(terms["meta"]["budget"]) != election.budget:
        changed.insert(0, "budget")
    counted = [
        {"project_id": p.project_id, "cost": p.cost, **{k: p.fields.get(k, "") for k in ("name", "category")}}
        for p in election.projects.values()
    ]
    recorded = [
        {"project_id": p["project_id"], "cost": exact(p["cost"]), "name": p["name"], "category": p.get("category", "")}
        for p in terms["projects"]
    ]
    if counted != recorded:
        changed.append("projects")
    if changed:
        problems.append(
            f"ballot paper {contest_id}: the counted ballot file's {', '.join(changed)} "
            "are not what was recorded when voting opened"
        )
    contest = session.get(Contest, contest_id)
    if contest is not None and paper_terms(session, round_, contest) != {k: terms[k] for k in ("meta", "projects")}:
        problems.append(
            f"ballot paper {contest_id}: its budget, rule or projects in the database are not what was recorded "
            "when voting opened (the results pages read them there)"
        )
    return problems


def _turnout_problems(session: Session, round_: Round, sealed: dict) -> list[str]:
    """Whether the turnout and voting-code figures stored at the count (which the results
    pages show) are those the count's event recorded. Counts recorded before the turnout's
    hash was sealed are checked for their code figures only."""
    stored = session.exec(select(RoundTurnout).where(col(RoundTurnout.round_id) == round_.id)).first()
    if stored is None:
        return ["the turnout taken at the count is missing"]
    problems = []
    recorded = _sealed_value(sealed, "turnout_sha256")
    if recorded is not None and hashlib.sha256(stored.figures.encode()).hexdigest() != recorded:
        problems.append("the turnout stored at the count is not the one the count recorded")
    codes = _sealed_value(sealed, "codes")
    if codes is not None and json.loads(stored.codes) != codes:
        problems.append("the voting-code figures stored at the count are not those the count recorded")
    return problems


def _sealed_value(sealed: dict, key: str):
    """A value an event sealed (as counted_contests reads "contests"), or None if it sealed none."""
    entry = sealed.get(key)
    return entry.get("value") if isinstance(entry, dict) else None
