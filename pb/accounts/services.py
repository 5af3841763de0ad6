"""Operations on accounts. They flush and audit; the caller's request (or CLI scope) commits."""

import secrets
from datetime import timedelta
from functools import cache

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from werkzeug.security import check_password_hash, generate_password_hash

from pb.accounts.models import (
    TYPES_BY_KIND,
    Invitation,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
    UserSession,
)
from pb.audit.chain import record_event
from pb.clock import now
from pb.db import savepoint
from pb.security import token_digest

PASSWORD_HASH_METHOD = "scrypt"  # werkzeug's, memory-hard; always in production (pb.config refuses another)


class AccountError(ValueError):
    """A request the account rules refuse; the message is shown to the person."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def create_user(
    session: Session, *, email: str, name: str, password: str, is_platform_admin: bool = False, actor=None
) -> User:
    def taken():
        return AccountError(_("An account with this email address already exists."))

    if find_user(session, email) is not None:
        raise taken()
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        password_hash=_hash_password(password),
        is_platform_admin=is_platform_admin,
    )
    try:
        with savepoint(session):  # the same address finished twice at once: one account, one refusal
            session.add(user)
    except IntegrityError:
        raise taken() from None
    record_event(
        session,
        "user.created",
        actor=actor or user,
        data={"user": user.id, "platform_admin": is_platform_admin},
    )
    return user


def _hash_method() -> str:
    """scrypt, except in a test app that asks for a cheap hash (scrypt is most of a test's time)."""
    if current_app.config.get("TESTING"):
        return current_app.config.get("PASSWORD_HASH_METHOD") or PASSWORD_HASH_METHOD
    return PASSWORD_HASH_METHOD


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=_hash_method())


@cache
def _dummy_hash(method: str) -> str:
    """Checked when no user has the address, so that a missing account takes as long as a
    wrong password: made by the same method as real hashes, once per process."""
    return generate_password_hash("not a real password", method=method)


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    if user is None:
        check_password_hash(_dummy_hash(_hash_method()), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_password(session: Session, user: User, password: str) -> None:
    """A new password, which ends every session the user had (a stolen one included)."""
    user.password_hash = _hash_password(password)
    session.add(user)
    session.flush()
    end_user_sessions(session, user)
    record_event(session, "user.password_changed", actor=user, data={"user": user.id})


# ---------------------------------------------------------------- signed-in sessions


def _session_lifetime() -> timedelta:
    return timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])


def start_user_session(session: Session, user: User) -> str:
    """A signed-in session held on the server; returns the reference for the browser's cookie.
    The user's sessions past their lifetime are deleted on the way."""
    session.exec(
        delete(UserSession).where(
            col(UserSession.user_id) == user.id, col(UserSession.created_at) < now() - _session_lifetime()
        )
    )
    token = secrets.token_urlsafe(24)
    session.add(UserSession(user_id=user.id, token_hash=token_digest(token)))
    session.flush()
    return token


def user_of_session(session: Session, user_id: int, token: str | None) -> User | None:
    """The user a browser's session reference stands for, while that session lasts: at most
    PERMANENT_SESSION_LIFETIME (8 hours) from signing in, however active, whatever the cookie says."""
    if not token or not isinstance(token, str) or len(token) > 64:
        return None
    return session.exec(
        select(User)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(
            UserSession.token_hash == token_digest(token),
            User.id == user_id,
            UserSession.created_at >= now() - _session_lifetime(),
        )
    ).first()


def end_user_session(session: Session, token: str | None) -> None:
    if token and isinstance(token, str):
        session.exec(delete(UserSession).where(col(UserSession.token_hash) == token_digest(token)))


def end_user_sessions(session: Session, user: User) -> int:
    """Sign the user out everywhere. Returns how many sessions ended."""
    return session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id)).rowcount


# ---------------------------------------------------------------- signing up by an emailed link


def sign_up_token(email: str, name: str, next_url: str | None = None) -> str:
    """The link that proves the address is the person's: whoever opens it chooses the password."""
    return _serializer("pb.sign-up").dumps(
        {"email": normalise_email(email), "name": name.strip(), "next": next_url or ""}
    )


def sign_up_for_token(session: Session, token: str) -> dict | None:
    """The sign-up a link stands for, while it lasts (SIGN_UP_MAX_AGE) and until the
    address has an account (so a link works once)."""
    try:
        claims = _serializer("pb.sign-up").loads(token, max_age=current_app.config["SIGN_UP_MAX_AGE"])
        email, name, next_url = claims["email"], claims["name"], claims["next"]
    except (BadSignature, KeyError, TypeError):
        return None
    if not all(isinstance(value, str) for value in (email, name, next_url)) or find_user(session, email) is not None:
        return None
    return {"email": email, "name": name, "next": next_url}


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def password_reset_token(user: User) -> str:
    # Part of the current hash goes in, so the token stops working once the password changes.
    return _serializer("pb.password-reset").dumps({"user": user.id, "hash": user.password_hash[-12:]})


