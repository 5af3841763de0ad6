"""Voting: proving eligibility, validating and casting ballots, receipts.

Nothing here reads or shows how anyone voted while voting is open; counting is
in pb/tally and happens only after close.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import bindparam, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.accounts.models import User
from pb.audit.chain import person, record_event
from pb.clock import now, today
from pb.db import begin_writing, savepoint
from pb.mail import EMAIL, SMS, text_messages_available
from pb.postcodes import normalise_postcode
from pb.proposals.models import Project
from pb.proposals.services import ballot_draw, categories_of_projects, projects_of
from pb.refusal import Refusal
from pb.rounds.limits import Limit, broken_limit, limits_of
from pb.rounds.models import (
    PHASES,
    Area,
    BallotKind,
    Contest,
    DeclaredField,
    EligibilityMethod,
    Phase,
    Round,
    covers,
    takes_votes,
)
from pb.rounds.services import contest_budgets, funds_the_round, is_returning_officer
from pb.security import token_digest
from pb.throttle import is_limited, mailbox, note_attempt, reached, serialise
from pb.voting.declarations import declarations_of, identity_text, plain
from pb.voting.models import (
    Ballot,
    BallotChoice,
    Channel,
    CodeBatch,
    Declaration,
    EmailChallenge,
    PollingHelper,
    RoundKey,
    VerdictVoter,
    Voter,
    VotingCode,
    VotingSession,
)
from pb.voting.phones import NotAMobile, uk_mobile, western_digits

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread
CODE_LENGTH = 12  # 60 bits
RECEIPT_LENGTH = 10  # 50 bits
MAX_BATCH = 50_000
EMAIL_CODE_MINUTES = 10
EMAIL_CODE_TRIES = 5


class VotingError(ValueError):
    """A ballot or an eligibility proof that is refused; nothing was stored."""

    status = 400


class VotingClosed(VotingError):
    status = 409


# ---------------------------------------------------------------- codes


def _random_symbols(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))


def _grouped(symbols: str, size: int) -> str:
    return "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))


def normalise_code(text: str) -> str:
    """What a person typed, as the code's symbols: case, spaces, dashes and look-alikes forgiven."""
    text = text.upper().replace("O", "0").replace("I", "1").replace("L", "1")
    return "".join(ch for ch in text if ch in CROCKFORD)


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_receipt() -> str:
    return _grouped(_random_symbols(RECEIPT_LENGTH), 5)


class NotReturningOfficer(VotingError):
    status = 403


def _check_officer(session: Session, round_: Round, actor) -> None:
    if not is_returning_officer(session, round_, actor):
        raise NotReturningOfficer(_("Only the round's returning officer can do this."))


def generate_codes(session: Session, round_: Round, *, actor, area: Area | None, count: int) -> list[tuple[str, str]]:
    """Make `count` single-use voting codes, by the returning officer only; returns them
    once, each with its letter's reference (only hashes are kept). Codes made after
    voting opened form a replacement batch; none can be made once voting has closed."""
    _check_officer(session, round_, actor)
    if round_.reached(Phase.CLOSED):
        raise VotingClosed(_("Voting in this round has closed."))
    if not 1 <= count <= MAX_BATCH:
        raise VotingError(_("Make between 1 and %(max)d codes at a time.", max=MAX_BATCH))
    if area is not None and area.round_id != round_.id:
        raise VotingError(_("Choose an area of this round."))
    batch = CodeBatch(
        round_id=round_.id,
        area_id=area.id if area else None,
        size=count,
        created_by_user_id=actor.id,
        replacement=round_.is_frozen,
    )
    session.add(batch)
    session.flush()
    codes: list[tuple[str, str]] = []
    seen = set()
    while len(codes) < count:
        code = _grouped(_random_symbols(CODE_LENGTH), 4)
        if code not in seen:
            seen.add(code)
            codes.append((code, f"{batch.id}-{len(codes) + 1:04d}"))
    session.bulk_insert_mappings(
        VotingCode,
        [
            {"batch_id": batch.id, "round_id": round_.id, "code_hash": code_hash(c), "letter": letter}
            for c, letter in codes
        ],
    )
    session.flush()
    record_event(
        session,
        "codes.replaced" if batch.replacement else "codes.generated",
        actor=actor,
        round_id=round_.id,
        organisation_id=None,
        data={"batch": batch.id, "area": batch.area_id, "count": count},
    )
    return codes


def cancel_letter(session: Session, round_: Round, *, actor, letter: str) -> None:
    """The returning officer cancels a lost letter's code by the letter's reference, so
    that whoever finds the letter cannot vote with it."""
    _check_officer(session, round_, actor)
    if round_.reached(Phase.CLOSED):
        raise VotingClosed(_("Voting in this round has closed."))
    reference = letter.strip()
    row = session.exec(
        select(VotingCode).where(VotingCode.round_id == round_.id, VotingCode.letter == reference)
    ).first()
    if row is None or not reference:
        raise VotingError(_("No letter of this round has that reference. It is printed under the code, like 3-0042."))
    if row.cancelled_at is not None:
        raise VotingError(_("That letter has already been cancelled."))
    if row.used_at is not None:
        raise VotingError(_("That letter's code has already been used to vote, so it cannot be cancelled."))
    row.cancelled_at = now()
    session.add(row)
    session.flush()
    record_event(
        session,
        "codes.letter_cancelled",
        actor=actor,
        round_id=round_.id,
        organisation_id=None,
        data={"batch": row.batch_id},
    )


