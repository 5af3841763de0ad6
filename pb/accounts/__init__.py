"""Accounts: organisations, users, memberships and roles."""

from flask_babel import lazy_gettext as _l
from flask_login import LoginManager

login_manager = LoginManager()
login_manager.login_view = "accounts.sign_in"
login_manager.login_message = _l("Please sign in to see that page.")
login_manager.login_message_category = "info"
# "basic", not "strong": strong clears anonymous voters' sessions and logs out phone users
# whose address changes as they move between networks.
login_manager.session_protection = "basic"


@login_manager.user_loader
def _load_user(user_id: str):
    """The signed-in user, only while the server still holds this browser's session
    (pb.accounts.services.start_user_session): ended sessions do not come back from a cookie."""
    from flask import session as cookie

    from pb.accounts.services import user_of_session
    from pb.db import db_session

    try:
        return user_of_session(db_session(), int(user_id), cookie.get("account"))
    except ValueError:
        return None


def configure_accounts(app) -> None:
    from pb.accounts.groups import bp as groups
    from pb.accounts.permissions import current_roles
    from pb.accounts.routes import admin, bp

    login_manager.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(admin)
    app.register_blueprint(groups)
    app.jinja_env.globals["current_roles"] = current_roles