def user_for_reset_token(session: Session, token: str) -> User | None:
    try:
        claims = _serializer("pb.password-reset").loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
        user = session.get(User, int(claims["user"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if user is None or user.password_hash[-12:] != claims.get("hash"):
        return None
    return user


def create_organisation(session: Session, *, actor: User, name: str, kind: str, subtype: str) -> Organisation:
    kind = OrganisationKind(kind)
    if subtype not in TYPES_BY_KIND[kind]:
        raise AccountError(_("Choose a type that fits this kind of organisation."))
    if session.exec(select(Organisation).where(Organisation.name == name.strip())).first():
        raise AccountError(_("An organisation with this name already exists."))
    organisation = Organisation(name=name.strip(), kind=kind.value, subtype=subtype)
    session.add(organisation)
    session.flush()
    record_event(
        session,
        "organisation.created",
        actor=actor,
        organisation_id=organisation.id,
        data={"name": organisation.name, "kind": organisation.kind, "subtype": organisation.subtype},
    )
    return organisation


def add_member(session: Session, *, actor: User, organisation: Organisation, user: User) -> Membership:
    if is_member_of(session, user, organisation):
        raise AccountError(_("This person is already a member of the organisation."))
    membership = Membership(user_id=user.id, organisation_id=organisation.id)
    session.add(membership)
    session.flush()
    record_event(
        session,
        "organisation.member_added",
        actor=actor,
        organisation_id=organisation.id,
        data={"user": user.id},
    )
    if organisation.kind == OrganisationKind.ANCHOR.value:
        _log_in_rounds_of(session, organisation, actor=actor, user=user)
    return membership


def _log_in_rounds_of(session: Session, organisation: Organisation, *, actor: User, user: User) -> None:
    """A new lead of an anchor gets that anchor's powers in every round it funds: each of
    those rounds' public logs says so (who was added, and by whom: a platform admin
    making themself a lead shows there, not only in the platform's own log)."""
    from pb.audit.chain import person
    from pb.rounds.models import Partner, Round

    rounds = set(session.exec(select(Round.id).where(Round.convening_organisation_id == organisation.id)))
    rounds |= set(session.exec(select(Partner.round_id).where(Partner.organisation_id == organisation.id)))
    for round_id in sorted(rounds):
        record_event(
            session,
            "anchor.member_added",
            actor=actor,
            organisation_id=organisation.id,
            round_id=round_id,
            data={
                "user": person(user, round_id),
                "name": user.name,
                "anchor": organisation.name,
                "by_platform_admin": bool(actor.is_platform_admin),
                "themself": actor.id == user.id,
            },
        )


def organisations_of(session: Session, user: User, kind: OrganisationKind | None = None) -> list[Organisation]:
    query = (
        select(Organisation)
        .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(Membership.user_id == user.id)
        .order_by(Organisation.name)
    )
    if kind is not None:
        query = query.where(Organisation.kind == kind.value)
    return list(session.exec(query))


def roles_of(session: Session, user: User) -> frozenset[Role]:
    roles = set()
    if user.is_platform_admin:
        roles.add(Role.PLATFORM_ADMIN)
    for organisation in organisations_of(session, user):
        roles.add(Role.ANCHOR_LEAD if organisation.kind == OrganisationKind.ANCHOR else Role.GROUP_MEMBER)
    return frozenset(roles)


def register_group(
    session: Session,
    *,
    actor: User,
    name: str,
    subtype: str,
    registered_number: str | None,
    contact_email: str,
    area_served: str | None,
) -> Organisation:
    """A community group registers itself; whoever registers it is its first member."""
    organisation = create_organisation(
        session, actor=actor, name=name, kind=OrganisationKind.GROUP.value, subtype=subtype
    )
    organisation.registered_number = (registered_number or "").strip() or None
    organisation.contact_email = normalise_email(contact_email)
    organisation.area_served = (area_served or "").strip() or None
    session.add(organisation)
    session.flush()
    add_member(session, actor=actor, organisation=organisation, user=actor)
    return organisation


INVITATION_DAYS = 14


def invite_member(session: Session, *, actor: User, organisation: Organisation, email: str) -> str:
    """Record an invitation and return its secret token (sent by email, never stored)."""
    if not is_member_of(session, actor, organisation):
        raise AccountError(_("Only members of the organisation can invite others."))
    existing = find_user(session, email)
    if existing is not None and is_member_of(session, existing, organisation):
        raise AccountError(_("This person is already a member of the organisation."))
    token = secrets.token_urlsafe(32)
    session.add(
        Invitation(
            organisation_id=organisation.id,
            email=normalise_email(email),
            token_hash=token_digest(token),
            invited_by_user_id=actor.id,
        )
    )
    session.flush()
    record_event(
        session,
        "organisation.member_invited",
        actor=actor,
        organisation_id=organisation.id,
        data={"email": normalise_email(email)},
    )
    return token


def invitation_for_token(session: Session, token: str) -> Invitation | None:
    invitation = session.exec(select(Invitation).where(Invitation.token_hash == token_digest(token))).first()
    if invitation is None or invitation.accepted_at is not None:
        return None
    if invitation.created_at < now() - timedelta(days=INVITATION_DAYS):
        return None
    return invitation


def accept_invitation(session: Session, invitation: Invitation, *, user: User) -> Membership:
    if normalise_email(user.email) != invitation.email:
        raise AccountError(
            _("This invitation was sent to another email address. Sign in with that address to accept it.")
        )
    organisation = session.get_one(Organisation, invitation.organisation_id)
    membership = add_member(session, actor=user, organisation=organisation, user=user)
    invitation.accepted_at = now()
    session.add(invitation)
    session.flush()
    return membership


def is_member_of(session: Session, user: User, organisation: Organisation) -> bool:
    return (
        session.exec(
            select(Membership).where(Membership.user_id == user.id, Membership.organisation_id == organisation.id)
        ).first()
        is not None
    )