def contests_nobody_can_vote_in(session: Session, round_: Round) -> list[Contest]:
    """Contests whose residents would have no way to vote: for codes (online or on paper)
    no codes for their area, and no email or declared identity that reaches the area."""
    methods = set(round_.methods)
    areas: dict[int | None, Area] = {
        area.id: area for area in session.exec(select(Area).where(Area.round_id == round_.id))
    }
    batches = set(session.exec(select(CodeBatch.area_id).where(CodeBatch.round_id == round_.id)).all())
    helpers = session.exec(
        select(func.count()).select_from(PollingHelper).where(PollingHelper.round_id == round_.id)
    ).one()
    by_code = EligibilityMethod.CODES in methods or (EligibilityMethod.PAPER in methods and helpers > 0)
    missing = []
    for contest in session.exec(select(Contest).where(col(Contest.round_id) == round_.id).order_by(col(Contest.id))):
        area = areas.get(contest.area_id)
        by_postcode = bool({EligibilityMethod.EMAIL, EligibilityMethod.SMS, EligibilityMethod.DECLARED} & methods) and (
            area is None or area.postcode_list
        )
        has_codes = bool(batches) if contest.area_id is None else contest.area_id in batches
        if not (by_postcode or (by_code and has_codes)):
            missing.append(contest)
    return missing


def code_figures(session: Session, round_: Round) -> list[dict]:
    """Per batch of codes: its area, whether it replaced lost letters, and how many codes
    were sent, used and cancelled. Counts only, never codes."""
    rows = session.exec(
        select(
            CodeBatch.id,
            CodeBatch.area_id,
            CodeBatch.replacement,
            CodeBatch.size,
            func.count(col(VotingCode.used_at)),
            func.count(col(VotingCode.cancelled_at)),
        )
        .join(VotingCode, VotingCode.batch_id == CodeBatch.id)
        .where(CodeBatch.round_id == round_.id)
        .group_by(CodeBatch.id, CodeBatch.area_id, CodeBatch.replacement, CodeBatch.size)
        .order_by(CodeBatch.id)
    ).all()
    return [
        {
            "batch": batch,
            "area": area,
            "replacement": bool(replacement),
            "sent": size,
            "used": used,
            "cancelled": cancelled,
        }
        for batch, area, replacement, size, used, cancelled in rows
    ]


# ---------------------------------------------------------------- who may vote


def _check_voting_open(session: Session, round_: Round) -> None:
    """Refuse unless the round takes votes now. A pure check: pb.lifecycle closes the
    round when its time comes; until then a ballot after the closing time is refused."""
    _check_takes_votes(round_.phase, round_.voting_closes_at, round_.suspended_at, round_.suspension_reason)


def _check_takes_votes(phase: str, closes_at, suspended_at, reason: str | None) -> None:
    if takes_votes(phase, closes_at, suspended_at, now()):
        return
    if phase == Phase.VOTING.value and suspended_at is not None:
        raise VotingClosed(_("Voting is suspended: %(reason)s", reason=reason))
    if PHASES.index(Phase(phase)) >= PHASES.index(Phase.VOTING):
        raise VotingClosed(_("Voting in this round has closed."))
    raise VotingClosed(_("Voting in this round has not opened yet."))


def _check_round_row(session: Session, round_id: int, *, lock: bool = False) -> None:
    """The same check on the round's row as stored now; with `lock`, the row is share-locked
    until the transaction ends, so that closing the round waits for this cast to commit
    and a cast after the close sees it closed."""
    statement = _ROUND_ROW_LOCKED if lock else _ROUND_ROW
    phase, closes, suspended_at, reason = session.connection().execute(statement, {"round_id": round_id}).one()
    _check_takes_votes(phase, closes, suspended_at, reason)


def _check_method(round_: Round, method: EligibilityMethod) -> None:
    if method not in round_.methods:
        raise VotingError(_("This round does not use that way of voting."))


def area_for_postcode(session: Session, round_: Round, postcode: str) -> Area | None:
    """The round's area whose postcodes begin the given one (the longest match wins).

    Raises VotingError if the round has areas and the postcode is in none of them."""
    postcode = normalise_postcode(postcode)
    areas = list(session.exec(select(Area).where(Area.round_id == round_.id)))
    if not areas:
        return None
    best, best_length = None, -1
    for area in areas:
        for prefix in area.postcode_list:
            bare = prefix.replace(" ", "")
            if covers(prefix, postcode) and len(bare) > best_length:
                best, best_length = area, len(bare)
    if best is None:
        raise VotingError(_("That postcode is not in any of this round's areas."))
    return best


def throttled(session: Session, key: str, limit: int, window: int = 15 * 60) -> None:
    """Refuse when `limit` attempts were counted under `key` in the last `window` seconds
    (pb.throttle.reached: a burst waits its turn)."""
    if reached(session, key, limit=limit, window_seconds=window):
        raise VotingError(_("Too many attempts. Please wait 15 minutes and try again."))


class WrongAnswer(Refusal, VotingError):
    """A wrong guess at a code. It changes nothing but the count of wrong guesses (its
    record, pb.refusal), which must be kept for the limits to stop guessing."""

    status = 400


