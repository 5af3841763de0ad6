"""What anyone may read of a round's chain: each event's data with sealed values revealed
only when their time has come, and the machine-readable export (JSON lines) that holds
exactly what each hash covers, for static/pb-verify-audit.py or any other program
written from docs/audit-format.md."""

import json
from collections.abc import Iterator

from sqlmodel import Session, col, select

from pb.accounts.models import User
from pb.audit.chain import UNTIL_RESULTS, canonical_json, event_document, sealed_of
from pb.audit.models import AuditChainHead, AuditEvent, WitnessedHead, chain_key
from pb.clock import now
from pb.rounds.models import Phase, Round

EXPORT_FORMAT = 1


def results_public(round_: Round) -> bool:
    return round_.reached(Phase.RESULTS_PUBLISHED)


def revealed(event: AuditEvent, round_: Round) -> dict:
    """The sealed values of an event that may be read now, with their salts."""
    return {
        key: {"salt": entry.get("salt"), "value": entry.get("value")}
        for key, entry in sealed_of(event).items()
        if isinstance(entry, dict) and entry.get("until") == UNTIL_RESULTS and results_public(round_)
    }


def _withheld_keys(event: AuditEvent, round_: Round) -> set[str]:
    """Format 1 events hold everything in the open: the keys the public must not read yet
    (or ever)."""
    if event.format != 1:
        return set()
    try:
        data = json.loads(event.data)
    except ValueError:
        return set()  # altered beyond parsing: shown as it is, for a verifier to report
    if not isinstance(data, dict):
        return set()
    if event.action == "proposal.screened" and data.get("decision") == "returned":
        return {"reason"}  # the note is the group's
    if event.action == "round.counted" and not results_public(round_):
        return set(data)  # results before their time
    return set()


def visible_data(event: AuditEvent, round_: Round):
    """An event's data as the public reads it (what was sealed shows once revealed)."""
    try:
        data = json.loads(event.data)
    except ValueError:
        return event.data  # altered beyond parsing: shown as it is
    if not isinstance(data, dict):
        return data
    hidden = _withheld_keys(event, round_)
    shown = {key: value for key, value in data.items() if key not in hidden}
    shown.update({key: entry["value"] for key, entry in revealed(event, round_).items()})
    return shown


def export_lines(session: Session, round_: Round) -> Iterator[str]:
    """The round's chain as JSON lines: a header, then one line per event with the exact
    document its hash covers (or, for the few older events that hold something private
    or early in the open, only its hashes)."""
    chain = chain_key(round_.id)
    head = session.get(AuditChainHead, chain)
    witnessed = session.exec(
        select(WitnessedHead).where(col(WitnessedHead.chain) == chain).order_by(col(WitnessedHead.id))
    ).all()
    yield canonical_json(
        {
            "pb_audit_export": EXPORT_FORMAT,
            "chain": chain,
            "round": round_.id,
            "title": round_.title,
            "exported_at": now().isoformat(timespec="seconds"),
            "head": {"seq": head.seq if head else 0, "hash": head.head_hash if head else None},
            "witnessed": [
                {"seq": w.seq, "hash": w.hash, "reason": w.reason, "at": w.at.isoformat(timespec="seconds")}
                for w in witnessed
            ],
        }
    )
    rows = session.exec(
        select(AuditEvent, User.audit_ref)
        .join(User, col(User.id) == col(AuditEvent.actor_user_id), isouter=True)
        .where(AuditEvent.chain == chain)
        .order_by(col(AuditEvent.seq))
    )
    for event, actor_ref in rows:
        line = {"seq": event.seq, "prev_hash": event.prev_hash, "entry_hash": event.entry_hash}
        if _withheld_keys(event, round_):
            line["withheld"] = True
        else:
            try:
                line["document"] = event_document(event, actor_ref)
            except (ValueError, KeyError, TypeError):
                line["document"] = None  # damaged beyond reading: the verifier will say so
            shown = revealed(event, round_)
            if shown:
                line["revealed"] = shown
        yield canonical_json(line)
