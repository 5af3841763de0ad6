"""The one role check: declare on the view who may use it."""

from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from pb.accounts.models import Role
from pb.accounts.services import roles_of
from pb.db import db_session


def current_roles() -> frozenset[Role]:
    if not current_user.is_authenticated:
        return frozenset()
    if "pb_roles" not in g:
        g.pb_roles = roles_of(db_session(), current_user)
    return g.pb_roles


def role_required(*roles: Role):
    """Anonymous visitors are sent to sign in; signed-in users without one of the roles get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_roles() & set(roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
