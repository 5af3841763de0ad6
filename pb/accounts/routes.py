"""Pages for signing up, in and out, resetting a password, and running organisations."""

import hashlib
import hmac
import math

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as flask_session,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import col, select

from pb.accounts import services
from pb.accounts.forms import (
    FinishSignUpForm,
    MemberForm,
    OrganisationForm,
    ResetPasswordForm,
    ResetRequestForm,
    SignInForm,
    SignUpForm,
)
from pb.accounts.models import Membership, Organisation, OrganisationKind, Role, User
from pb.accounts.permissions import role_required
from pb.clock import now
from pb.db import db_session
from pb.links import public_url
from pb.mail import send_mail
from pb.security import safe_next
from pb.throttle import client_address, forget_attempts, is_limited, last_attempt, may_mail, note_attempt, serialise
from pb.views import form_page, refuse

bp = Blueprint("accounts", __name__)
admin = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/sign-up", methods=["GET", "POST"])
def sign_up():
    """Step one: a name and an address, to which a link is sent. The answer, and the work
    behind it, are the same whether or not the address already has an account: a free
    address gets the link, a taken one a note to its owner."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        session = db_session()
        email = services.normalise_email(form.email.data)
        next_url = safe_next(request.args.get("next"), "")
        if may_mail(session, "account-mail", email):
            owner = services.find_user(session, email)
            if owner is None:
                link = public_url(
                    "accounts.finish_sign_up", token=services.sign_up_token(email, form.name.data, next_url)
                )
                send_mail(
                    email,
                    _("Finish creating your pb account"),
                    ngettext(
                        "To finish creating your pb account, open this link within %(num)d hour and choose a password:\n%(link)s\n\n"
                        "If you did not ask for an account, ignore this message; none will be made.",
                        "To finish creating your pb account, open this link within %(num)d hours and choose a password:\n%(link)s\n\n"
                        "If you did not ask for an account, ignore this message; none will be made.",
                        _sign_up_hours(),
                        link=link,
                    ),
                )
            else:
                send_mail(
                    owner.email,
                    _("Your pb account"),
                    _(
                        "Someone asked to create a pb account with this address, which already has one.\n\n"
                        "If it was you, sign in here:\n%(sign_in)s\n\n"
                        "If you have forgotten your password, choose a new one here:\n%(reset)s\n\n"
                        "If it was not you, ignore this message; nothing has changed.",
                        sign_in=public_url("accounts.sign_in"),
                        reset=public_url("accounts.reset_request"),
                    ),
                )
        flash(_("We have sent a message to %(email)s.", email=email), "info")
        return redirect(url_for("accounts.sign_up_sent"))
    return form_page("accounts/sign_up.html", form)


@bp.route("/sign-up/sent")
def sign_up_sent():
    return render_template("accounts/sign_up_sent.html", hours=_sign_up_hours())


def _sign_up_hours() -> int:
    return max(1, current_app.config["SIGN_UP_MAX_AGE"] // 3600)


@bp.route("/sign-up/<token>", methods=["GET", "POST"])
def finish_sign_up(token):
    """Step two, from the emailed link: choose a password, and the account exists."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    session = db_session()
    pending = services.sign_up_for_token(session, token)
    if pending is None:
        return render_template("accounts/sign_up_invalid.html", hours=_sign_up_hours()), 404
    form = FinishSignUpForm(data={"name": pending["name"]} if request.method == "GET" else None)
    form.about_person = [pending["email"]]
    if form.validate_on_submit():
        try:
            user = services.create_user(
                session, email=pending["email"], name=form.name.data, password=form.password.data
            )
        except services.AccountError:  # finished a moment ago, in another tab
            refuse((render_template("accounts/sign_up_invalid.html", hours=_sign_up_hours()), 404))
        _sign_in(user)
        flash(_("Welcome, %(name)s. Your account is ready.", name=user.name), "success")
        return redirect(safe_next(pending["next"], url_for("accounts.dashboard")))
    return form_page("accounts/finish_sign_up.html", form, email=pending["email"])


def _sign_in_keys(email: str) -> list[str]:
    return [f"sign-in:email:{services.normalise_email(email)}", f"sign-in:ip:{client_address()}"]


