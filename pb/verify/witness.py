"""Witnesses: at every phase change (publication included) the round's chain head, its
sequence number and hash, is emailed to those who watch the round (every partner
anchor's members, the returning officer, every group with a proposal in it) and listed
on the round's page. Whoever kept one can later check that the chain still holds that
event (`pb audit verify --since SEQ:HASH`, or static/pb-verify-audit.py): a chain that
was rewritten, cut or reordered before it no longer does."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlmodel import Session, col, select

from pb.accounts.models import Membership, User
from pb.audit.models import AuditChainHead, WitnessedHead, chain_key
from pb.clock import now
from pb.links import public_url
from pb.mail import send_mail
from pb.proposals.models import Proposal
from pb.rounds.models import PHASE_LABELS, Partner, Phase, Round


def witnesses(session: Session, round_: Round) -> list[User]:
    """The people a round's heads are sent to, each once."""
    organisations = {round_.convening_organisation_id}
    organisations |= set(session.exec(select(Partner.organisation_id).where(Partner.round_id == round_.id)))
    organisations |= set(session.exec(select(Proposal.organisation_id).where(Proposal.round_id == round_.id)))
    users = set(session.exec(select(col(Membership.user_id)).where(col(Membership.organisation_id).in_(organisations))))
    if round_.returning_officer_id is not None:
        users.add(round_.returning_officer_id)
    return list(session.exec(select(User).where(col(User.id).in_(users)).order_by(col(User.email)))) if users else []


def witness_head(session: Session, round_: Round, phase: Phase) -> WitnessedHead | None:
    """Record the chain's head as it is now and send it to the round's witnesses (through
    the outbox, with the caller's transaction). Nothing if that head was already sent."""
    chain = chain_key(round_.id)
    head = session.get(AuditChainHead, chain)
    last = session.exec(
        select(col(WitnessedHead.seq)).where(col(WitnessedHead.chain) == chain).order_by(col(WitnessedHead.id).desc())
    ).first()
    if head is None or head.seq == 0 or head.seq == last:
        return None
    witnessed = WitnessedHead(chain=chain, seq=head.seq, hash=head.head_hash, reason=phase.value, at=now())
    session.add(witnessed)
    session.flush()
    export = public_url("audit.round_log_export", round_id=round_.id)
    verifier = public_url("static", filename="pb-verify-audit.py")
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    for person in witnesses(session, round_):
        with force_locale(person.locale or default):  # each in their own language, also from a timer
            subject = _("Keep this: the audit log of %(round)s at event %(seq)d", round=round_.title, seq=head.seq)
            body = _(
                "The round “%(round)s” has moved on (%(reason)s). Its audit log now ends at event %(seq)d, "
                "whose hash is:\n\n%(hash)s\n\n"
                "Please keep this email. Anyone can later check that the log still holds this event unchanged, "
                "which it cannot if anything before it was rewritten, removed or reordered: download the log from "
                "%(export)s and check it with the verifier at %(verifier)s, giving it --since %(seq)d:%(hash)s.",
                round=round_.title,
                reason=str(PHASE_LABELS[phase]),
                seq=head.seq,
                hash=head.head_hash,
                export=export,
                verifier=verifier,
            )
        send_mail(person.email, subject, body, session=session)
    return witnessed
