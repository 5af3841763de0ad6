"""The one place messages about a round are written and sent (pb.mail's outbox, in the
caller's transaction: an action that rolls back sends nothing).

Each message is written in its recipient's language: a user's chosen one, a resident's
at the time they asked, else the default. Links are built from PB_BASE_URL (pb.links).

Residents ask on the round's page, and their address is kept only once they confirm from
a signed link (so nobody can sign up someone else); every message to them carries a
signed link that stops them, for the round or for every round, without signing in.
Messages that must go once only (voting opened, the reminder, results, a delivery) are
noted in `notice_sent` in the transaction that sends them.
"""

import json
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pb.accounts.models import Membership, Organisation, User
from pb.clock import now
from pb.db import savepoint, session_scope
from pb.i18n import when
from pb.links import public_url
from pb.mail import send_mail
from pb.notices.models import NoticeSent, Subscription
from pb.proposals.models import Project, Proposal, Status
from pb.results.models import ContestResult
from pb.rounds.models import Contest, Phase, Round

CONFIRM, STOP = "pb.notices.confirm", "pb.notices.stop"


# ---------------------------------------------------------------- writing and sending


def _default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _send(session: Session, to: str, locale: str | None, write) -> None:
    """Send `write()` -> (subject, body), written in `locale`, to one address."""
    languages = current_app.config["LANGUAGES"]
    with force_locale(locale if locale in languages else _default_locale()):
        subject, body = write()
        send_mail(to, subject, body, session=session)


def _tell_users(session: Session, users: list[User], write) -> None:
    for user in users:
        _send(session, user.email, user.locale, write)


def members_of(session: Session, organisation_id: int) -> list[User]:
    """The people in an organisation (a group's members, an anchor's leads), each once."""
    return list(
        session.exec(
            select(User)
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(Membership.organisation_id == organisation_id)
            .order_by(User.email)
        )
    )


def _first_time(session: Session, round_id: int, topic: str) -> bool:
    """Note that the message `topic` about a round is going out; False if it already
    went (or is going out in a concurrent transaction, which then wins)."""
    if session.exec(select(NoticeSent.id).where(NoticeSent.round_id == round_id, NoticeSent.topic == topic)).first():
        return False
    try:
        with savepoint(session):
            session.add(NoticeSent(round_id=round_id, topic=topic))
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------- groups, anchors, appointees


def proposal_screened(session: Session, proposal: Proposal) -> None:
    """The group's members hear the screening decision, with its reason."""
    round_ = session.get_one(Round, proposal.round_id)
    link = public_url("proposals.show", proposal_id=proposal.id)

    def write():
        subject = {
            Status.ELIGIBLE.value: _("“%(title)s” is eligible", title=proposal.title),
            Status.NOT_ELIGIBLE.value: _("“%(title)s” is not eligible", title=proposal.title),
            Status.RETURNED.value: _("“%(title)s” was returned for changes", title=proposal.title),
        }[proposal.status]
        if proposal.status == Status.ELIGIBLE.value:
            body = _(
                "Your proposal “%(title)s” in the round “%(round)s” has been screened as eligible: it will be "
                "on the ballot when voting opens.\n\n%(link)s",
                title=proposal.title,
                round=round_.title,
                link=link,
            )
        elif proposal.status == Status.NOT_ELIGIBLE.value:
            body = _(
                "Your proposal “%(title)s” in the round “%(round)s” has been screened as not eligible. "
                "The reason given, which is public:\n\n%(reason)s\n\n%(link)s",
                title=proposal.title,
                round=round_.title,
                reason=proposal.screening_reason,
                link=link,
            )
        else:
            body = _(
                "Your proposal “%(title)s” in the round “%(round)s” has been returned to your group for changes. "
                "The screener's note:\n\n%(reason)s\n\nChange it and submit it again here:\n%(link)s",
                title=proposal.title,
                round=round_.title,
                reason=proposal.screening_reason,
                link=link,
            )
        return subject, body

    _tell_users(session, members_of(session, proposal.organisation_id), write)


def question_asked(session: Session, proposal: Proposal, *, text: str, asked_by: str) -> None:
    """The group's members hear of a resident's question on their proposal, to answer it."""
    link = public_url("proposals.show", proposal_id=proposal.id) + "#questions"

    def write():
        return (
            _("A question about “%(title)s”", title=proposal.title),
            _(
                "%(who)s asked a question about your proposal “%(title)s”. It is public on the proposal's page, "
                "where your group can answer it until voting opens:\n\n%(question)s\n\n%(link)s",
                who=asked_by or _("A resident"),
                title=proposal.title,
                question=text,
                link=link,
            ),
        )

    _tell_users(session, members_of(session, proposal.organisation_id), write)