def _wait_before_trying(session, keys: list[str]) -> int:
    """Seconds to wait before the next sign-in attempt may be checked (0: check it now).
    Past the limit of wrong passwords, sign-in slows to one attempt per SIGN_IN_SLOW_DOWN
    seconds for that address and that client: guessing is slowed to a crawl, but the
    right password still works for whoever waits; it never locks the owner out. Requests
    under the same keys wait for one another until each has noted its attempt, so that a
    burst of guesses cannot all be checked before any is counted."""
    config = current_app.config
    for key in keys:  # a burst waits here, so that each attempt is checked and counted in turn
        serialise(session, key)
    waits = [0]
    for key in keys:
        if is_limited(session, key, limit=config["SIGN_IN_LIMIT"], window_seconds=config["SIGN_IN_WINDOW"]):
            latest = last_attempt(session, key)
            if latest is not None:
                waits.append(math.ceil(config["SIGN_IN_SLOW_DOWN"] - (now() - latest).total_seconds()))
    return max(waits)


DEVICE_COOKIE = "pb_device"
DEVICE_DAYS = 180
DEVICE_MAX_AGE = DEVICE_DAYS * 24 * 3600


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="pb.accounts.device")


def _device_of(email: str) -> str:
    """What a device cookie holds of the account it signed in to: a keyed hash of its
    address (the cookie's content is readable, so a plain hash would confirm a guess)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"device:{services.normalise_email(email)}".encode(), hashlib.sha256).hexdigest()[:32]


def _remember_device(response, email: str) -> None:
    """After a right password: this browser has signed in to this account (a signed cookie,
    for DEVICE_DAYS, naming the account by a hash only)."""
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(_device_of(email)),
        max_age=DEVICE_MAX_AGE,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _known_device(email: str) -> bool:
    """Whether this browser carries a device cookie, signed by pb, of the account `email`."""
    token = request.cookies.get(DEVICE_COOKIE, "")
    try:
        return bool(token) and _device_serializer().loads(token, max_age=DEVICE_MAX_AGE) == _device_of(email)
    except BadSignature:
        return False


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        session = db_session()
        keys = _sign_in_keys(form.email.data)
        # A browser that has signed in to this account before is slowed down only for its own
        # wrong passwords: a script guessing elsewhere cannot keep the owner waiting.
        wait = _wait_before_trying(session, keys[1:] if _known_device(form.email.data) else keys)
        if wait:
            return render_template(
                "accounts/sign_in.html",
                form=form,
                error=ngettext(
                    "Too many wrong passwords: please wait %(num)d second before trying again, or reset your password.",
                    "Too many wrong passwords: please wait %(num)d seconds before trying again, or reset your password.",
                    wait,
                ),
            ), 429
        user = services.authenticate(session, form.email.data, form.password.data)
        if user is None:
            for key in keys:
                note_attempt(session, key)
            # Answered, not raised: the attempt must be committed so that the limit counts it (pb.db).
            return render_template(
                "accounts/sign_in.html", form=form, error=_("That email address and password do not match.")
            )
        forget_attempts(session, keys[0])
        _sign_in(user)
        response = redirect(safe_next(request.args.get("next"), url_for("accounts.dashboard")))
        _remember_device(response, form.email.data)
        return response
    return form_page("accounts/sign_in.html", form)


def _sign_in(user) -> None:
    flask_session.clear()  # a new session at sign-in: nothing planted before it carries over
    flask_session["account"] = services.start_user_session(db_session(), user)
    login_user(user)


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """Ends this session on the server too: a copy of the cookie no longer signs anyone in."""
    services.end_user_session(db_session(), flask_session.pop("account", None))
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("pages.index"))


@bp.route("/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    """Ends every session of this account, on every device (a lost phone, a shared computer)."""
    ended = services.end_user_sessions(db_session(), current_user)
    flask_session.pop("account", None)
    logout_user()
    flash(
        ngettext("You have signed out of %(num)d session.", "You have signed out of all %(num)d sessions.", ended),
        "info",
    )
    return redirect(url_for("pages.index"))


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        session = db_session()
        email = services.normalise_email(form.email.data)
        if may_mail(session, "account-mail", email):
            # A message either way, queued in the outbox and sent after the answer: the answer,
            # and the time it takes, are the same whether or not an account uses the address.
            user = services.find_user(session, email)
            if user is not None:
                link = public_url("accounts.reset_password", token=services.password_reset_token(user))
                send_mail(
                    user.email,
                    _("Reset your pb password"),
                    _(
                        "Someone asked to reset the password for your pb account.\n\n"
                        "To choose a new password, open this link within an hour:\n%(link)s\n\n"
                        "If it was not you, ignore this message; your password stays as it is.",
                        link=link,
                    ),
                )
            else:
                send_mail(
                    email,
                    _("Reset your pb password"),
                    _(
                        "Someone asked to reset the password of a pb account for this address, but no account uses it. "
                        "If it was you, you may have signed up with another address. If not, ignore this message."
                    ),
                )
        # The same answer whether or not the address has an account.
        flash(_("If an account uses that address, we have sent it a link to reset the password."), "info")
        return redirect(url_for("accounts.sign_in"))
    return form_page("accounts/reset_request.html", form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    session = db_session()
    user = services.user_for_reset_token(session, token)
    if user is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = ResetPasswordForm()
    form.about_person = [user.email, user.name]
    if form.validate_on_submit():
        services.set_password(session, user, form.password.data)
        flash(_("Your password has been changed. Please sign in."), "success")
        return redirect(url_for("accounts.sign_in"))
    return form_page("accounts/reset_password.html", form)


@bp.route("/dashboard")
@login_required
def dashboard():
    from pb.rounds.models import Round

    session = db_session()
    return render_template(
        "accounts/dashboard.html",
        anchors=services.organisations_of(session, current_user, OrganisationKind.ANCHOR),
        groups=services.organisations_of(session, current_user, OrganisationKind.GROUP),
        officer_of=session.exec(
            select(Round)
            .where(Round.returning_officer_id == current_user.id, col(Round.deleted_at).is_(None))
            .order_by(col(Round.id))
        ).all(),
    )


@bp.route("/anchor")
@role_required(Role.ANCHOR_LEAD)
def anchor_home():
    from pb.rounds.services import rounds_of

    session = db_session()
    anchors = services.organisations_of(session, current_user, OrganisationKind.ANCHOR)
    return render_template(
        "accounts/anchor_home.html", anchors=anchors, rounds=rounds_of(session, [a.id for a in anchors])
    )


@bp.route("/group")
@role_required(Role.GROUP_MEMBER)
def group_home():
    from pb.delivery.services import funded_projects_of_groups
    from pb.proposals.services import proposals_of_groups
    from pb.questions.services import waiting_for_answers
    from pb.rounds.models import Phase, Round

    session = db_session()
    groups = services.organisations_of(session, current_user, OrganisationKind.GROUP)
    open_rounds = session.exec(
        select(Round).where(Round.phase == Phase.PROPOSALS_OPEN.value).order_by(Round.title)
    ).all()
    proposals = proposals_of_groups(session, [g.id for g in groups])
    return render_template(
        "accounts/group_home.html",
        groups=groups,
        proposals=proposals,
        unanswered=waiting_for_answers(session, [p.id for p in proposals]),
        open_rounds=open_rounds,
        funded=funded_projects_of_groups(session, [g.id for g in groups]),
    )


@admin.route("/organisations", methods=["GET", "POST"])
@role_required(Role.PLATFORM_ADMIN)
def organisations():
    session = db_session()
    form = OrganisationForm(kind=request.args.get("kind"))
    if form.validate_on_submit():
        try:
            organisation = services.create_organisation(
                session, actor=current_user, name=form.name.data, kind=form.kind.data, subtype=form.subtype.data
            )
        except services.AccountError as error:
            form.subtype.errors.append(str(error))
        else:
            flash(_("%(name)s has been added.", name=organisation.name), "success")
            return redirect(url_for("admin.organisation", organisation_id=organisation.id))
    listing = session.exec(select(Organisation).order_by(Organisation.kind, Organisation.name)).all()
    return form_page("admin/organisations.html", form, organisations=listing)


@admin.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@role_required(Role.PLATFORM_ADMIN)
def organisation(organisation_id):
    session = db_session()
    organisation = session.get(Organisation, organisation_id) or abort(404)
    form = MemberForm()
    if form.validate_on_submit():
        user = services.find_user(session, form.email.data)
        if user is None:
            form.email.errors.append(_("No account uses this address. Ask them to sign up first."))
        else:
            try:
                services.add_member(session, actor=current_user, organisation=organisation, user=user)
            except services.AccountError as error:
                form.email.errors.append(str(error))
            else:
                flash(
                    _("%(name)s is now a member of %(organisation)s.", name=user.name, organisation=organisation.name),
                    "success",
                )
                return redirect(url_for("admin.organisation", organisation_id=organisation.id))
    members = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.organisation_id == organisation.id)
        .order_by(User.name)
    ).all()
    return form_page("admin/organisation.html", form, organisation=organisation, members=members)