def voter_by_code(session: Session, round_: Round, code: str, *, client: str, method=EligibilityMethod.CODES) -> Voter:
    """The voter a voting code makes eligible: made the first time the code is entered,
    and the same voter each time after, until voting closes (so a resident can come back
    and change their vote). The code counts as used once a ballot is cast with it.

    Only wrong guesses are limited, per client: a right code always works, so a crowd of
    wrong guesses from a library or polling station never shuts out the residents there."""
    _check_voting_open(session, round_)
    _check_method(round_, method)
    row = session.exec(
        select(VotingCode).where(VotingCode.code_hash == code_hash(code), VotingCode.round_id == round_.id)
    ).first()
    if row is None or row.cancelled_at is not None:
        key = f"code:ip:{client}"
        throttled(session, key, limit=20)
        raise WrongAnswer(
            _("That code is not right. Check it against your letter and try again."),
            record=lambda session: note_attempt(session, key),
        )
    return _voter_of_code(session, round_, row, method)


def _voter_of_code(session: Session, round_: Round, row: VotingCode, method: EligibilityMethod) -> Voter:
    found = select(Voter).where(Voter.code_id == row.id)
    voter = session.exec(found).first()
    if voter is not None:
        return voter
    batch = session.get_one(CodeBatch, row.batch_id)
    return _voter_once(
        session,
        found,
        Voter(
            round_id=round_.id,
            area_id=batch.area_id,
            method=method.value,
            identity=secrets.token_hex(16),
            code_id=row.id,
        ),
    )


def _voter_once(session: Session, found, voter: Voter, with_it=None) -> Voter:
    """Add `voter` (and the row `with_it(voter)` makes, if any), unless the same voter was
    made at the same moment by another request (the same code or identity sent twice at
    once): then that one, found by `found`. One proof, one voter."""
    try:
        with savepoint(session):
            session.add(voter)
            session.flush()
            if with_it is not None:
                session.add(with_it(voter))
                session.flush()
    except IntegrityError:
        return session.exec(found).one()
    return voter


class TooManyDeclarations(VotingError):
    status = 429


@dataclass(frozen=True)
class Declared:
    """What a resident typed to declare who they are (fields the round does not ask for are empty)."""

    postcode: str
    name: str = ""
    address: str = ""
    birth_year: int | None = None


def voter_by_declaration(session: Session, round_: Round, declared: Declared, *, client: str) -> Voter:
    """The voter a declared identity makes: the same identity declared again, from any
    browser, is the same voter (who may replace their ballot, not add one). Declarations
    are limited per client, and kept for the returning officer until publication."""
    _check_voting_open(session, round_)
    _check_method(round_, EligibilityMethod.DECLARED)
    if round_.minimum_age and declared.birth_year and today().year - declared.birth_year < round_.minimum_age:
        raise VotingError(_("You must be %(age)d or older to vote in this round.", age=round_.minimum_age))
    if DeclaredField.NAME in round_.declares and not plain(declared.name):
        raise VotingError(_("Enter your name in letters."))
    if DeclaredField.ADDRESS in round_.declares and not plain(declared.address):
        raise VotingError(_("Enter the first line of your address in letters and numbers."))
    area = area_for_postcode(session, round_, declared.postcode)
    text = identity_text(
        round_, name=declared.name, address=declared.address, postcode=declared.postcode, birth_year=declared.birth_year
    )
    identity = _keyed(_voter_secret(session, round_), text)
    found = select(Voter).where(Voter.round_id == round_.id, Voter.identity == identity)
    voter = session.exec(found).first()
    if voter is not None:
        return voter  # coming back to change their vote: never held up by the limit below
    key = f"declare:ip:{client}"
    serialise(session, key)
    note_attempt(session, key)  # counted first, so that a burst of requests waits its turn
    if is_limited(session, key, limit=current_app.config["DECLARATIONS_PER_HOUR"] + 1, window_seconds=3600):
        raise TooManyDeclarations(
            _(
                "Too many people have voted from this connection in the last hour. "
                "Please try again in an hour, or vote another way."
            )
        )
    return _voter_once(
        session,
        found,
        Voter(
            round_id=round_.id,
            area_id=area.id if area else None,
            method=EligibilityMethod.DECLARED.value,
            identity=identity,
        ),
        lambda voter: Declaration(
            round_id=round_.id,
            voter_id=voter.id,
            name=declared.name.strip(),
            address=declared.address.strip(),
            postcode=normalise_postcode(declared.postcode),
            birth_year=declared.birth_year,
        ),
    )


class DeclarationsGone(VotingError):
    status = 410


def export_declarations(session: Session, round_: Round, *, actor) -> list[dict]:
    """The returning officer takes what residents declared, to check against the register
    (audited, with how many); refused once the results are published and they are deleted."""
    _check_officer(session, round_, actor)
    if round_.reached(Phase.RESULTS_PUBLISHED):
        raise DeclarationsGone(_("The declarations were deleted when the results were published."))
    rows = declarations_of(session, round_)
    record_event(
        session,
        "declarations.exported",
        actor=actor,
        round_id=round_.id,
        organisation_id=None,
        data={"count": len(rows)},
    )
    return rows


def make_round_key(session: Session, round_: Round) -> None:
    """The round's own secrets (see RoundKey), made when voting opens."""
    if session.get(RoundKey, round_.id) is None:
        session.add(
            RoundKey(round_id=round_.id, voter_secret=secrets.token_hex(32), verdict_secret=secrets.token_hex(32))
        )
        session.flush()