def partner_invited(session: Session, round_: Round, organisation: Organisation) -> None:
    """A partner anchor's leads hear that they were invited to fund a round."""
    convener = session.get_one(Organisation, round_.convening_organisation_id)
    link = public_url("rounds.manage", round_id=round_.id)

    def write():
        return (
            _(
                "%(convener)s invites %(anchor)s to fund “%(round)s”",
                convener=convener.name,
                anchor=organisation.name,
                round=round_.title,
            ),
            _(
                "%(convener)s has invited %(anchor)s to take part in the participatory budgeting round “%(round)s” as "
                "a partner anchor: you can pledge money to its ballot papers and screen its proposals.\n\n%(link)s",
                convener=convener.name,
                anchor=organisation.name,
                round=round_.title,
                link=link,
            ),
        )

    _tell_users(session, members_of(session, organisation.id), write)


def screener_appointed(session: Session, round_: Round, user: User) -> None:
    link = public_url("proposals.screening", round_id=round_.id)

    def write():
        return (
            _("You are a screener for “%(round)s”", round=round_.title),
            _(
                "You have been appointed to screen the proposals of the round “%(round)s”: to decide, with reasons, "
                "which can go on the ballot. The proposals waiting for you are here:\n\n%(link)s",
                round=round_.title,
                link=link,
            ),
        )

    _tell_users(session, [user], write)


def returning_officer_appointed(session: Session, round_: Round, user: User) -> None:
    link = public_url("rounds.show", round_id=round_.id)

    def write():
        return (
            _("You are the returning officer of “%(round)s”", round=round_.title),
            _(
                "You have been appointed returning officer of the round “%(round)s”. You alone make and send its "
                "voting codes, replace lost ones and appoint polling helpers, independently of the anchors that fund "
                "it. Start from the round's page:\n\n%(link)s",
                round=round_.title,
                link=link,
            ),
        )

    _tell_users(session, [user], write)


def _projects_by_group(session: Session, round_: Round) -> dict[int, list[Project]]:
    found: dict[int, list[Project]] = {}
    rows = session.exec(
        select(Project, col(Proposal.organisation_id))
        .join(Proposal, col(Proposal.id) == col(Project.proposal_id))
        .join(Contest, col(Contest.id) == col(Project.contest_id))
        .where(col(Contest.round_id) == round_.id)
        .order_by(col(Project.contest_id), col(Project.ballot_position))
    )
    for project, organisation_id in rows:
        found.setdefault(organisation_id, []).append(project)
    return found


def _funded(session: Session, round_: Round) -> set[int]:
    outcomes = session.exec(
        select(col(ContestResult.outcome))
        .join(Contest, col(Contest.id) == col(ContestResult.contest_id))
        .where(col(Contest.round_id) == round_.id)
    )
    return {int(pid) for outcome in outcomes for pid in json.loads(outcome)["selected"]}


def _groups_on_ballot(session: Session, round_: Round) -> None:
    link = public_url("rounds.show", round_id=round_.id)
    for organisation_id, projects in _projects_by_group(session, round_).items():

        def write(projects=projects):
            titles = "\n".join(f"- {project.title}" for project in projects)
            return (
                _("Voting has opened in “%(round)s”", round=round_.title),
                _(
                    "Voting has opened in the round “%(round)s”, and these projects of your group are on the ballot:\n\n"
                    "%(projects)s\n\nVoting closes at %(closes)s.\n\n%(link)s",
                    round=round_.title,
                    projects=titles,
                    closes=when(round_.voting_closes_at),
                    link=link,
                ),
            )

        _tell_users(session, members_of(session, organisation_id), write)


def _groups_results(session: Session, round_: Round) -> None:
    funded = _funded(session, round_)
    link = public_url("results.index", round_id=round_.id)
    for organisation_id, projects in _projects_by_group(session, round_).items():

        def write(projects=projects):
            lines = "\n".join(
                (
                    _("- %(title)s: funded", title=p.title)
                    if p.id in funded
                    else _("- %(title)s: not funded", title=p.title)
                )
                for p in projects
            )
            return (
                _("The results of “%(round)s” are published", round=round_.title),
                _(
                    "The results of the round “%(round)s” are published. Your group's projects:\n\n%(projects)s\n\n"
                    "The full results, which anyone can recount:\n%(link)s",
                    round=round_.title,
                    projects=lines,
                    link=link,
                ),
            )

        _tell_users(session, members_of(session, organisation_id), write)


# ---------------------------------------------------------------- residents who asked


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def normalise(email: str) -> str:
    return email.strip().lower()


