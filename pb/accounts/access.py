"""Who may see and run a community group: object-level checks, on top of the role
decorator (the loaders' shape is described in pb.rounds.access)."""

from flask import abort
from flask_login import current_user

from pb.accounts.models import Organisation, OrganisationKind
from pb.accounts.services import is_member_of
from pb.db import db_session


def load_group_as_member(organisation_id: int) -> Organisation:
    """A community group, for its members; else 404 (no such group) or 403."""
    session = db_session()
    group = session.get(Organisation, organisation_id)
    if group is None or group.kind != OrganisationKind.GROUP.value:
        abort(404)
    if not is_member_of(session, current_user, group):
        abort(403)
    return group