def _keyed(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _voter_secret(session: Session, round_: Round) -> str:
    key = session.get(RoundKey, round_.id)
    if key is None or key.voter_secret is None:
        raise VotingClosed(_("Voting in this round has closed."))
    return key.voter_secret


def email_identity(session: Session, round_: Round, email: str) -> str:
    """An email voter's identity: a keyed hash of the inbox the address reaches, under the
    round's own voter secret (so rotating the session key changes nothing, and once the
    results are published and the secret deleted, no address leads to a voter). The inbox,
    not the spelling: res+1@… and res+2@…, or r.e.s@gmail.com and res@googlemail.com, reach
    one inbox (pb.throttle.mailbox), so they are one voter."""
    return _keyed(_voter_secret(session, round_), f"voter:{mailbox(email)}")


def _email_identities(session: Session, round_: Round, email: str) -> list[str]:
    """The identities an email voter may already have: by inbox, and as pb keyed them before
    (the address in lower case), so that a round voting while pb is upgraded keeps its voters."""
    return [
        email_identity(session, round_, email),
        _keyed(_voter_secret(session, round_), f"voter:{email.strip().lower()}"),
    ]


def verdict_digest(session: Session, round_: Round, email: str) -> str | None:
    """The keyed hash under which an address that voted may give verdicts (None if the
    round never opened for voting)."""
    key = session.get(RoundKey, round_.id)
    return _verdict_digest(key, email) if key else None


def _verdict_digest(key: RoundKey, email: str) -> str:
    return _keyed(key.verdict_secret, f"verdict:{email.strip().lower()}")


def seal_identities(session: Session, round_: Round) -> int:
    """When the results are published: keep, for verdicts, only keyed hashes of the
    addresses email voters used (random order, no link, no time), then delete the voter
    secret. Run before the addresses themselves are deleted. Returns how many were kept."""
    key = session.get(RoundKey, round_.id)
    if key is None:
        return 0
    used = session.exec(
        select(EmailChallenge.email).where(
            EmailChallenge.round_id == round_.id,
            EmailChallenge.purpose == "vote",
            EmailChallenge.channel == EMAIL,
            col(EmailChallenge.used_at).is_not(None),
        )
    ).all()
    digests = sorted({_verdict_digest(key, email) for email in used if email})
    secrets.SystemRandom().shuffle(digests)
    for digest in digests:
        session.add(VerdictVoter(round_id=round_.id, digest=digest))
    key.voter_secret = None
    session.add(key)
    session.flush()
    return len(digests)


def _code_digest(challenge_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"otp:{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def start_email_challenge(
    session: Session, round_: Round, *, email: str, postcode: str, client: str
) -> tuple[EmailChallenge, str]:
    """Begin proving eligibility by email; returns the challenge and the code to send."""
    _check_voting_open(session, round_)
    _check_method(round_, EligibilityMethod.EMAIL)
    area_for_postcode(session, round_, postcode)
    return new_email_challenge(session, round_, email=email, postcode=normalise_postcode(postcode), client=client)


def start_sms_challenge(
    session: Session, round_: Round, *, mobile: str, postcode: str, client: str
) -> tuple[EmailChallenge, str]:
    """Begin proving eligibility by text message; returns the challenge (its `email` is the
    number, in E.164) and the code to send."""
    _check_voting_open(session, round_)
    _check_method(round_, EligibilityMethod.SMS)
    if not text_messages_available(current_app.config):
        raise VotingError(_("Text messages cannot be sent at the moment. Please vote another way."))
    try:
        number = uk_mobile(mobile)
    except NotAMobile as error:
        raise VotingError(not_a_mobile_message(error)) from None
    area_for_postcode(session, round_, postcode)
    # Texts cost money and Notify limits them per day: however many clients a script has,
    # a round sends at most SMS_PER_ROUND_PER_HOUR codes an hour, and then says so.
    by_round = f"otp-send:sms-round:{round_.id}"
    if reached(session, by_round, limit=current_app.config["SMS_PER_ROUND_PER_HOUR"], window_seconds=60 * 60):
        current_app.logger.warning("round %s: the hourly limit of text messages is reached", round_.id)
        raise VotingError(
            _(
                "Too many codes are being sent by text message just now. Please try again in an hour, "
                "or vote another way."
            )
        )
    note_attempt(session, by_round)
    return _new_challenge(
        session,
        round_,
        channel=SMS,
        address=number,
        by_address=f"otp-send:sms:{number}",
        client=client,
        postcode=normalise_postcode(postcode),
    )


def not_a_mobile_message(error: NotAMobile) -> str:
    if error.landline:
        return _("That is a landline number. Enter a mobile number that can receive text messages, like 07700 900123.")
    return _("Enter a UK mobile number, like 07700 900123.")


def new_email_challenge(
    session: Session, round_: Round, *, email: str, client: str, postcode: str = "", purpose: str = "vote"
) -> tuple[EmailChallenge, str]:
    """A six-digit code for an email address (limited per address and per IP); returns
    the challenge and the code to send."""
    email = email.strip().lower()
    # The inbox it reaches, kept as a keyed hash (pb.throttle): the count, not the address.
    return _new_challenge(
        session,
        round_,
        channel=EMAIL,
        address=email,
        by_address=f"otp-send:email:{mailbox(email)}",
        client=client,
        postcode=postcode,
        purpose=purpose,
    )


def _new_challenge(
    session: Session,
    round_: Round,
    *,
    channel: str,
    address: str,
    by_address: str,
    client: str,
    postcode: str,
    purpose: str = "vote",
) -> tuple[EmailChallenge, str]:
    """A six-digit code for an address or a number, at most three per quarter hour to one
    (counted under `by_address`) and ten from one client, whichever way they are sent; a
    burst waits its turn to count (pb.throttle.serialise), so it cannot all pass at once."""
    throttled(session, by_address, limit=3)
    throttled(session, f"otp-send:ip:{client}", limit=10)
    note_attempt(session, by_address)
    note_attempt(session, f"otp-send:ip:{client}")
    code = f"{secrets.randbelow(10**6):06d}"
    challenge = EmailChallenge(
        round_id=round_.id, channel=channel, email=address, postcode=postcode, code_hash="", purpose=purpose
    )
    session.add(challenge)
    session.flush()
    challenge.code_hash = _code_digest(challenge.id, code)
    session.add(challenge)
    session.flush()
    return challenge, code


def code_email_body(code: str) -> str:
    """The email that carries a one-time code, to vote or to give a verdict."""
    return ngettext(
        "Your code is %(code)s\n\nIt works once, for %(num)d minute. If you did not ask for it, ignore this email.",
        "Your code is %(code)s\n\nIt works once, for %(num)d minutes. If you did not ask for it, ignore this email.",
        EMAIL_CODE_MINUTES,
        code=code,
    )


def code_text_body(code: str) -> str:
    """The text message that carries a one-time code to vote: short, one message long."""
    return ngettext(
        "Your code to vote is %(code)s. It works once, for %(num)d minute. If you did not ask for it, ignore this.",
        "Your code to vote is %(code)s. It works once, for %(num)d minutes. If you did not ask for it, ignore this.",
        EMAIL_CODE_MINUTES,
        code=code,
    )


def forget_email_addresses(session: Session, round_: Round, *, purpose: str | None = None) -> int:
    """Delete the email addresses and mobile numbers residents gave to prove they may vote
    (or, with `purpose`, only those given for that purpose). Voters stay, known only by a
    keyed hash. Returns how many were deleted."""
    query = delete(EmailChallenge).where(col(EmailChallenge.round_id) == round_.id)
    if purpose is not None:
        query = query.where(col(EmailChallenge.purpose) == purpose)
    return session.exec(query).rowcount


def start_voting_session(
    session: Session, voter: Voter, *, channel=Channel.ONLINE, helper=None, challenge_id: int | None = None
) -> str:
    """Hold a voter's voting on the server; returns the random reference for the cookie."""
    token = secrets.token_urlsafe(24)
    # Anyone who knows a resident's details can declare them, and a polling helper types in
    # the code of whoever hands in a paper: neither may see whether, or how, that resident
    # voted. Such a session shows only the ballots cast in it.
    paper = Channel(channel) == Channel.PAPER
    own = "" if paper or voter.method == EligibilityMethod.DECLARED.value else None
    session.add(
        VotingSession(
            token_hash=token_digest(token),
            round_id=voter.round_id,
            voter_id=voter.id,
            area_id=voter.area_id,
            channel=Channel(channel).value,
            helper_user_id=helper.id if helper is not None else None,
            challenge_id=challenge_id,
            own_ballots=own,
        )
    )
    session.flush()
    return token


def voting_session(session: Session, token: str | None, round_id: int, user=None) -> VotingSession | None:
    """The voting held under a cookie's reference, for this round; a paper ballot's only
    for the polling helper who started it."""
    if not token or len(token) > 64:
        return None
    row = session.exec(
        select(VotingSession).where(VotingSession.token_hash == token_digest(token), VotingSession.round_id == round_id)
    ).first()
    if row is None:
        return None
    if row.helper_user_id is not None and getattr(user, "id", None) != row.helper_user_id:
        return None
    return row


def end_voting_session(session: Session, token: str | None) -> None:
    if token:
        session.exec(delete(VotingSession).where(col(VotingSession.token_hash) == token_digest(token)))


def forget_voting_sessions(session: Session, round_: Round) -> int:
    return session.exec(delete(VotingSession).where(col(VotingSession.round_id) == round_.id)).rowcount


def forget_codes_of_voters(session: Session, round_: Round) -> int:
    """Cut the link from voting codes (and so from letters and households) to voters, when
    the results are published. Returns how many links were cut.

    Each code also forgets its letter and whether, and when, it was used or cancelled: a
    code was spent in the very transaction that stored its first ballot, and PostgreSQL
    stamps each row version with the transaction that wrote it (xmin), so a spent code's
    row named its ballot. Every code of the round is rewritten here, all in one transaction;
    only its hash stays, for residents proving with it that they may give verdicts
    (pb.delivery.verdicts). The figures per batch were taken at the count (RoundTurnout)."""
    session.exec(
        update(VotingCode)
        .where(col(VotingCode.round_id) == round_.id)
        .values(letter="", used_at=None, cancelled_at=None)
    )
    return session.exec(
        update(Voter).where(col(Voter.round_id) == round_.id, col(Voter.code_id).is_not(None)).values(code_id=None)
    ).rowcount


def check_email_code(
    session: Session,
    round_: Round,
    challenge_id: int | None,
    code: str,
    *,
    client: str,
    purpose: str = "vote",
    channel: str = EMAIL,
) -> EmailChallenge:
    """The challenge whose code this is (sent by email, or with `channel` "sms" by text
    message), now used; raises VotingError (WrongAnswer for a wrong guess)."""
    throttled(session, f"otp:ip:{client}", limit=30)
    # Locked until the guess is counted, so that guesses at one code from several clients
    # wait for one another too.
    challenge = session.get(EmailChallenge, challenge_id, with_for_update=True) if challenge_id else None
    if (
        challenge is None
        or challenge.round_id != round_.id
        or challenge.used_at is not None
        or challenge.purpose != purpose
        or challenge.channel != channel
    ):
        raise VotingError(_("Start again: ask for a new code."))
    if challenge.created_at < now() - timedelta(minutes=EMAIL_CODE_MINUTES):
        raise VotingError(_("That code has expired. Ask for a new one."))
    if challenge.tries >= EMAIL_CODE_TRIES:
        raise VotingError(_("Too many wrong codes. Ask for a new one."))
    digits = "".join(ch for ch in western_digits(code) if ch in "0123456789")
    if not hmac.compare_digest(_code_digest(challenge.id, digits), challenge.code_hash):
        left = EMAIL_CODE_TRIES - challenge.tries - 1

        def count_wrong_guess(session: Session) -> None:
            session.exec(
                update(EmailChallenge)
                .where(col(EmailChallenge.id) == challenge_id)
                .values(tries=col(EmailChallenge.tries) + 1)
            )
            note_attempt(session, f"otp:ip:{client}")

        raise WrongAnswer(
            ngettext(
                "That code is not right. You have %(num)d try left.",
                "That code is not right. You have %(num)d tries left.",
                left,
            ),
            record=count_wrong_guess,
        )
    challenge.used_at = now()
    session.add(challenge)
    return challenge


BY_CHANNEL = {EMAIL: EligibilityMethod.EMAIL, SMS: EligibilityMethod.SMS}  # how a code was sent: the way of voting


def voter_by_email_code(
    session: Session, round_: Round, challenge_id: int | None, code: str, *, client: str, channel: str = EMAIL
) -> Voter:
    """The voter a code sent by email (or, with `channel` "sms", by text message) proves:
    the same address or number again is the same voter, who may replace their ballot."""
    method = BY_CHANNEL[channel]
    _check_voting_open(session, round_)
    _check_method(round_, method)
    challenge = check_email_code(session, round_, challenge_id, code, client=client, channel=channel)
    if channel == SMS:
        identities = [_keyed(_voter_secret(session, round_), f"voter:sms:{challenge.email}")]
    else:
        identities = _email_identities(session, round_, challenge.email)
    identity = identities[0]
    voter = session.exec(
        select(Voter).where(Voter.round_id == round_.id, col(Voter.identity).in_(identities)).order_by(col(Voter.id))
    ).first()
    if voter is None:
        area = area_for_postcode(session, round_, challenge.postcode)
        voter = Voter(round_id=round_.id, area_id=area.id if area else None, method=method.value, identity=identity)
        session.add(voter)
    session.flush()
    return voter


# ---------------------------------------------------------------- helpers for paper ballots


def appoint_helper(session: Session, round_: Round, *, actor, user) -> PollingHelper:
    _check_officer(session, round_, actor)
    if round_.reached(Phase.CLOSED):
        raise VotingClosed(_("Voting in this round has closed."))
    if funds_the_round(session, round_, user):
        raise VotingError(
            _("A polling helper types in residents' voting codes, so cannot belong to an anchor that funds this round.")
        )
    if session.exec(
        select(PollingHelper).where(PollingHelper.round_id == round_.id, PollingHelper.user_id == user.id)
    ).first():
        raise VotingError(_("%(name)s is already a polling helper for this round.", name=user.name))
    helper = PollingHelper(round_id=round_.id, user_id=user.id)
    session.add(helper)
    session.flush()
    record_event(
        session,
        "helper.appointed",
        actor=actor,
        round_id=round_.id,
        organisation_id=None,
        data={"user": person(user, round_.id), "name": user.name},
    )
    return helper


def is_helper(session: Session, round_: Round, user) -> bool:
    """Whether `user` is a polling helper of the round, and still funds none of it."""
    return session.exec(
        select(PollingHelper).where(PollingHelper.round_id == round_.id, PollingHelper.user_id == user.id)
    ).first() is not None and not funds_the_round(session, round_, user)


def audit_paper_ballots(session: Session, round_: Round) -> None:
    """When voting closes: one event per polling helper, with how many ballots they entered
    (replaced ones included), and no ballot paper or time: while voting was open the log
    said nothing of them, so that nobody could count or time paper ballots as they came."""
    entered = session.exec(
        select(Ballot.entered_by_user_id, func.count())
        .join(Contest, col(Contest.id) == col(Ballot.contest_id))
        .where(Contest.round_id == round_.id, col(Ballot.entered_by_user_id).is_not(None))
        .group_by(col(Ballot.entered_by_user_id))
        .order_by(col(Ballot.entered_by_user_id))
    ).all()
    for user_id, count in entered:
        record_event(
            session,
            "paper.ballots_entered",
            round_id=round_.id,
            organisation_id=None,
            data={"user": person(session.get(User, user_id), round_.id), "count": count},
        )


# ---------------------------------------------------------------- ballots


def contests_for(session: Session, voter: Voter) -> list[Contest]:
    """The round-wide contest(s) and the contest of the voter's own area."""
    query = select(Contest).where(Contest.round_id == voter.round_id)
    contests = [
        c for c in session.exec(query.order_by(col(Contest.id))) if c.area_id is None or c.area_id == voter.area_id
    ]
    return sorted(contests, key=lambda c: (c.area_id is not None, c.id))


@dataclass(frozen=True)
class BallotPaper:
    """A contest as residents see it while voting: its rules, projects and budget.
    All of it is frozen once voting opens."""

    contest: Contest
    projects: list[Project]
    budget: int
    drawn: bool  # whether the order of the projects was drawn at random when voting opened
    limits: tuple[Limit, ...] = ()  # per category (pb.rounds.limits)
    categories: Mapping[int, int | None] = field(default_factory=dict)  # each project's category, if limited


def ballot_paper(session: Session, contest_id: int) -> BallotPaper | None:
    """The ballot paper of a contest. Once voting has opened nothing on it can change,
    so each worker process keeps it after the first read (casting is the hot path)."""
    cache = current_app.extensions.setdefault("pb_ballot_papers", {})
    if contest_id in cache:
        return cache[contest_id]
    contest = session.get(Contest, contest_id)
    if contest is None:
        return None
    round_ = session.get_one(Round, contest.round_id)
    projects = projects_of(session, contest)
    limits = limits_of(session, contest.id)
    paper = BallotPaper(
        contest,
        projects,
        contest_budgets(session, round_).get(contest.id, 0),
        drawn=ballot_draw(session, round_) is not None,
        limits=limits,
        categories=categories_of_projects(session, contest) if limits else {},
    )
    if round_.is_frozen:
        for row in (contest, *projects):
            session.expunge(row)
        cache[contest_id] = paper
    return paper


def projects_for(session: Session, contest: Contest) -> list[Project]:
    return paper_of(session, contest).projects


def paper_of(session: Session, contest: Contest) -> BallotPaper:
    """The ballot paper of a contest read from the database (ballot_paper, for a contest id, may find none)."""
    paper = ballot_paper(session, contest.id)
    assert paper is not None, "a contest read from the database has a ballot paper"
    return paper


def validate_choices(session: Session, contest: Contest, choices: dict[int, int | None]) -> dict[int, int | None]:
    """Check a whole ballot against its contest's rules. `choices` maps project id to
    None (approval), its rank (ranked) or the points given it (points ballots, only the
    projects given some). Returns it unchanged, or raises VotingError."""
    paper = paper_of(session, contest)
    projects = {p.id: p for p in paper.projects}
    if any(pid not in projects for pid in choices):
        raise VotingError(_("Your ballot names a project that is not on this ballot paper."))
    if contest.ballot_kind == BallotKind.APPROVAL.value:
        if any(rank is not None for rank in choices.values()):
            raise VotingError(_("This ballot paper is not ranked."))
        if len(choices) < contest.fewest_ticks:
            raise VotingError(
                ngettext("Choose at least %(num)d project.", "Choose at least %(num)d projects.", contest.fewest_ticks)
            )
        if len(choices) > contest.max_picks:
            raise VotingError(
                ngettext("Choose at most %(num)d project.", "Choose at most %(num)d projects.", contest.max_picks)
            )
        if contest.limit_to_budget and sum(projects[pid].cost for pid in choices) > paper.budget:
            raise VotingError(_("The projects you chose cost more than the budget together. Untick one or more."))
        if broken := broken_limit(paper.limits, paper.categories, choices):
            raise VotingError(broken)
    elif contest.ballot_kind == BallotKind.POINTS.value:
        _check_points(contest, choices)
    else:
        ranks = [rank for rank in choices.values() if rank is not None]
        if not choices:
            raise VotingError(_("Rank at least one project."))
        if len(ranks) != len(choices) or any(not 1 <= rank <= contest.rank_depth for rank in ranks):
            raise VotingError(_("Ranks go from 1 to %(k)d.", k=contest.rank_depth))
        if len(set(ranks)) != len(ranks):
            raise VotingError(_("Give each rank to one project only."))
        if sorted(ranks) != list(range(1, len(ranks) + 1)):
            raise VotingError(_("Use the ranks in order without gaps: 1, then 2, and so on."))
    return choices


def _check_points(contest: Contest, choices: dict[int, int | None]) -> None:
    given = list(choices.values())
    if not given:
        raise VotingError(_("Give at least one point to a project."))
    if any(points is None or points < 1 for points in given):
        raise VotingError(_("Give each project a whole number of points, or leave it blank."))
    if any(points > contest.points_max for points in given if points is not None):
        raise VotingError(
            ngettext(
                "Give at most %(num)d point to one project.",
                "Give at most %(num)d points to one project.",
                contest.points_max,
            )
        )
    total = sum(points for points in given if points is not None)
    if total > contest.points_total:
        raise VotingError(
            ngettext(
                "You have %(num)d point; these add up to %(given)d.",
                "You have %(num)d points; these add up to %(given)d.",
                contest.points_total,
                given=total,
            )
        )


def choice_rows(contest: Contest, choices: dict[int, int | None]) -> list[dict]:
    """The ballot's choices as ballot_choice rows: the value is a rank, or points, by the kind of ballot."""
    column = "points" if contest.ballot_kind == BallotKind.POINTS.value else "rank"
    return [{"project_id": pid, "rank": None, "points": None, column: value} for pid, value in choices.items()]


def cast_ballot(
    session: Session,
    voter: Voter,
    contest: Contest,
    choices: dict[int, int | None],
    *,
    channel=Channel.ONLINE,
    submission: str | None = None,
    entered_by: int | None = None,
) -> Ballot:
    """Validate a whole ballot, then store it, superseding the voter's earlier one for
    this contest. Returns the new ballot (its receipt is `ballot.receipt`).

    `submission` is the token of the review page the voter confirmed: sending the same
    confirmation again (double tap, back button, retry) returns the ballot it made.

    Reads come first; only the writes queue behind other writers. Casts by one voter
    queue on their voter row as well (PostgreSQL; SQLite has one writer at a time),
    and a partial unique index backs the rule of one current ballot per voter and contest.
    """
    _check_round_row(session, contest.round_id)
    if contest.round_id != voter.round_id or contest.area_id not in (None, voter.area_id):
        raise VotingError(_("You cannot vote on this ballot paper."))
    validate_choices(session, contest, choices)
    begin_writing(session)
    # Core statements on the session's connection, compiled once: this is the hot path.
    conn = session.connection()
    _check_round_row(session, contest.round_id, lock=True)  # again, now that this cast holds the write lock
    if conn.execute(_LOCK_VOTER, {"voter_id": voter.id, "round_id": contest.round_id}).first() is None:
        raise VotingError(_("You cannot vote on this ballot paper."))
    if submission:
        # Read after taking the voter's lock: a twin request that got there first has committed.
        earlier = ballot_for_submission(session, voter.id, submission)
        if earlier is not None:
            return earlier
    at = today()  # the day only: an exact time could match a ballot to a resident seen voting
    conn.execute(_SUPERSEDE, {"b_voter": voter.id, "b_contest": contest.id, "b_at": at})
    ballot = Ballot(
        contest_id=contest.id,
        voter_id=voter.id,
        channel=Channel(channel).value,
        receipt=new_receipt(),
        cast_at=at,
        submission=submission or None,
    )
    ballot.id = conn.execute(
        _INSERT_BALLOT,
        {
            "contest_id": ballot.contest_id,
            "voter_id": ballot.voter_id,
            "is_current": True,
            "channel": ballot.channel,
            "receipt": ballot.receipt,
            "cast_at": at,
            "submission": ballot.submission,
            "entered_by_user_id": entered_by,
        },
    ).scalar_one()
    conn.execute(_INSERT_CHOICE, [{"ballot_id": ballot.id, **row} for row in choice_rows(contest, choices)])
    conn.execute(_SPEND_CODE, {"s_voter": voter.id, "s_day": today()})
    # Who entered a paper ballot is kept on it; the log says how many each helper entered
    # only once voting has closed (audit_paper_ballots): an event per ballot would time it.
    return ballot


_ROUND_ROW = select(Round.phase, Round.voting_closes_at, Round.suspended_at, Round.suspension_reason).where(
    Round.id == bindparam("round_id")
)
_ROUND_ROW_LOCKED = _ROUND_ROW.with_for_update(read=True)
_LOCK_VOTER = (
    select(Voter.id).where(Voter.id == bindparam("voter_id"), Voter.round_id == bindparam("round_id")).with_for_update()
)
_SUPERSEDE = (
    update(Ballot)
    .where(
        col(Ballot.voter_id) == bindparam("b_voter"),
        col(Ballot.contest_id) == bindparam("b_contest"),
        col(Ballot.is_current),
    )
    .values(is_current=False, superseded_at=bindparam("b_at"))
)
_INSERT_BALLOT = insert(Ballot).returning(col(Ballot.id))
# A voting code is spent by its first ballot (the day only is kept).
_SPEND_CODE = (
    update(VotingCode)
    .where(
        col(VotingCode.id) == select(col(Voter.code_id)).where(col(Voter.id) == bindparam("s_voter")).scalar_subquery(),
        col(VotingCode.used_at).is_(None),
    )
    .values(used_at=bindparam("s_day"))
)
_INSERT_CHOICE = insert(BallotChoice)


SUBMISSION = re.compile(r"[A-Za-z0-9_-]{16,32}")


def new_submission() -> str:
    """The token of one review page (see cast_ballot)."""
    return secrets.token_urlsafe(16)


def clean_submission(text: str | None) -> str | None:
    """A review page's token as sent back, or None if it is missing or not one of ours."""
    return text if text and SUBMISSION.fullmatch(text) else None


def ballot_for_submission(session: Session, voter_id: int, submission: str | None) -> Ballot | None:
    """The ballot this voter already cast from the review page with this token, if any."""
    if clean_submission(submission) is None:
        return None
    return session.exec(select(Ballot).where(Ballot.voter_id == voter_id, Ballot.submission == submission)).first()


def ballot_by_receipt(session: Session, receipt: str) -> Ballot | None:
    cleaned = normalise_code(receipt)
    if len(cleaned) != RECEIPT_LENGTH:
        return None
    return session.exec(select(Ballot).where(Ballot.receipt == _grouped(cleaned, 5))).first()


def current_ballots(session: Session, voter: Voter) -> dict[int, Ballot]:
    return {b.contest_id: b for b in session.exec(select(Ballot).where(Ballot.voter_id == voter.id, Ballot.is_current))}


def ballots_seen_by(session: Session, state: VotingSession | None, voter: Voter) -> dict[int, Ballot]:
    """The voter's current ballots that a voting session may show (see VotingSession.own_ballots)."""
    current = current_ballots(session, voter)
    if state is None or state.own_ballots is None:
        return current
    own = {int(n) for n in state.own_ballots.split(",") if n}
    return {contest: ballot for contest, ballot in current.items() if ballot.id in own}


def note_own_ballot(session: Session, state: VotingSession, ballot: Ballot) -> None:
    """A ballot cast in a session that shows only its own (see VotingSession.own_ballots)."""
    if state.own_ballots is not None:
        state.own_ballots = ",".join(filter(None, [state.own_ballots, str(ballot.id)]))
        session.add(state)
