"""Who may see and change a round: object-level checks, on top of the role decorator.

A view declares who may use it by its decorator (pb.accounts.permissions.role_required for
a role, login_required for anyone signed in) and by the loader it calls first for the
object it is about: `load_<object>` (or `load_<object>_as_<who>`) in its domain's access
module returns the object, or answers 404 (no such object, or not the user's to know of)
or 403 (theirs to see, not to do this). No view decides it in its body; views open to
anyone are listed in tests/test_permissions_declared.py, which checks all this."""

from enum import IntEnum

from flask import abort
from flask_login import current_user
from sqlmodel import Session, select

from pb.accounts.models import Membership
from pb.db import db_session
from pb.rounds.models import Contest, Phase, Pot, Round
from pb.rounds.services import funding_organisation_ids, is_returning_officer


class Access(IntEnum):
    PUBLIC = 0  # anyone, once the round is out of draft
    FUNDER = 1  # leads of the convening anchor and of partner anchors
    CONVENER = 2  # leads of the convening anchor


def my_organisation_ids(session: Session) -> set[int]:
    if not current_user.is_authenticated:
        return set()
    return set(session.exec(select(Membership.organisation_id).where(Membership.user_id == current_user.id)))


def access_to(session: Session, round_: Round) -> Access | None:
    """The current user's level of access to a round, or None (a draft they may not see)."""
    if round_.deleted_at is not None:
        return None
    if not current_user.is_authenticated:
        return Access.PUBLIC if round_.phase != Phase.DRAFT.value else None
    mine = my_organisation_ids(session)
    if round_.convening_organisation_id in mine:
        return Access.CONVENER
    if mine & funding_organisation_ids(session, round_):
        return Access.FUNDER
    if round_.phase != Phase.DRAFT.value or round_.returning_officer_id == current_user.id:
        return Access.PUBLIC
    return None  # a draft is for its anchors (and its returning officer) only: not even the platform's admins see it


def existing_round(round_id: int) -> Round:
    """The round, whoever asks; 404 if there is none or it is a deleted draft. Every
    loader of a round, or of something in one, starts here."""
    round_ = db_session().get(Round, round_id)
    if round_ is None or round_.deleted_at is not None:
        abort(404)
    return round_


def load_round(round_id: int, need: Access = Access.PUBLIC) -> tuple[Round, Access]:
    """The round if the current user has `need`; else 404 (or 403 when signed in)."""
    round_ = existing_round(round_id)
    access = access_to(db_session(), round_)
    if access is None:
        abort(403 if current_user.is_authenticated else 404)
    if access < need:
        abort(403)
    return round_, access


def load_round_as_officer(round_id: int, *, or_convener: bool = False, or_funders: bool = False) -> Round:
    """The round if the current user is its returning officer (or, `or_convener`, a lead
    of its convening anchor; `or_funders`, a lead of any anchor funding it); else 404 or 403."""
    round_, access = load_round(round_id)
    let_in = (or_convener and access == Access.CONVENER) or (or_funders and access >= Access.FUNDER)
    if not let_in and not is_returning_officer(db_session(), round_, current_user):
        abort(403)
    return round_


def load_pot_as_pledger(round_id: int, pot_id: int) -> tuple[Round, Pot]:
    """A pot of the round, for the leads of the anchor that pledged it; else 404 or 403."""
    round_, _access = load_round(round_id, Access.FUNDER)
    session = db_session()
    pot = session.get(Pot, pot_id)
    if pot is None or session.get_one(Contest, pot.contest_id).round_id != round_.id:
        abort(404)
    if pot.organisation_id not in my_organisation_ids(session):
        abort(403)
    return round_, pot