def confirm_token(round_: Round, email: str) -> str:
    return _serializer(CONFIRM).dumps({"round": round_.id, "email": normalise(email), "locale": str(get_locale())})


def stop_token(round_id: int, email: str) -> str:
    return _serializer(STOP).dumps({"round": round_id, "email": normalise(email)})


def _claims(salt: str, token: str, max_age: int) -> dict | None:
    try:
        claims = _serializer(salt).loads(token, max_age=max_age)
        if isinstance(claims["round"], int) and isinstance(claims["email"], str) and "@" in claims["email"]:
            return claims
    except (BadSignature, KeyError, TypeError):
        pass
    return None


def takes_subscriptions(round_: Round) -> bool:
    """Whether there is anything left to tell about a round (it is public and not archived)."""
    return round_.phase not in (Phase.DRAFT.value, Phase.ARCHIVED.value)


def ask_to_confirm(session: Session, round_: Round, email: str) -> None:
    """Mail the link that confirms a subscription. The same whether or not the address
    is already subscribed (confirming twice changes nothing)."""
    link = public_url("notices.confirm", token=confirm_token(round_, email))
    hours = max(1, current_app.config["NOTICE_CONFIRM_MAX_AGE"] // 3600)
    send_mail(
        normalise(email),
        _("Confirm: news of “%(round)s”", round=round_.title),
        ngettext(
            "Someone, we hope you, asked to be emailed when voting opens, shortly before it closes, when the results "
            "are out and when projects are delivered in the round “%(round)s”.\n\n"
            "To confirm, open this link within %(num)d hour and press the button:\n%(link)s\n\n"
            "If it was not you, ignore this message: we keep nothing and will not write again.",
            "Someone, we hope you, asked to be emailed when voting opens, shortly before it closes, when the results "
            "are out and when projects are delivered in the round “%(round)s”.\n\n"
            "To confirm, open this link within %(num)d hours and press the button:\n%(link)s\n\n"
            "If it was not you, ignore this message: we keep nothing and will not write again.",
            hours,
            round=round_.title,
            link=link,
        ),
        session=session,
    )


def subscription_for_confirm_token(session: Session, token: str) -> tuple[Round, str, str] | None:
    """(round, address, language) a confirmation link stands for, while it lasts and
    while the round takes subscriptions; None for a forged, expired or stale link."""
    claims = _claims(CONFIRM, token, current_app.config["NOTICE_CONFIRM_MAX_AGE"])
    if claims is None:
        return None
    round_ = session.get(Round, claims["round"])
    if round_ is None or not takes_subscriptions(round_):
        return None
    locale = claims["locale"] if claims.get("locale") in current_app.config["LANGUAGES"] else _default_locale()
    return round_, claims["email"], locale


def subscribe(session: Session, round_: Round, email: str, locale: str) -> None:
    """Keep a confirmed address (once, however many times it is confirmed)."""
    email = normalise(email)
    found = session.exec(
        select(Subscription).where(Subscription.round_id == round_.id, Subscription.email == email)
    ).first()
    if found is not None:
        found.locale = locale
        session.add(found)
        return
    try:
        with savepoint(session):  # confirmed twice at once: one subscription
            session.add(Subscription(round_id=round_.id, email=email, locale=locale))
    except IntegrityError:
        pass


def subscription_for_stop_token(token: str) -> tuple[int, str] | None:
    """(round id, address) an unsubscribe link stands for; None when forged or expired."""
    claims = _claims(STOP, token, current_app.config["NOTICE_STOP_MAX_AGE"])
    return None if claims is None else (claims["round"], claims["email"])


def unsubscribe(session: Session, email: str, round_id: int | None) -> int:
    """Forget an address for one round, or for every round (round_id None). Returns how
    many subscriptions were deleted."""
    query = delete(Subscription).where(col(Subscription.email) == normalise(email))
    if round_id is not None:
        query = query.where(col(Subscription.round_id) == round_id)
    return session.exec(query).rowcount


def subscribers(session: Session, round_: Round) -> list[Subscription]:
    return list(
        session.exec(select(Subscription).where(col(Subscription.round_id) == round_.id).order_by(col(Subscription.id)))
    )


def _tell_subscribers(session: Session, round_: Round, write) -> None:
    """`write(link)` -> (subject, body) for each subscriber, with the link to stop added."""
    for subscription in subscribers(session, round_):
        stop = public_url("notices.stop", token=stop_token(round_.id, subscription.email))

        def written(subscription=subscription, stop=stop):
            subject, body = write()
            return subject, body + "\n\n-- \n" + _(
                "You asked to hear about “%(round)s”. To stop these messages, open:\n%(stop)s",
                round=round_.title,
                stop=stop,
            )

        _send(session, subscription.email, subscription.locale, written)


def _residents_voting_opened(session: Session, round_: Round) -> None:
    link = public_url("voting.start", round_id=round_.id)
    _tell_subscribers(
        session,
        round_,
        lambda: (
            _("Voting has opened: %(round)s", round=round_.title),
            _(
                "Voting has opened in “%(round)s”. It closes at %(closes)s.\n\nVote here:\n%(link)s",
                round=round_.title,
                closes=when(round_.voting_closes_at),
                link=link,
            ),
        ),
    )


def _residents_results(session: Session, round_: Round) -> None:
    link = public_url("results.index", round_id=round_.id)
    _tell_subscribers(
        session,
        round_,
        lambda: (
            _("The results are out: %(round)s", round=round_.title),
            _(
                "The results of “%(round)s” are published: see which projects will be funded, and check your receipt "
                "if you voted.\n\n%(link)s",
                round=round_.title,
                link=link,
            ),
        ),
    )


def project_delivered(session: Session, project: Project) -> None:
    """Residents who asked hear that a funded project was delivered (once)."""
    round_ = session.get_one(Round, session.get_one(Contest, project.contest_id).round_id)
    if not _first_time(session, round_.id, f"delivered:{project.id}"):
        return
    link = public_url("delivery.project", project_id=project.id)
    _tell_subscribers(
        session,
        round_,
        lambda: (
            _("Delivered: %(project)s", project=project.title),
            _(
                "The group behind “%(project)s”, funded in “%(round)s”, reports that it has been delivered. "
                "See the update, and say whether you agree:\n%(link)s",
                project=project.title,
                round=round_.title,
                link=link,
            ),
        ),
    )


def remind_before_close(session: Session, round_: Round) -> bool:
    """Tell subscribers that voting closes soon, once. Returns whether it was sent."""
    if not _first_time(session, round_.id, "voting_closing"):
        return False
    link = public_url("voting.start", round_id=round_.id)
    _tell_subscribers(
        session,
        round_,
        lambda: (
            _("Voting closes soon: %(round)s", round=round_.title),
            _(
                "Voting in “%(round)s” closes at %(closes)s. If you have not voted yet, there is still time:\n%(link)s",
                round=round_.title,
                closes=when(round_.voting_closes_at),
                link=link,
            ),
        ),
    )
    return True


def reminder_is_due(round_: Round, at: datetime) -> bool:
    window = timedelta(hours=current_app.config["NOTICE_REMINDER_HOURS"])
    return (
        round_.phase == Phase.VOTING.value
        and round_.suspended_at is None
        and round_.voting_closes_at is not None
        and at < round_.voting_closes_at <= at + window
    )


def send_due_reminders(engine=None, at: datetime | None = None) -> list[int]:
    """For the worker (or cron, with `pb rounds advance`): remind the subscribers of every
    round whose voting closes within NOTICE_REMINDER_HOURS, each round once, in a
    transaction of its own with the round's row locked. Returns the rounds reminded."""
    at = at or now()
    with session_scope(engine, write=False) as session:
        due = [
            r.id for r in session.exec(select(Round).where(Round.phase == Phase.VOTING.value)) if reminder_is_due(r, at)
        ]
        sent = (
            {
                row
                for row in session.exec(
                    select(col(NoticeSent.round_id)).where(
                        col(NoticeSent.topic) == "voting_closing", col(NoticeSent.round_id).in_(due)
                    )
                )
            }
            if due
            else set()
        )
    reminded = []
    for round_id in due:
        if round_id in sent:
            continue
        with session_scope(engine) as session:
            round_ = session.get(Round, round_id, with_for_update=True, populate_existing=True)
            if round_ is not None and reminder_is_due(round_, at) and remind_before_close(session, round_):
                reminded.append(round_id)
    return reminded


# ---------------------------------------------------------------- phase changes


def phase_changed(session: Session, round_: Round, to: Phase) -> None:
    """What a round's move tells people (called by pb.lifecycle._move, in its transaction)."""
    if to == Phase.VOTING and _first_time(session, round_.id, "voting_opened"):
        _groups_on_ballot(session, round_)
        _residents_voting_opened(session, round_)
    elif to == Phase.RESULTS_PUBLISHED and _first_time(session, round_.id, "results_published"):
        _groups_results(session, round_)
        _residents_results(session, round_)
    elif to == Phase.ARCHIVED:
        # Nothing more will be told about an archived round: its residents' addresses go.
        session.exec(delete(Subscription).where(col(Subscription.round_id) == round_.id))
